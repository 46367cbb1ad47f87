#!/usr/bin/env python3
"""Fast shedding on the host under test: fill every worker and the listen queue, then time new requests.

Usage: shed.py BASE_URL SLOW_SECONDS PROBES
Holds long requests (BASE_URL/slow?s=SLOW_SECONDS) one by one, 10 ms apart, until one is refused with a 503
(at most 400 held: a queue that never fills is reported, not waited for), then sends PROBES requests to
BASE_URL/ and waits for the long ones to end. Prints one JSON line: how many were held before the first
refusal, each probe's status, Retry-After and seconds, the long requests' statuses, and how their 503s were
answered ("queue": by uWSGI's wrapper, queued past uwsgi_queue_wait_max; "refused": by nginx, the queue was
full), each with the set of Retry-After values seen.
Only loopback URLs are accepted: it runs on the host under test.
"""

from __future__ import annotations

import collections
import concurrent.futures
import http.client
import json
import sys
import time
import urllib.parse

MAX_HELD = 400


def get(url: str, timeout: float) -> tuple[int | None, str | None, float, bytes]:
    """GET on a fresh connection: (status or None on error/timeout, Retry-After header, seconds, body)."""
    parts = urllib.parse.urlsplit(url)
    start = time.monotonic()
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, resp.getheader("Retry-After"), time.monotonic() - start, body
    except (OSError, http.client.HTTPException):
        return None, None, time.monotonic() - start, b""
    finally:
        conn.close()


def main() -> int:
    base, slow_s, probes = sys.argv[1].rstrip("/"), int(sys.argv[2]), int(sys.argv[3])
    if urllib.parse.urlsplit(base).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"refusing non-loopback URL {base}")
    held = []
    refused_at = None
    with concurrent.futures.ThreadPoolExecutor(MAX_HELD) as pool:
        for i in range(MAX_HELD):
            held.append(pool.submit(get, f"{base}/slow?s={slow_s}", 120))
            time.sleep(0.01)
            if any(f.done() and f.result()[0] == 503 for f in held):
                refused_at = i + 1
                break
        answers = [get(base + "/", 5) if refused_at else (None, None, 0.0, b"") for _ in range(probes)]
        results = [f.result() for f in held]
    long_statuses = collections.Counter(str(r[0]) for r in results)
    shed: dict[str, dict] = {}
    for status, retry_after, _, body in results:
        if status == 503:
            kind = shed.setdefault("queue" if b"waited in the queue" in body else "refused",
                                   {"count": 0, "retry_after": []})
            kind["count"] += 1
            if retry_after not in kind["retry_after"]:
                kind["retry_after"].append(retry_after)
    print(json.dumps({
        "held_before_refusal": refused_at,
        "probes": [{"status": s, "retry_after": r, "seconds": round(t, 3)} for s, r, t, _ in answers],
        "long": dict(long_statuses),
        "long_503": shed,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
