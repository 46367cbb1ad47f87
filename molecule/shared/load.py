#!/usr/bin/env python3
"""Steady request load for the stack tests: a few workers, bounded in time and count, JSON summary.

Each worker keeps one keep-alive session to the load balancer (as browsers and SDKs do) and cycles
through the given paths until the duration has passed. Nothing is retried: a lost request is counted.
Usage: load.py URL [--paths / /slow?s=1] [--workers 4] [--duration 10] [--max-requests 2000]
"""

from __future__ import annotations

import argparse
import collections
import json
import threading
import time

import requests


def worker(base: str, paths: list[str], deadline: float, budget: list[int], lock: threading.Lock,
           results: collections.Counter, errors: list[str], timeout: float) -> None:
    """Request paths in turn until the deadline or the shared request budget is used up."""
    session = requests.Session()
    i = 0
    while time.monotonic() < deadline:
        with lock:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        path = paths[i % len(paths)]
        i += 1
        try:
            response = session.get(base + path, timeout=timeout)
            key = str(response.status_code)
            if response.status_code == 200 and not response.content:
                key = "200-empty-body"
        except requests.RequestException as exc:
            key = "error"
            with lock:
                errors.append(f"{path}: {type(exc).__name__}: {exc}"[:300])
        with lock:
            results[key] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--paths", nargs="+", default=["/"])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    results: collections.Counter = collections.Counter()
    errors: list[str] = []
    lock = threading.Lock()
    budget = [args.max_requests]
    deadline = time.monotonic() + args.duration
    threads = [
        threading.Thread(target=worker, args=(args.url.rstrip("/"), args.paths, deadline, budget, lock,
                                              results, errors, args.timeout))
        for _ in range(args.workers)
    ]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(results.values())
    print(json.dumps({
        "total": total,
        "ok": results.get("200", 0),
        "failed": total - results.get("200", 0),
        "by_status": dict(results),
        "errors": errors[:10],
        "seconds": round(time.monotonic() - start, 1),
    }))


if __name__ == "__main__":
    main()
