"""longhaul's demo WSGI app: the requests a long-request deployment must survive.

Entry point for uWSGI: ``app:app``.

- ``/``            hello: which host, release and worker answered (load balancer and reload tests)
- ``/healthz``     200 while the app is up (nginx and the load balancer check it)
- ``/slow?s=N``    sends nothing for N seconds, then answers: the long request the contract is about
- ``/stream?s=N``  one chunk every second for N seconds (never idle for long, unlike /slow)
- ``/cpu?ms=N``    burns N milliseconds of CPU (load for scaling tests)
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

from flask import Flask, Response, jsonify, request

# Upper bounds keep a typo from pinning a worker: an hour of sleep, a minute of CPU.
MAX_SECONDS = 3600
MAX_CPU_MS = 60_000

app = Flask(__name__)

# The release serving this code: the name of the directory above the app's own (releases/<id>/app/app.py),
# so tests can tell which release answered after a switch (realpath: through the current link).
RELEASE = os.path.basename(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def _bounded_int(name: str, default: int, upper: int) -> int:
    """Read query parameter ``name`` as an int in [0, upper]; a bad value is the client's error (400)."""
    raw = request.args.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise _BadParameter(f"{name} must be an integer, got {raw!r}") from None
    if not 0 <= value <= upper:
        raise _BadParameter(f"{name} must be between 0 and {upper}, got {value}")
    return value


class _BadParameter(ValueError):
    pass


@app.errorhandler(_BadParameter)
def _bad_parameter(err: _BadParameter) -> tuple[Response, int]:
    return jsonify(error=str(err)), 400


@app.get("/")
def hello() -> Response:
    return jsonify(message="hello from longhaul", host=socket.gethostname(), release=RELEASE, pid=os.getpid())


@app.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    return "ok\n", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}


@app.get("/slow")
def slow() -> Response:
    seconds = _bounded_int("s", 5, MAX_SECONDS)
    started = time.monotonic()
    time.sleep(seconds)
    return jsonify(slept=seconds, took=round(time.monotonic() - started, 3), host=socket.gethostname())


@app.get("/stream")
def stream() -> Response:
    seconds = _bounded_int("s", 5, MAX_SECONDS)

    def chunks() -> Iterator[str]:
        for i in range(seconds):
            yield f"chunk {i + 1}/{seconds}\n"
            time.sleep(1)
        yield "done\n"

    # X-Accel-Buffering: nginx passes each chunk on at once instead of collecting the whole answer.
    return Response(chunks(), mimetype="text/plain", headers={"X-Accel-Buffering": "no"})


@app.get("/cpu")
def cpu() -> Response:
    ms = _bounded_int("ms", 100, MAX_CPU_MS)
    deadline = time.process_time() + ms / 1000
    rounds = 0
    while time.process_time() < deadline:
        sum(i * i for i in range(1000))
        rounds += 1
    return jsonify(ms=ms, rounds=rounds, host=socket.gethostname())
