"""The app's own cost per request: the WSGI callable called directly, no server, no socket.

This is the physical limit of any stack in front of the app: a server can only add to it. Runs on a
benchmark host with the app's venv (same Python, same packages as the servers use) and prints one
JSON line: CPU microseconds per request (best of several batches, process CPU time).

Usage: python inproc.py APP_DIR MODULE CALLABLE [PATH] [REQUESTS]
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterable


def wsgi_environ(path: str) -> dict:
    """A minimal, complete WSGI environ for GET path (PEP 3333), like a server would pass."""
    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "HTTP_USER_AGENT": "wrk",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call_once(app: Callable, base: dict) -> int:
    """One request through the WSGI callable; returns the body length (consumes the iterable)."""
    environ = dict(base)
    environ["wsgi.input"] = io.BytesIO(b"")
    status: list[str] = []

    def start_response(s: str, headers: list, exc_info: object = None) -> Callable[[bytes], None]:
        status.append(s)
        return lambda data: None

    body: Iterable[bytes] = app(environ, start_response)
    try:
        size = sum(len(chunk) for chunk in body)
    finally:
        close = getattr(body, "close", None)
        if close:
            close()
    if not status or not status[0].startswith("200"):
        raise SystemExit(f"the app answered {status} to {base['PATH_INFO']}: not a valid baseline")
    return size


def cost_per_request_us(app: Callable, path: str, requests: int, batches: int = 5) -> float:
    """Best batch's CPU time per request, microseconds (best: the least disturbed by other load)."""
    base = wsgi_environ(path)
    for _ in range(min(requests, 2000)):  # warm-up: imports, caches, routing tables
        call_once(app, base)
    best = float("inf")
    for _ in range(batches):
        start = time.process_time()
        for _ in range(requests):
            call_once(app, base)
        best = min(best, (time.process_time() - start) / requests)
    return best * 1e6


def main(argv: list[str]) -> None:
    app_dir, module, callable_name = argv[1:4]
    path = argv[4] if len(argv) > 4 else "/"
    requests = int(argv[5]) if len(argv) > 5 else 5000
    sys.path.insert(0, app_dir)
    app = getattr(importlib.import_module(module), callable_name)
    us = cost_per_request_us(app, path, requests)
    print(json.dumps({"path": path, "cpu_us_per_request": round(us, 2), "requests_per_batch": requests,
                      "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main(sys.argv)
