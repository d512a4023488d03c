"""Redis that stops right after it ran one command, before its reply reaches the client.

Run as ``python -m tests.redis.reply_cutter UPSTREAM_PORT MARKER``: a TCP proxy on a free port
in front of the Redis on UPSTREAM_PORT (it prints the port, then serves). The first request
containing MARKER is passed on and run by Redis; its reply is dropped, every connection is
closed and the proxy exits: to its clients, Redis went away with that command's outcome
unknown, although it ran.
"""

from __future__ import annotations

import asyncio
import sys


class _Cutter:
    def __init__(self, upstream: int, marker: bytes) -> None:
        self.upstream, self.marker = upstream, marker
        self.done = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self.writers += [writer, up_writer]
        cut = asyncio.Event()  # the marked request was passed on: drop its reply, then stop
        replies = asyncio.ensure_future(self._replies(up_reader, writer, cut))
        try:
            while chunk := await reader.read(65536):
                if self.marker in chunk:
                    cut.set()  # before it is passed on: its reply comes after
                up_writer.write(chunk)
                await up_writer.drain()
                if cut.is_set():
                    await replies  # until Redis has answered (the command ran)
                    self.done.set()
                    return
        except ConnectionError:
            pass
        finally:
            replies.cancel()

    async def _replies(
        self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cut: asyncio.Event
    ) -> None:
        while chunk := await up_reader.read(65536):
            if cut.is_set():
                return  # the marked command's reply: never handed on
            writer.write(chunk)
            await writer.drain()


async def main(upstream: int, marker: bytes) -> None:
    cutter = _Cutter(upstream, marker)
    server = await asyncio.start_server(cutter.serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await cutter.done.wait()
    server.close()
    for writer in cutter.writers:
        writer.transport.abort()  # at once: no reply still buffered gets out


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2].encode()))
