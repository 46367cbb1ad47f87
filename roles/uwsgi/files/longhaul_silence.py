"""WSGI wrapper in front of the app: sheds requests that waited too long in uWSGI's listen queue, and makes
uWSGI's harakiri measure a request's silence, not its total duration.

Queue wait. nginx's uwsgi_read_timeout starts when nginx hands a request to uWSGI, harakiri only when a worker
takes it; in between the request waits in the listen queue while every worker is busy. A request that waited
longer than the contract's ``uwsgi_queue_wait_max`` could still run until harakiri, past nginx's read timeout:
nginx would answer 504 while the app keeps working, and the app's late write would die with a broken pipe.
nginx passes the time it handed the request over as the uwsgi param ``LONGHAUL_NGINX_START`` (``$msec``; a
param, not an HTTP header, so a client cannot set it); a request that waited longer than the budget is
answered at once with 503 and Retry-After, without calling the app. Without the param (uWSGI reached by
something else than longhaul's nginx) or with a value that is not a time, nothing is checked.

A request handed over before this uWSGI generation was ready (before the master imported this module, at
start and at every graceful reload) is not checked: during a graceful reload new requests wait in the queue
while the busy workers finish (up to worker-reload-mercy), and they are served afterwards, as before, so a
reload loses no request. Such a request keeps the risk the budget removes elsewhere: if it waited through a
long reload and then itself runs for nearly T, nginx may answer 504.

Silence. longhaul's contract defines T as the longest a request may run without sending a byte. uWSGI's global
``harakiri`` option bounds the whole request, so a stream that sends a chunk every second would still be
killed at harakiri, long before the LB's idle timer (which data resets) would cut it. This wrapper uses
uWSGI's per-worker *user* harakiri instead (``uwsgi.set_user_harakiri(seconds)``, 0 disarms; the master kills
the worker when it expires and logs the usual HARAKIRI lines): it arms the timer when the request starts,
re-arms it each time the response yields a chunk, and disarms it when the response is closed.

Configured through the environment (``env =`` lines of the uWSGI ini, read once, when the master imports
this module):

- ``LONGHAUL_UWSGI_APP``: the real WSGI entry point, ``module:callable`` (callable defaults to ``application``);
- ``LONGHAUL_UWSGI_HARAKIRI``: seconds of silence after which the worker is killed (the contract's harakiri),
  or ``global`` (uwsgi_harakiri_mode total: uWSGI's global harakiri option times the whole request and the
  wrapper only checks the queue wait);
- ``LONGHAUL_UWSGI_QUEUE_WAIT_MAX``: seconds a request may wait in the listen queue (the contract's
  uwsgi_queue_wait_max);
- ``LONGHAUL_UWSGI_RETRY_AFTER``: the shed 503's Retry-After, seconds (the contract's nginx_shed_retry_after;
  0: no Retry-After header).
"""

from __future__ import annotations

import ctypes
import importlib
import os
from collections.abc import Callable, Iterable, Iterator
from time import time
from typing import Any

import uwsgi  # only importable inside uWSGI (the tests provide a fake)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The uwsgi param nginx sets to $msec (seconds since the epoch, with milliseconds) when it hands a request over.
START_PARAM = "LONGHAUL_NGINX_START"
# LONGHAUL_UWSGI_HARAKIRI value of uwsgi_harakiri_mode total: the global harakiri option times the request.
GLOBAL_HARAKIRI = "global"
_INFINITY = float("inf")


def setting(name: str) -> str:
    """A variable of the process environment as the ini's ``env =`` lines left it.

    Asks libc first: pyuwsgi starts the Python VM before uWSGI parses its options, so ``os.environ`` (a snapshot
    taken at VM start) misses what ``env =`` put into the C environment (seen with pyuwsgi 2.0.30); and after a
    graceful reload (the master re-executes itself with its environment) the snapshot holds the previous
    config's values, which ``env =`` has overwritten only in the C environment. ``os.environ`` is the fallback.
    """
    libc_getenv = ctypes.CDLL(None).getenv
    libc_getenv.restype = ctypes.c_char_p
    raw = libc_getenv(name.encode())
    value = raw.decode() if raw is not None else os.environ.get(name)
    if value is None:
        raise KeyError(f"{name} is not set: the uWSGI ini must set it (env = {name}=...)")
    return value


