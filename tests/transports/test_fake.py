"""FakeTransport records requests and delegates to its handler; Transport is a strict ABC."""

from __future__ import annotations

import pytest

from vlens_transports import (
    FakeTransport,
    RemoteDisconnected,
    Request,
    Response,
    Transport,
    TransportClosed,
    TransportError,
)

URL = "http://127.0.0.1:1/api"


async def ok(request: Request) -> Response:
    """Answer every request with 200 and the request's body echoed back."""
    return Response(status=200, content=request.content)


async def test_returns_the_handlers_response() -> None:
    """send() returns exactly the Response the handler produced."""
    async with FakeTransport(ok) as transport:
        response = await transport.send(Request(method="POST", url=URL, content=b"ping"))
    assert response == Response(status=200, content=b"ping")


async def test_records_every_request_in_order() -> None:
    """Each sent request is appended to .requests, in the order sent, as the same object."""
    sent = [
        Request(method="POST", url=f"{URL}/{index}", content=bytes([index])) for index in range(5)
    ]
    async with FakeTransport(ok) as transport:
        for request in sent:
            await transport.send(request)
    assert len(transport.requests) == len(sent)
    assert all(got is want for got, want in zip(transport.requests, sent, strict=True))


async def test_record_false_keeps_no_requests_but_counts_them() -> None:
    """record=False: the handler sees every request, .requests stays empty, .sent counts."""
    handled: list[Request] = []

    async def handler(request: Request) -> Response:
        handled.append(request)
        return Response(status=200)

    async with FakeTransport(handler, record=False) as transport:
        for index in range(3):
            await transport.send(Request(method="POST", url=f"{URL}/{index}"))
    assert transport.requests == []
    assert transport.sent == 3
    assert [request.url for request in handled] == [f"{URL}/{index}" for index in range(3)]
    assert repr(transport) == "<FakeTransport requests=3 closed=True>"


async def test_records_the_request_before_calling_the_handler() -> None:
    """The handler already sees its own request as the last entry of .requests."""
    seen: list[list[Request]] = []
    transport: FakeTransport

    async def handler(request: Request) -> Response:
        seen.append(list(transport.requests))
        return Response(status=200)

    transport = FakeTransport(handler)
    first = Request(method="GET", url=f"{URL}/1")
    second = Request(method="GET", url=f"{URL}/2")
    async with transport:
        await transport.send(first)
        await transport.send(second)
    assert seen == [[first], [first, second]]


async def test_failed_attempts_are_recorded_too() -> None:
    """A request whose handler raises is still counted in .requests."""

    async def handler(request: Request) -> Response:
        raise RemoteDisconnected("dropped")

    async with FakeTransport(handler) as transport:
        for _ in range(3):
            with pytest.raises(RemoteDisconnected):
                await transport.send(Request(method="GET", url=URL))
    assert len(transport.requests) == 3


async def test_propagates_the_handlers_transport_error_unchanged() -> None:
    """A TransportError raised by the handler reaches the caller as the very same object."""
    error = RemoteDisconnected("peer went away")

    async def handler(request: Request) -> Response:
        raise error

    async with FakeTransport(handler) as transport:
        with pytest.raises(TransportError) as caught:
            await transport.send(Request(method="GET", url=URL))
    assert caught.value is error
    assert caught.value.may_have_reached_server is True


async def test_send_after_aclose_raises_and_records_nothing() -> None:
    """send() after aclose() raises TransportClosed, as AiohttpTransport does (still a
    RuntimeError), and neither records nor calls the handler."""
    calls: list[Request] = []

    async def handler(request: Request) -> Response:
        calls.append(request)
        return Response(status=200)

    transport = FakeTransport(handler)
    await transport.aclose()
    with pytest.raises(TransportClosed, match="after aclose"):
        await transport.send(Request(method="GET", url=URL))
    assert transport.requests == []
    assert calls == []


async def test_aclose_is_idempotent() -> None:
    """Calling aclose() twice leaves the transport closed without raising."""
    transport = FakeTransport(ok)
    await transport.aclose()
    await transport.aclose()
    assert transport.closed is True


async def test_async_context_manager_returns_itself_and_closes() -> None:
    """`async with` yields the transport itself, open inside and closed after."""
    transport = FakeTransport(ok)
    async with transport as entered:
        assert entered is transport
        assert transport.closed is False
    assert transport.closed is True


async def test_async_context_manager_closes_on_error() -> None:
    """Leaving `async with` by an exception still closes the transport and re-raises."""
    transport = FakeTransport(ok)
    with pytest.raises(KeyError):
        async with transport:
            raise KeyError("boom")
    assert transport.closed is True


async def test_repr_shows_request_count_and_state() -> None:
    """repr(FakeTransport) reports how many requests it saw and whether it is closed."""
    async with FakeTransport(ok) as transport:
        await transport.send(Request(method="GET", url=URL))
        assert repr(transport) == "<FakeTransport requests=1 closed=False>"
    assert repr(transport) == "<FakeTransport requests=1 closed=True>"


def test_transport_subclass_without_send_cannot_be_instantiated() -> None:
    """A Transport subclass that does not implement send() fails at instantiation."""

    class HalfWritten(Transport):
        async def aclose(self) -> None:
            return None

    with pytest.raises(TypeError, match="send"):
        HalfWritten()  # type: ignore[abstract]


def test_transport_itself_cannot_be_instantiated() -> None:
    """The Transport ABC is not instantiable on its own."""
    with pytest.raises(TypeError, match="abstract"):
        Transport()  # type: ignore[abstract]


async def test_minimal_subclass_gets_default_aclose_and_context_manager() -> None:
    """A subclass implementing only send() works, including `async with` and aclose()."""

    class Echo(Transport):
        async def send(self, request: Request) -> Response:
            return Response(status=299, content=request.url.encode())

    async with Echo() as transport:
        response = await transport.send(Request(method="GET", url=URL))
    assert response.status == 299
    assert response.content == URL.encode()
    await transport.aclose()
