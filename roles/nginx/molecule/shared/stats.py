#!/usr/bin/env python3
"""uWSGI's stats socket, summed up for the verify: how many workers, and the set of their states.

Usage: stats.py [SOCKET]   (default /run/longhaul/stats.sock)
Prints one JSON line: {"workers": N, "statuses": ["busy", "idle", ...]} (statuses sorted, each once).
"""

from __future__ import annotations

import json
import socket
import sys


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/run/longhaul/stats.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        data = b"".join(iter(lambda: sock.recv(65536), b""))
    workers = json.loads(data)["workers"]
    print(json.dumps({"workers": len(workers), "statuses": sorted({w["status"] for w in workers})}))


if __name__ == "__main__":
    main()
