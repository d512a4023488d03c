"""Hostile servers at the socket level: raw asyncio servers on 127.0.0.1 that control every byte.

Each test counts the connections the server accepted: an effect call (``send_phone_otp`` texts a
person) is never resent once its request may have been written, so it opens exactly one, whatever
the server does. The pool must survive every failure and every cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import attrs
import pytest

from vlens_async import (
    OutcomeUnknownError,
    RegistrationState,
    RetryPolicy,
    Timeout,
    VlensClient,
    VlensError,
    VlensTimeoutError,
    VlensTransportError,
)
from vlens_transports import AiohttpTransport

from .conftest import API_KEY, HANG_GUARD

PHONE = "+201001234567"
POLICY = RetryPolicy(max_attempts=3, base_delay=0, max_delay=0, deadline=1.0)
TIMEOUT = Timeout(connect=2.0, read=0.2)
BODY = (
    b'{"data":{"phone_number_otp_request_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6"},'
    b'"error_code":null}'
)
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)

Fault = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@attrs.define
class Server:
    """A raw server's base URL, how many connections it accepted, and the X-Request-Id of each
    whole request it read (the same on every attempt of a call)."""

    url: str
    connections: int = 0
    request_ids: list[str] = attrs.Factory(list)


@contextlib.asynccontextmanager
async def raw_server(fault: Fault, *, read_first: bool = True) -> AsyncIterator[Server]:
    """Serve ``fault`` on every connection, after reading one whole request (``read_first``)."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        served.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            if read_first:
                served.request_ids.append(await read_request(reader))
            await fault(reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    served = Server(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        yield served
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> str:
    """Read a request's head and its Content-Length body; returns its X-Request-Id."""
    head = await reader.readuntil(b"\r\n\r\n")
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    await reader.readexactly(int(fields.get(b"content-length", b"0")))
    return fields.get(b"x-request-id", b"").decode()


def reset(writer: asyncio.StreamWriter) -> None:
    """Abort with a TCP RST (SO_LINGER 0) rather than a FIN."""
    writer.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    writer.transport.abort()


def answer(data: bytes, *, close: bool = False) -> Fault:
    """A fault writing ``data``, then closing, or waiting for the client to leave."""

    async def fault(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        if close:
            writer.close()
        else:
            await reader.read()

    return fault


async def reset_fault(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    reset(writer)


async def close_fault(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def drip_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Headers promising a long body, then one byte at a time, each within the read timeout."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.05)


# name: (fault, read the request first, what the effect call becomes)
EFFECT_FAULTS: dict[str, tuple[Fault, bool, type[VlensError] | None]] = {
    "reset after reading": (reset_fault, True, OutcomeUnknownError),
    "close after reading": (close_fault, True, OutcomeUnknownError),
    "reset before reading": (reset_fault, False, OutcomeUnknownError),
    "close before reading": (close_fault, False, OutcomeUnknownError),
    "never read, never answered": (answer(b""), False, OutcomeUnknownError),
    "headers, then the body stalls": (
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"),
        True,
        OutcomeUnknownError,
    ),
    "drip forever": (drip_forever, True, OutcomeUnknownError),
    "content-length longer than the body, then close": (
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + BODY, close=True),
        True,
        OutcomeUnknownError,
    ),
    "broken chunked encoding": (
        answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        True,
        OutcomeUnknownError,
    ),
    "endless header line": (
        answer(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000),
        True,
        OutcomeUnknownError,
    ),
    "not HTTP": (answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), True, OutcomeUnknownError),
    "101 switching protocols": (
        answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"),
        True,
        OutcomeUnknownError,
    ),
    "307 redirect": (
        answer(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"),
        True,
        OutcomeUnknownError,
    ),
    "100 continue, then the answer": (
        answer(b"HTTP/1.1 100 Continue\r\n\r\n" + ANSWER),
        True,
        None,
    ),
    "103 early hints, then the answer": (
        answer(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ANSWER),
        True,
        None,
    ),
    "HTTP/1.0 answer ended by close": (
        answer(b"HTTP/1.0 200 OK\r\n\r\n" + BODY, close=True),
        True,
        None,
    ),
}


def client(url: str, transport: AiohttpTransport | None = None) -> VlensClient:
    """A client with the test's retry policy and timeouts (borrowing ``transport`` if given)."""
    return VlensClient(API_KEY, base_url=url, retry=POLICY, timeout=TIMEOUT, transport=transport)


@pytest.mark.parametrize("name", list(EFFECT_FAULTS))
async def test_an_effect_reaches_a_hostile_server_once(name: str) -> None:
    """Whatever the server does, send_phone_otp opens one connection: it is never resent."""
    fault, read_first, raises = EFFECT_FAULTS[name]
    async with raw_server(fault, read_first=read_first) as server, client(server.url) as vlens:
        outcome: object
        try:
            outcome = await asyncio.wait_for(vlens.registration.send_phone_otp(PHONE), HANG_GUARD)
        except VlensError as error:
            outcome = error
    if raises is None:
        assert isinstance(outcome, RegistrationState), outcome
    else:
        assert type(outcome) is raises, repr(outcome)
    assert server.connections == 1


@pytest.mark.parametrize(
    ("name", "raises"),
    [("reset after reading", VlensTransportError), ("drip forever", VlensTimeoutError)],
)
async def test_a_read_is_retried_within_its_attempts_and_deadline(
    name: str, raises: type[VlensError]
) -> None:
    """The same faults on a read: retried on fresh connections, then the last error."""
    fault, read_first, _ = EFFECT_FAULTS[name]
    async with raw_server(fault, read_first=read_first) as server, client(server.url) as vlens:
        with pytest.raises(raises):
            await asyncio.wait_for(vlens.registration.check_existence(PHONE), HANG_GUARD)
    assert 1 <= server.connections <= POLICY.max_attempts


async def test_a_connection_closed_as_it_is_reused_is_never_resent_for_an_effect() -> None:
    """The stale keep-alive race: the server closes each connection right after its answer
    (without ``Connection: close``), so the next call may write to a connection it has already
    closed. aiohttp gives no public way to tell that write from one the server read, so the
    effect ends OutcomeUnknownError (never resent, and here never read), or ok on a fresh
    connection; a read is retried on a fresh connection and succeeds."""
    calls = 20

    async def send_all(vlens: VlensClient) -> list[str]:
        outcomes = []
        for _ in range(calls):  # back to back, in one task: the race needs no loop turn between
            try:
                await vlens.registration.send_phone_otp(PHONE)
                outcomes.append("ok")
            except OutcomeUnknownError:
                outcomes.append("unknown")
        return outcomes

    async def check_all(vlens: VlensClient) -> None:
        for _ in range(calls):
            await vlens.registration.check_existence(PHONE)

    async with raw_server(answer(ANSWER, close=True)) as server, client(server.url) as vlens:
        outcomes = await asyncio.wait_for(send_all(vlens), HANG_GUARD)
        read = server.request_ids.copy()
        assert len(set(read)) == len(read)  # no call reached the server twice
        assert len(read) == outcomes.count("ok")  # an unknown one was written, never resent
        await asyncio.wait_for(check_all(vlens), HANG_GUARD)


async def test_the_pool_survives_failures_and_cancellations() -> None:
    """After failing and cancelled calls of every kind on a pool of 2 connections, calls that
    need a pooled connection within 2 s all get one: nothing was leaked."""
    faults: list[Fault] = [
        reset_fault,
        close_fault,
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"),
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n"),
        answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ]
    current: list[Fault | None] = [None]  # None: answer every request

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (fault := current[0]) is None:
            writer.write(ANSWER)
            await writer.drain()
            await read_request(reader)
        await fault(reader, writer)

    pool = AiohttpTransport(limit=2)
    async with raw_server(serve) as server, pool, client(server.url, pool) as vlens:
        for fault in faults:
            current[0] = fault
            for _ in range(3):
                with contextlib.suppress(VlensError):
                    await asyncio.wait_for(vlens.registration.check_existence(PHONE), HANG_GUARD)
            for _ in range(3):  # cancelled while waiting for the answer
                call = asyncio.create_task(vlens.registration.send_phone_otp(PHONE))
                await asyncio.sleep(0.05)
                call.cancel()
                with contextlib.suppress(asyncio.CancelledError, VlensError):
                    await call
        current[0] = None
        quick = Timeout(connect=2.0, read=2.0, pool=2.0)
        for _ in range(10):
            result = await asyncio.wait_for(
                vlens.registration.send_phone_otp(PHONE, timeout=quick), HANG_GUARD
            )
            assert isinstance(result, RegistrationState)
