"""Launcher: apply the patches in-process, then serve moto on a loopback port.

Usage: python -m localcloud.moto [--host 127.0.0.1] [--port 0]
Prints one line ``listening http://HOST:PORT`` once the server accepts requests (port 0 = a free port),
then serves until SIGTERM/SIGINT. ``POST /moto-api/reset`` empties every backend between tests.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from localcloud.moto.patches import apply_all


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, patch moto, serve until a termination signal."""
    parser = argparse.ArgumentParser(prog="python -m localcloud.moto", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default 0)")
    args = parser.parse_args(argv)

    applied = apply_all()
    # Imported after patching so the server's backends are built from the patched classes.
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"patches {','.join(applied)}", flush=True)
    print(f"listening http://{host}:{port}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
