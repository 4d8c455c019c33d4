"""The floor: the least a Python RESP server can do per request — uvloop + asyncio.Protocol +
hiredis, answering every command with a constant reply and no dispatch at all. Its CPU per request
under redis-benchmark is what no Python server on this stack can go below.

    python -m benchmarks.floor_server PORT
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import hiredis
import uvloop

PONG = b"+PONG\r\n"


class Floor(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.reader = hiredis.Reader()
        if os.environ.get("FLOOR_NODELAY"):
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        n = 0
        while reader.gets() is not False:
            n += 1
        if n:
            self.transport.write(PONG * n)  # type: ignore[attr-defined]


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Floor, "127.0.0.1", port, backlog=511)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
