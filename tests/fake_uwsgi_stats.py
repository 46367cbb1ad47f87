"""A fake uWSGI stats server for the busy-workers publisher's tests: one JSON document per connection, shaped
like pyuwsgi 2.0.30's stats output, on a unix socket."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path


def worker(wid: int, status: str) -> dict:
    """One entry of the stats' workers list, as pyuwsgi 2.0.30 writes it (a busy one is inside a request)."""
    busy = status == "busy"
    return {
        "id": wid, "pid": 2438 + wid, "accepting": 1, "requests": 3, "delta_requests": 3, "exceptions": 0,
        "harakiri_count": 0, "signals": 0, "signal_queue": 0, "status": status, "rss": 0, "vsz": 0,
        "running_time": 1520, "last_spawn": 1795839977, "respawn_count": 1, "tx": 6, "avg_rt": 506,
        "apps": [{"id": 0, "modifier1": 0, "mountpoint": "", "startup_time": 0, "requests": 3, "exceptions": 0,
                  "chdir": ""}],
        "cores": [{"id": 0, "requests": 3, "static_requests": 0, "routed_requests": 0, "offloaded_requests": 0,
                   "write_errors": 0, "read_errors": 0, "in_request": int(busy),
                   "vars": ["REQUEST_METHOD=GET", "REQUEST_URI=/slow", "PATH_INFO=/slow", ""] if busy else [],
                   "req_info": {"request_start": 1795839979} if busy else {}}],
    }


def stats_document(statuses: list[str]) -> bytes:
    return json.dumps({
        "version": "2.0.30", "listen_queue": 0, "listen_queue_errors": 0, "signal_queue": 0, "load": 0,
        "pid": 2430, "uid": 997, "gid": 997, "cwd": "/srv/longhaul/current/app",
        "locks": [{"user 0": 0}, {"signal": 0}, {"filemon": 0}, {"timer": 0}, {"rbtimer": 0}, {"cron": 0},
                  {"rpc": 0}, {"snmp": 0}],
        "sockets": [{"name": "/run/longhaul/uwsgi.sock", "proto": "uwsgi", "queue": 0, "max_queue": 0,
                     "shared": 0, "can_offload": 0}],
        "workers": [worker(wid, status) for wid, status in enumerate(statuses, 1)],
    }).encode()


class StatsServer:
    """uWSGI's stats server: one JSON document per connection, then close. Connection i gets documents[i]
    (the last one repeats)."""

    def __init__(self, path: Path, documents: list[list[str]]) -> None:
        self.path, self.documents, self.connections = str(path), documents, 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                statuses = self.documents[min(self.connections, len(self.documents) - 1)]
                self.connections += 1
                conn.sendall(stats_document(statuses))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