def load_app(spec: str) -> WSGIApp:
    """Import ``module:callable`` (``module`` alone means ``module:application``), as uWSGI's ``module`` does."""
    module_name, _, attribute = spec.partition(":")
    if not module_name:
        raise ValueError(f"LONGHAUL_UWSGI_APP={spec!r}: expected module:callable")
    return getattr(importlib.import_module(module_name), attribute or "application")


def whole_seconds(name: str, value: str, minimum: int) -> int:
    """An integer setting of at least ``minimum`` seconds; anything else stops uWSGI with the name and value."""
    try:
        seconds = int(value)
    except ValueError:
        seconds = None
    if seconds is None or seconds < minimum:
        raise ValueError(f"{name}={value!r}: must be a whole number of seconds, {minimum} or more")
    return seconds


def harakiri_seconds(value: str) -> int | None:
    """The silence allowed, seconds, or None for ``global``; refuses 0 or less, which would disarm harakiri."""
    if value == GLOBAL_HARAKIRI:
        return None
    return whole_seconds("LONGHAUL_UWSGI_HARAKIRI", value, 1)


class SilenceTimed:
    """The response iterable of the wrapped app, re-arming user harakiri at every chunk (PEP 3333 middleware)."""

    def __init__(self, inner: Iterable[bytes], seconds: int) -> None:
        self._inner = inner
        self._iterator: Iterator[bytes] | None = None
        self._seconds = seconds

    def __iter__(self) -> SilenceTimed:
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = iter(self._inner)
        try:
            chunk = next(self._iterator)
        except StopIteration:
            raise
        except BaseException:
            # uWSGI closes the response after an error too, but a worker must never stay armed meanwhile.
            uwsgi.set_user_harakiri(0)
            raise
        # Data was produced: the silence starts again (the write itself is bounded by socket-timeout).
        uwsgi.set_user_harakiri(self._seconds)
        return chunk

    def close(self) -> None:
        """Close the app's iterable when it has close() (PEP 3333), and disarm whatever happens."""
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            uwsgi.set_user_harakiri(0)


def wrap(
    app: WSGIApp,
    seconds: int | None,
    queue_wait_max: int | None = None,
    retry_after: int = 0,
    ready_at: float | None = None,
) -> WSGIApp:
    """A WSGI app that sheds a request queued longer than ``queue_wait_max`` seconds (None: no check) and runs
    ``app`` with user harakiri = ``seconds`` of silence (None: uWSGI's global harakiri times it instead).

    A request nginx handed over before ``ready_at`` (default: now, the import of this module by uWSGI's
    master) waited through a (re)start, and is not checked."""
    # Everything the shed answer needs is built once; a request that passes pays a dict lookup, a float(),
    # a clock read and two comparisons.
    body = (f"overloaded: waited in the queue longer than {queue_wait_max} s"
            + (f", retry after {retry_after} s" if retry_after > 0 else "") + "\n").encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    if retry_after > 0:
        headers.append(("Retry-After", str(retry_after)))
    budget = float(queue_wait_max) if queue_wait_max is not None else _INFINITY
    ready = time() if ready_at is None else ready_at

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start = environ.get(START_PARAM)
        if start is not None:
            try:
                handed = float(start)
            except (TypeError, ValueError):
                handed = 0.0  # not a time: no check
            # Handed over before this generation was ready (or NaN, -inf): no check; +inf waited -inf.
            if ready < handed and time() - handed > budget:
                start_response("503 Service Unavailable", list(headers))
                return [body]
        if seconds is None:
            return app(environ, start_response)
        uwsgi.set_user_harakiri(seconds)
        try:
            inner = app(environ, start_response)
        except BaseException:
            uwsgi.set_user_harakiri(0)
            raise
        return SilenceTimed(inner, seconds)

    return application


application = wrap(
    load_app(setting("LONGHAUL_UWSGI_APP")),
    harakiri_seconds(setting("LONGHAUL_UWSGI_HARAKIRI")),
    whole_seconds("LONGHAUL_UWSGI_QUEUE_WAIT_MAX", setting("LONGHAUL_UWSGI_QUEUE_WAIT_MAX"), 1),
    whole_seconds("LONGHAUL_UWSGI_RETRY_AFTER", setting("LONGHAUL_UWSGI_RETRY_AFTER"), 0),
)
