"""AiohttpTransport's read timeout: when its clock starts, what it bounds, what it leaves behind.

Real servers on 127.0.0.1: the behaviour lives in the socket (a pool wait, a stalled body).
"""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from aiohttp import web

from vlens_transports import AiohttpTransport, Request, Timeout, TransportTimeout
from vlens_transports._exchange import GRACE, timeout_until

from ..conftest import swallow_a_cancel
from .test_aiohttp import (
    KINDS,
    Serve,
    app_with,
    raw_server,
    read_request_head,
    slow_and_fast_app,
    transport_of,
)


def not_cancelling() -> None:
    """The current task carries no pending cancellation (a stray one breaks later awaits)."""
    if sys.version_info >= (3, 11):
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_no_answer_within_read_is_transport_timeout(serve: Serve, kind: str) -> None:
    """No response within Timeout(read=0.2) raises TransportTimeout, which may have reached."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response(text="too late")

    base = await serve(app_with("/", slow))
    async with transport_of(kind) as transport:
        with pytest.raises(TransportTimeout) as caught:
            await transport.send(Request(method="GET", url=f"{base}/", timeout=Timeout(read=0.2)))
        not_cancelling()
    assert type(caught.value) is TransportTimeout
    assert caught.value.may_have_reached_server is True
    assert str(caught.value).startswith("GET /: ")
    assert "read timeout" in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
async def test_waiting_for_a_pooled_connection_is_not_read_time(serve: Serve, kind: str) -> None:
    """A send queued behind the pool's only connection for longer than its read timeout, and
    answered at once when it gets it, succeeds: the clock starts when the request is written."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/hold":
            holding.set()
            await release.wait()
        return web.Response(text=request.path)

    app = app_with("/hold", handler)
    app.router.add_get("/quick", handler)
    base = await serve(app)
    async with transport_of(kind, limit=1) as transport:
        holder = asyncio.create_task(transport.send(Request(method="GET", url=f"{base}/hold")))
        await asyncio.wait_for(holding.wait(), 5)  # the holder has the pool's one connection
        queued = asyncio.create_task(
            transport.send(Request(method="GET", url=f"{base}/quick", timeout=Timeout(read=0.3)))
        )
        await asyncio.sleep(0.6)  # twice the queued send's read timeout, spent in the pool
        assert not queued.done()
        release.set()
        assert (await holder).content == b"/hold"
        assert (await queued).content == b"/quick"


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers with a 20-byte body, a byte every 50 ms (1 s in all)."""
    await read_request_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n")
    for _ in range(20):
        await asyncio.sleep(0.05)
        writer.write(b"x")
        await writer.drain()


async def test_the_read_timeout_is_the_longest_wait_for_the_next_chunk() -> None:
    """A body arriving a byte every 50 ms (1 s in all) is read in full at read=0.5: the read
    timeout bounds each wait for data (aiohttp's sock_read), not the whole response."""
    async with raw_server(trickle) as base, AiohttpTransport() as transport:
        request = Request(method="GET", url=f"{base}/", timeout=Timeout(read=0.5))
        response = await transport.send(request)
        assert response.content == b"x" * 20
        not_cancelling()


async def test_the_deadline_bounds_a_trickling_body() -> None:
    """The same trickle ends in TransportTimeout when the deadline comes first."""
    async with raw_server(trickle) as base, AiohttpTransport() as transport:
        request = Request(method="GET", url=f"{base}/", deadline=time.monotonic() + 0.5)
        with pytest.raises(TransportTimeout, match="before the deadline"):
            await transport.send(request)
        not_cancelling()


async def test_after_a_read_timeout_the_transport_works_and_holds_nothing(serve: Serve) -> None:
    """A timed-out send leaves no pending cancel and a usable transport."""
    base = await serve(slow_and_fast_app())
    async with AiohttpTransport() as transport:
        timeout = Timeout(read=0.2)
        with pytest.raises(TransportTimeout):
            await transport.send(Request(method="GET", url=f"{base}/slow", timeout=timeout))
        not_cancelling()
        response = await transport.send(Request(method="GET", url=f"{base}/fast", timeout=timeout))
        assert response.content == b"/fast"
        not_cancelling()


async def test_read_spans_are_timed_separately(serve: Serve) -> None:
    """A short read timeout fires on time while a longer one's send is still in flight."""

    arrived, release = asyncio.Event(), asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/patient":
            arrived.set()
            await release.wait()  # answered only once the short timeout has been seen
        else:
            await asyncio.sleep(10)
        return web.Response(text=request.path)

    app = app_with("/patient", handler)
    app.router.add_get("/short", handler)
    base = await serve(app)
    async with AiohttpTransport() as transport:
        patient = asyncio.create_task(
            transport.send(Request(method="GET", url=f"{base}/patient", timeout=Timeout(read=5)))
        )
        await asyncio.wait_for(arrived.wait(), 5)
        with pytest.raises(TransportTimeout):
            await transport.send(
                Request(method="GET", url=f"{base}/short", timeout=Timeout(read=0.2))
            )
        assert not patient.done()  # the short timeout did not wait for the long one's timer
        release.set()
        assert (await patient).content == b"/patient"


async def test_callers_own_timeout_is_not_a_read_timeout(serve: Serve) -> None:
    """The caller's asyncio timeout ends a send with TimeoutError, not TransportTimeout."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response(text="too late")

    base = await serve(app_with("/", slow))
    async with AiohttpTransport() as transport:
        request = Request(method="GET", url=f"{base}/", timeout=Timeout(read=5))
        with pytest.raises(asyncio.TimeoutError) as caught:  # TimeoutError from Python 3.11
            await asyncio.wait_for(transport.send(request), 0.2)
        assert not isinstance(caught.value, TransportTimeout)
        not_cancelling()


async def test_a_read_timeout_after_a_swallowed_cancel_is_still_a_timeout(serve: Serve) -> None:
    """A task that once caught a cancel still gets TransportTimeout, not CancelledError."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response(text="too late")

    base = await serve(app_with("/", slow))
    await swallow_a_cancel()
    async with AiohttpTransport() as transport:
        with pytest.raises(TransportTimeout):
            await transport.send(Request(method="GET", url=f"{base}/", timeout=Timeout(read=0.2)))


def test_a_read_limit_the_deadline_makes_moot_is_not_given_to_aiohttp() -> None:
    """aiohttp resets its sock_read timer on every chunk; a limit that cannot fall due before
    the deadline is left out (the deadline's own timer ends the exchange first)."""
    soon = time.monotonic() + 5.0
    moot = timeout_until(Timeout(read=30.0), soon)
    assert moot is not None
    assert moot.sock_read is None
    assert moot.total is not None
    assert 4.0 < moot.total <= 5.0 + GRACE  # the time left, plus the grace
    kept = timeout_until(Timeout(read=1.0), soon)
    assert kept is not None
    assert kept.sock_read == 1.0
    assert timeout_until(Timeout(read=None), soon) is not None
    assert timeout_until(Timeout(), time.monotonic() - 1.0) is None  # already past
