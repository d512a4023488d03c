"""RedisRateLimiter when Redis ran a request for permits but its reply was lost: the callers
get RateLimiterUnavailableError (nothing sent), and the permits Redis granted them must not
hold the shared budget until their lease runs out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio

from vlens_async import RateLimiterUnavailableError
from vlens_async import _redis_scripts as scripts
from vlens_async.redis import RedisRateLimiter

from .server import RedisServer

HANG_GUARD = 30.0


class _LoseOneReply:
    """A TCP proxy in front of Redis: the first command containing ``marker`` is run by Redis,
    then its reply is dropped and that connection closed; everything else passes."""

    def __init__(self, upstream: int, marker: bytes) -> None:
        self.upstream, self.marker = upstream, marker
        self.lost = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        back = asyncio.ensure_future(self._copy(up_reader, writer))
        self.tasks.add(back)
        try:
            while chunk := await reader.read(65536):
                if self.marker in chunk and not self.lost:
                    self.lost += 1
                    back.cancel()  # its reply is not passed on
                    await asyncio.gather(back, return_exceptions=True)
                    up_writer.write(chunk)
                    await up_writer.drain()
                    await up_reader.read(65536)  # Redis ran the command and answered
                    break
                up_writer.write(chunk)
                await up_writer.drain()
        finally:
            back.cancel()
            writer.transport.abort()
            up_writer.transport.abort()

    @staticmethod
    async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()


@contextlib.asynccontextmanager
async def _proxy(upstream: int, marker: bytes) -> AsyncIterator[tuple[_LoseOneReply, int]]:
    proxy = _LoseOneReply(upstream, marker)
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    try:
        yield proxy, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in proxy.tasks:
            task.cancel()
        await asyncio.gather(*proxy.tasks, return_exceptions=True)
        await server.wait_closed()


async def test_permits_granted_in_a_lost_reply_do_not_hold_the_budget(
    redis_server: RedisServer, name: str
) -> None:
    """At 1/s, Redis grants a permit but the reply is lost: the caller gets
    RateLimiterUnavailableError and sends nothing. That permit stayed in flight, so the whole
    budget (of every process sharing it) was held until its 60 s lease ran out. Now the
    limiter's next request to Redis gives it back: the next caller gets a permit at once."""
    async with redis.asyncio.Redis.from_url(redis_server.url) as client:
        await client.script_load(scripts.ACQUIRE)  # the first EVALSHA is then the request
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)
        raise asyncio.CancelledError  # a wait at all is the failure; no need to sit it out

    async with _proxy(redis_server.port, name.encode()) as (proxy, port):
        url = f"redis://127.0.0.1:{port}/0"
        limiter = RedisRateLimiter(url, key=name, limits=["1/s"], sleep=no_sleep)

        async def calls() -> None:
            with pytest.raises(RateLimiterUnavailableError):
                async with limiter:
                    pytest.fail("a permit whose reply was lost was used")
            async with limiter:
                pass

        try:
            await asyncio.wait_for(calls(), HANG_GUARD)
        finally:
            await limiter.aclose()
    async with redis.asyncio.Redis.from_url(redis_server.url) as client:
        flying = await client.zcard(f"vlens:rate:{{{name}}}:flight")
        ended = await client.zcard(f"vlens:rate:{{{name}}}:ends")
    assert proxy.lost == 1
    assert waits == []
    assert (flying, ended, limiter.granted) == (0, 1, 1)


async def _end_while_redis_restarts(limiter: RedisRateLimiter, server: RedisServer) -> None:
    """One call whose permit ends while Redis is stopped, so that its end cannot be written;
    then Redis is started again, with its data."""
    async with limiter:
        await asyncio.to_thread(server.stop)  # the call's answer comes meanwhile
    flusher = limiter._flusher
    assert flusher is not None
    await asyncio.wait({flusher})  # the end could not be written
    await asyncio.to_thread(server.start)


async def test_permits_whose_end_could_not_be_written_are_ended_once_redis_is_back(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis restarts (with its data) while a call holds a permit: the permit's end cannot be
    written. It was dropped, so the permit stayed in flight until its 60 s lease ended and
    held the budget (of every process sharing it) meanwhile. Now its end is written with the
    limiter's next request: once the window after that end has passed, the next caller gets
    a permit at once."""
    server = RedisServer(tmp_path, durable=True)
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)
        raise asyncio.CancelledError  # a wait at all is the failure; no need to sit it out

    limiter = RedisRateLimiter(server.url, key=name, limits=["1/0.1s"], sleep=no_sleep)

    async def calls() -> None:
        await _end_while_redis_restarts(limiter, server)
        await asyncio.sleep(0.15)  # the window after the end has passed
        async with limiter:
            pass

    try:
        await asyncio.wait_for(calls(), HANG_GUARD)
    finally:
        await limiter.aclose()
        server.stop()
    assert "could not end 1 permit" in caplog.text
    assert waits == []
    assert limiter.granted == 2


async def test_an_end_that_could_not_be_written_is_written_at_close(
    tmp_path: Path, name: str
) -> None:
    """The last call's end could not be written (Redis restarting); the process then closes
    its limiter. The end was never written, so the permit held the budget of every other
    process until its lease ran out. aclose() now writes it."""
    server = RedisServer(tmp_path, durable=True)
    limiter = RedisRateLimiter(server.url, key=name, limits=["1/s"])
    try:
        await asyncio.wait_for(_end_while_redis_restarts(limiter, server), HANG_GUARD)
        await asyncio.wait_for(limiter.aclose(), HANG_GUARD)
        async with redis.asyncio.Redis.from_url(server.url) as client:
            flying = await client.zcard(f"vlens:rate:{{{name}}}:flight")
            ended = await client.zcard(f"vlens:rate:{{{name}}}:ends")
    finally:
        await limiter.aclose()
        server.stop()
    assert (flying, ended) == (0, 1)
