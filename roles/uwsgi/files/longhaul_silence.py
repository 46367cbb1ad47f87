"""WSGI wrapper that makes uWSGI's harakiri measure a request's silence, not its total duration.

longhaul's contract defines T as the longest a request may run without sending a byte. uWSGI's global
``harakiri`` option bounds the whole request, so a stream that sends a chunk every second would still be
killed at harakiri, long before the LB's idle timer (which data resets) would cut it. This wrapper uses
uWSGI's per-worker *user* harakiri instead (``uwsgi.set_user_harakiri(seconds)``, 0 disarms; the master kills
the worker when it expires and logs the usual HARAKIRI lines): it arms the timer when the request starts,
re-arms it each time the response yields a chunk, and disarms it when the response is closed.

Configured through the environment (``env =`` lines of the uWSGI ini, read when the master imports this
module):

- ``LONGHAUL_UWSGI_APP``: the real WSGI entry point, ``module:callable`` (callable defaults to ``application``);
- ``LONGHAUL_UWSGI_HARAKIRI``: seconds of silence after which the worker is killed (the contract's harakiri).
"""

from __future__ import annotations

import ctypes
import importlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import uwsgi  # only importable inside uWSGI (the tests provide a fake)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def setting(name: str) -> str:
    """A variable of the process environment, including those set by the ini's ``env =`` lines.

    pyuwsgi starts the Python VM before uWSGI parses its options, so ``os.environ`` (a snapshot taken at VM
    start) misses what ``env =`` put into the C environment; ask libc for those (seen with pyuwsgi 2.0.30).
    """
    value = os.environ.get(name)
    if value is None:
        libc_getenv = ctypes.CDLL(None).getenv
        libc_getenv.restype = ctypes.c_char_p
        raw = libc_getenv(name.encode())
        value = raw.decode() if raw is not None else None
    if value is None:
        raise KeyError(f"{name} is not set: the uWSGI ini must set it (env = {name}=...)")
    return value


def load_app(spec: str) -> WSGIApp:
    """Import ``module:callable`` (``module`` alone means ``module:application``), as uWSGI's ``module`` does."""
    module_name, _, attribute = spec.partition(":")
    if not module_name:
        raise ValueError(f"LONGHAUL_UWSGI_APP={spec!r}: expected module:callable")
    return getattr(importlib.import_module(module_name), attribute or "application")


def harakiri_seconds(value: str) -> int:
    """The silence allowed, seconds; refuses 0 or less, which would disarm harakiri for good."""
    seconds = int(value)
    if seconds < 1:
        raise ValueError(f"LONGHAUL_UWSGI_HARAKIRI={value!r}: must be 1 or more seconds")
    return seconds


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


def wrap(app: WSGIApp, seconds: int) -> WSGIApp:
    """A WSGI app that runs ``app`` with user harakiri = ``seconds`` of silence."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        uwsgi.set_user_harakiri(seconds)
        try:
            inner = app(environ, start_response)
        except BaseException:
            uwsgi.set_user_harakiri(0)
            raise
        return SilenceTimed(inner, seconds)

    return application


application = wrap(load_app(setting("LONGHAUL_UWSGI_APP")), harakiri_seconds(setting("LONGHAUL_UWSGI_HARAKIRI")))
