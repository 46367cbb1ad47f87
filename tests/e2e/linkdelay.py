#!/usr/bin/env python3
"""A TCP relay that adds a one-way delay to a link, in both directions, including its FIN.

Between an AWS load balancer and its targets a packet takes some time; that is the window of the
keep-alive race (the target closes an idle connection while the LB's next request is on the wire).
Between two local containers the window is microseconds and netem is not always available, so the
e2e tests put this relay on the LB host between HAProxy and a target: everything (data and close)
arrives DELAY seconds after it was sent, as on a real link. Standard library only (it runs inside
the local cloud hosts with the system python3).

Usage: linkdelay.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS [LISTEN_PORT TARGET_HOST TARGET_PORT ...]
"""

from __future__ import annotations

import asyncio
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy bytes, each chunk DELAY after it was read; EOF and errors travel with the same delay."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def sender() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if chunk is None:
                # The peer's close reaches the other side only now: until then it may still send.
                writer.close()
                return
            try:
                writer.write(chunk)
                await writer.drain()
            except (ConnectionError, OSError):
                writer.close()
                return

    task = asyncio.create_task(sender())
    try:
        while True:
            chunk = await reader.read(65536)
            queue.put_nowait((loop.time() + delay, chunk or None))
            if not chunk:
                break
    except (ConnectionError, OSError):
        queue.put_nowait((loop.time() + delay, None))
    await task


async def serve(listen_port: int, host: str, port: int, delay: float) -> asyncio.AbstractServer:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, target_writer, delay), pipe(target_reader, client_writer, delay))

    return await asyncio.start_server(handle, "127.0.0.1", listen_port)


async def main(argv: list[str]) -> None:
    if len(argv) < 4 or len(argv) % 4:
        sys.exit(__doc__)
    servers = []
    for i in range(0, len(argv), 4):
        listen_port, host, port, delay_ms = argv[i:i + 4]
        servers.append(await serve(int(listen_port), host, int(port), int(delay_ms) / 1000))
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
