"""A transport closed while others still use it: every call ends at once, final, never retried.

An ``AiohttpTransport`` may be shared by several clients (each borrows it). When it is closed,
sends in flight and later sends end in ``TransportClosed``, which the SDK turns into
``ClientClosedError`` (or ``OutcomeUnknownError`` for an effect whose request may have been
written), instead of a bare ``RuntimeError`` after retries.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from vlens_async import ClientClosedError, OutcomeUnknownError, RetryPolicy, VlensClient
from vlens_transports import AiohttpTransport, Request, Response, TransportClosed

from .test_aiohttp import Serve, app_with

PHONES = [f"+2010012345{n:02d}" for n in range(4)]


class CountingTransport(AiohttpTransport):
    """Counts the sends it is asked for: a retry would be one more."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit=limit)
        self.sends = 0

    async def send(self, request: Request) -> Response:
        self.sends += 1
        return await super().send(request)


async def test_calls_on_a_shared_transport_closed_mid_flight_end_final_and_unretried(
    serve: Serve,
) -> None:
    """Two clients share a transport (pool of 2): an effect and a read are written and held
    by the server, a third call waits for the pool; the transport is closed. The written
    effect is outcome unknown, the read and the queued call ClientClosedError, none retried;
    a later call sends nothing and is ClientClosedError too."""
    arrived: list[str] = []
    both = asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        arrived.append(request.path)
        if len(arrived) == 2:
            both.set()
        await asyncio.Event().wait()  # answered never: the server shutdown ends it
        raise AssertionError("unreachable")

    base = await serve(app_with("/{tail:.*}", hold))
    transport = CountingTransport(limit=2)
    retry = RetryPolicy.no_wait(5)
    first = VlensClient("key", base_url=base, transport=transport, retry=retry)
    second = VlensClient("key", base_url=base, transport=transport, retry=retry)
    calls = [
        asyncio.create_task(first.registration.send_phone_otp(PHONES[0])),
        asyncio.create_task(second.registration.check_existence(PHONES[1])),
    ]
    await asyncio.wait_for(both.wait(), 5)
    calls.append(asyncio.create_task(second.registration.send_phone_otp(PHONES[2])))
    await asyncio.sleep(0)  # the third call reaches the pool (if not, it is refused: the same)
    await transport.aclose()
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
    assert [type(result) for result in results] == [
        OutcomeUnknownError,
        ClientClosedError,
        ClientClosedError,
    ]
    assert transport.sends == 3  # no retries
    with pytest.raises(ClientClosedError, match="closed"):
        await first.registration.check_existence(PHONES[3])
    assert transport.sends == 4
    assert len(arrived) == 2
    await first.aclose()
    await second.aclose()


async def test_transport_closed_says_whether_the_request_may_have_reached(serve: Serve) -> None:
    """A send refused by a closed transport is TransportClosed that certainly did not reach
    the server (and still a RuntimeError, as before); one cut short after it was written
    may have reached it."""
    written = asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        written.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    base = await serve(app_with("/", hold))
    transport = AiohttpTransport()
    in_flight = asyncio.create_task(transport.send(Request(method="POST", url=f"{base}/")))
    await asyncio.wait_for(written.wait(), 5)
    await transport.aclose()
    cut = (await asyncio.gather(in_flight, return_exceptions=True))[0]
    assert isinstance(cut, TransportClosed)
    assert cut.may_have_reached_server is True
    with pytest.raises(TransportClosed) as refused:
        await transport.send(Request(method="POST", url=f"{base}/"))
    assert refused.value.may_have_reached_server is False
    assert isinstance(refused.value, RuntimeError)
