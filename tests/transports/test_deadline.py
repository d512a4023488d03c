"""Request.deadline: the transport decides what it means by whether the request was written.

Real servers on 127.0.0.1 for AiohttpTransport (the pool wait and the write live in the socket),
and a FakeTransport handler for the in-memory twin.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from vlens_transports import (
    AiohttpTransport,
    ConnectError,
    FakeTransport,
    Request,
    Response,
    Timeout,
    TransportClosed,
    TransportTimeout,
)

from .test_aiohttp import KINDS, Serve, app_with, transport_of


async def serve_held(
    serve: Serve, arrived: list[str], release: asyncio.Event
) -> tuple[str, asyncio.Event]:
    """Serve an app noting every request on arrival, then answering once ``release`` is set;
    returns the base URL and an event set when the first request arrives."""
    first = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        arrived.append(request.path)
        first.set()
        await release.wait()
        return web.Response(text=request.path)

    return await serve(app_with("/{name}", handler)), first


# The deadline of a request that must be written (or handed to a handler) before it passes:
# far beyond a loopback connect and write, which a starved CI loop can delay by tenths of a
# second. The tests that hold such a request wait it out.
WRITTEN_BY = 1.0


def within(seconds: float) -> float:
    """A deadline ``seconds`` from now."""
    return time.monotonic() + seconds


@pytest.mark.parametrize("kind", KINDS)
async def test_a_passed_deadline_sends_nothing(serve: Serve, kind: str) -> None:
    """A request whose deadline has already passed is not sent: ConnectError, server unaware."""
    arrived: list[str] = []
    base, _ = await serve_held(serve, arrived, asyncio.Event())
    async with transport_of(kind) as transport:
        with pytest.raises(ConnectError, match="deadline passed before it was sent"):
            await transport.send(Request(method="POST", url=f"{base}/late", deadline=within(-1)))
    assert arrived == []


@pytest.mark.parametrize("kind", KINDS)
async def test_written_or_queued_decides_the_error_at_the_deadline(serve: Serve, kind: str) -> None:
    """limit=1: the request holding the connection times out as TransportTimeout (written),
    the two queued behind it as ConnectError (never written: aiohttp's connect timer, set to
    the time left, fires before its total timer); the server saw one request. An owned and a
    borrowed session follow the same rule."""
    arrived: list[str] = []
    release = asyncio.Event()
    base, came = await serve_held(serve, arrived, release)
    async with transport_of(kind, limit=1) as transport:
        deadline = within(WRITTEN_BY)
        first = asyncio.create_task(
            transport.send(Request(method="POST", url=f"{base}/first", deadline=deadline))
        )
        await asyncio.wait_for(came.wait(), 5)
        queued = [
            asyncio.create_task(
                transport.send(Request(method="POST", url=f"{base}/{name}", deadline=deadline))
            )
            for name in ("second", "third")
        ]
        results = await asyncio.gather(first, *queued, return_exceptions=True)
        release.set()
    assert [type(result) for result in results] == [TransportTimeout, ConnectError, ConnectError]
    assert "before the deadline" in str(results[0])
    assert arrived == ["/first"]


async def test_the_deadline_cuts_a_longer_read_timeout(serve: Serve) -> None:
    """With read=30 and a deadline WRITTEN_BY away, the written request ends at the deadline."""
    arrived: list[str] = []
    base, _ = await serve_held(serve, arrived, asyncio.Event())
    async with AiohttpTransport() as transport:
        request = Request(
            method="POST",
            url=f"{base}/slow",
            timeout=Timeout(read=30),
            deadline=within(WRITTEN_BY),
        )
        with pytest.raises(TransportTimeout, match="before the deadline"):
            await asyncio.wait_for(transport.send(request), 5)
    assert arrived == ["/slow"]


async def test_a_borrowed_session_counts_a_late_deadline_as_maybe_written(serve: Serve) -> None:
    """A borrowed session's written request meeting the deadline is a TransportTimeout (may
    have reached), never a not-sent error."""
    arrived: list[str] = []
    base, _ = await serve_held(serve, arrived, asyncio.Event())
    async with transport_of("borrowed") as transport:
        request = Request(method="POST", url=f"{base}/slow", deadline=within(WRITTEN_BY))
        with pytest.raises(TransportTimeout) as caught:
            await transport.send(request)
    assert caught.value.may_have_reached_server is True


@pytest.mark.parametrize("kind", KINDS)
async def test_cancelling_a_send_is_never_an_error_and_frees_the_connection(
    serve: Serve, kind: str
) -> None:
    """The caller's own cancel propagates as CancelledError, and the pool's only connection is
    free again for the next send."""
    arrived: list[str] = []
    release = asyncio.Event()
    base, came = await serve_held(serve, arrived, release)
    async with transport_of(kind, limit=1) as transport:
        task = asyncio.create_task(
            transport.send(Request(method="POST", url=f"{base}/held", deadline=within(30)))
        )
        await asyncio.wait_for(came.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        request = Request(method="POST", url=f"{base}/next", timeout=Timeout(pool=2))
        assert (await transport.send(request)).content == b"/next"


async def test_aclose_ends_sends_in_flight_by_how_far_they_got(serve: Serve) -> None:
    """aclose() with one request written and one queued: both end in TransportClosed, the
    written one may have reached the server, the queued one was not sent."""
    arrived: list[str] = []
    base, came = await serve_held(serve, arrived, asyncio.Event())
    transport = AiohttpTransport(limit=1)
    written = asyncio.create_task(transport.send(Request(method="POST", url=f"{base}/written")))
    await asyncio.wait_for(came.wait(), 5)
    queued = asyncio.create_task(transport.send(Request(method="POST", url=f"{base}/queued")))
    await asyncio.sleep(0.05)
    await transport.aclose()
    results = await asyncio.wait_for(asyncio.gather(written, queued, return_exceptions=True), 5)
    assert [type(result) for result in results] == [TransportClosed, TransportClosed]
    assert [result.may_have_reached_server for result in results] == [True, False]  # type: ignore[union-attr]
    assert all("closed" in str(result) for result in results)
    assert arrived == ["/written"]


# -- FakeTransport: the same rule in memory ------------------------------------------------------


async def test_fake_transport_enforces_the_deadline_like_the_real_one() -> None:
    """A passed deadline is not handed to the handler (ConnectError, nothing recorded); a
    handler still running at the deadline is cancelled and the send is TransportTimeout."""
    cancelled: list[str] = []

    async def hang(request: Request) -> Response:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(request.url)
            raise
        raise AssertionError("unreachable")

    transport = FakeTransport(hang)
    with pytest.raises(ConnectError):
        await transport.send(Request(method="POST", url="http://x/late", deadline=within(-1)))
    assert transport.requests == []
    slow = Request(method="POST", url="http://x/slow", deadline=within(WRITTEN_BY))
    with pytest.raises(TransportTimeout, match="before the deadline"):
        await transport.send(slow)
    assert [request.url for request in transport.requests] == ["http://x/slow"]
    assert cancelled == ["http://x/slow"]


async def test_fake_transport_lets_a_handlers_own_timeout_error_through() -> None:
    """A TimeoutError the handler raises itself is not taken for the deadline."""

    async def fails(request: Request) -> Response:
        raise TimeoutError("the handler's own")

    with pytest.raises(TimeoutError, match="the handler's own"):
        await FakeTransport(fails).send(
            Request(method="POST", url="http://x/", deadline=within(30))
        )


async def test_fake_transport_leaves_the_deadline_to_a_handler_that_keeps_it() -> None:
    """With ``handler_keeps_deadline=True`` no timer cuts the handler (the sandbox ends its own
    waits); a deadline passed before the send is still not handed to it."""

    async def slow(request: Request) -> Response:
        assert request.deadline is not None
        await asyncio.sleep(request.deadline - time.monotonic() + 0.05)  # past the deadline
        return Response(status=200, content=b"late")

    transport = FakeTransport(slow, handler_keeps_deadline=True)
    with pytest.raises(ConnectError):
        await transport.send(Request(method="POST", url="http://x/late", deadline=within(-1)))
    request = Request(method="POST", url="http://x/", deadline=within(WRITTEN_BY))
    response = await transport.send(request)
    assert response.content == b"late"
