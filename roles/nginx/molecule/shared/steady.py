#!/usr/bin/env python3
"""A steady stream of HTTP requests to one local URL, for reload-under-load checks.

Usage: steady.py URL SECONDS [WORKERS]
Sends requests from WORKERS threads, each pausing 20 ms between two, for SECONDS (at most 20000 requests,
each with a 30 s timeout), then prints one JSON line: ok/failed counts, failures by reason, and the releases that answered.
Only loopback URLs are accepted: it runs on the host under test.
"""

from __future__ import annotations

import collections
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

MAX_REQUESTS = 20000
# A steady stream, not a flood: the point is requests in flight during a reload, on a small shared host.
PAUSE = 0.02


def main() -> int:
    url, seconds = sys.argv[1], float(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    if urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"refusing non-loopback URL {url}")
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    counts: collections.Counter[str] = collections.Counter()
    releases: collections.Counter[str] = collections.Counter()

    def run() -> None:
        while time.monotonic() < deadline:
            with lock:
                if counts["ok"] + counts["failed"] >= MAX_REQUESTS:
                    return
            try:
                with urllib.request.urlopen(url, timeout=30) as resp:
                    body = resp.read()
                    status = resp.status
                reason = None if status == 200 else f"status {status}"
            except urllib.error.HTTPError as err:
                reason, body = f"status {err.code}", b""
            except OSError as err:
                reason, body = f"{type(err).__name__}: {err}", b""
            with lock:
                if reason is None:
                    counts["ok"] += 1
                    try:
                        releases[json.loads(body).get("release", "?")] += 1
                    except ValueError:
                        releases["?"] += 1
                else:
                    counts["failed"] += 1
                    counts["reason: " + reason] += 1
            time.sleep(PAUSE)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reasons = {k[8:]: v for k, v in counts.items() if k.startswith("reason: ")}
    print(json.dumps({"ok": counts["ok"], "failed": counts["failed"], "reasons": reasons, "releases": releases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
