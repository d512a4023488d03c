"""AiohttpTransport against real servers on 127.0.0.1 started by each test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import MappingProxyType
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from vlens_transports import (
    AiohttpTransport,
    ConnectError,
    DecodingError,
    RemoteDisconnected,
    Request,
    Response,
    ResponseTooLarge,
    Timeout,
    TransportClosed,
    TransportError,
    TransportLoopMismatch,
    TransportTimeout,
)

from ..conftest import free_port

Serve = Callable[[web.Application], Awaitable[str]]
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

LIMIT = 1000
KINDS = ["owned", "borrowed"]


def app_with(
    path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.Application:
    """An application answering any method on ``path`` with ``handler``."""
    app = web.Application()
    app.router.add_route("*", path, handler)
    return app


async def hello(request: web.Request) -> web.Response:
    """Answer with a short fixed body."""
    return web.Response(text="hello")


@contextlib.asynccontextmanager
async def raw_server(handler: RawHandler) -> AsyncIterator[str]:
    """Serve ``handler`` on a raw TCP socket on 127.0.0.1; yields the base URL."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def app_server(app: web.Application) -> AsyncIterator[str]:
    """Like the ``serve`` fixture, for tests that run their own event loops."""
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def slow_and_fast_app(started: asyncio.Event | None = None) -> web.Application:
    """``/slow`` answers after 10 s (setting ``started`` when it begins), ``/fast`` at once;
    each answers with its path."""

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/slow":
            if started is not None:
                started.set()
            await asyncio.sleep(10)
        return web.Response(text=request.path)

    app = app_with("/slow", handler)
    app.router.add_get("/fast", handler)
    return app


@contextlib.asynccontextmanager
async def transport_of(kind: str, *, limit: int = 100) -> AsyncIterator[AiohttpTransport]:
    """An owned transport (it sees the write), or one borrowing a session (it cannot); both
    with the same per-request timeouts."""
    if kind == "owned":
        async with AiohttpTransport(limit=limit) as transport:
            yield transport
        return
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit))
    async with session, AiohttpTransport(session=session) as transport:
        yield transport


def session_of(transport: AiohttpTransport) -> aiohttp.ClientSession | None:
    """The session the transport currently holds, if any."""
    return transport._session


def assert_not_chained(error: BaseException) -> None:
    """aiohttp's exception is not kept: its text may quote the exchange (headers, status line)."""
    assert error.__cause__ is None
    assert error.__context__ is None


async def read_request_head(reader: asyncio.StreamReader) -> bytes:
    """Read an HTTP request line and headers (the tests send bodiless GETs here)."""
    return await reader.readuntil(b"\r\n\r\n")


# --- success ----------------------------------------------------------------------------------


async def test_request_arrives_exactly_and_response_comes_back(serve: Serve) -> None:
    """Method, path, query, header case/values and body reach the server; the answer returns."""
    received: list[tuple[str, str, list[tuple[bytes, bytes]], bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        received.append((request.method, request.path_qs, list(request.raw_headers), body))
        return web.Response(
            status=201, body=b'{"ok": true}', headers={"X-Request-ID": "Req-42", "ETag": '"v1"'}
        )

    base = await serve(app_with("/api/items", handler))
    body = b'{"name": "caf\xc3\xa9", "bytes": "\x00\x01\xff"}'
    async with AiohttpTransport() as transport:
        response = await transport.send(
            Request(
                method="PUT",
                url=f"{base}/api/items?id=7&tag=a%20b",
                headers={"ApiKey": "Key-123", "X-Tenancy-Name": "Acme", "Content-Type": "x/y"},
                content=body,
            )
        )

    assert len(received) == 1
    method, path_qs, raw_headers, received_body = received[0]
    assert method == "PUT"
    assert path_qs == "/api/items?id=7&tag=a%20b"
    assert (b"ApiKey", b"Key-123") in raw_headers
    assert (b"X-Tenancy-Name", b"Acme") in raw_headers
    assert (b"Content-Type", b"x/y") in raw_headers
    assert received_body == body

    assert response.status == 201
    assert response.content == b'{"ok": true}'
    assert response.headers["x-request-id"] == "Req-42"
    assert response.headers["etag"] == '"v1"'
    assert response.headers["content-length"] == "12"
    assert all(name == name.lower() for name in response.headers)
    assert isinstance(response.elapsed, float)
    assert response.elapsed > 0


async def test_repeated_response_headers_keep_the_last_value_like_response_does(
    serve: Serve,
) -> None:
    """A header name sent twice, in two cases, is one lower-case name with the last value, in
    the place of its first appearance: what ``Response`` makes of the same header list. The
    map is read-only."""
    sent = [("X-Dup", "first"), ("Retry-After", "7"), ("x-DUP", "last")]

    async def handler(request: web.Request) -> web.Response:
        response = web.Response(body=b"{}")
        for name, value in sent:
            response.headers.add(name, value)
        return response

    base = await serve(app_with("/api/dup", handler))
    async with AiohttpTransport() as transport:
        response = await transport.send(Request(method="GET", url=f"{base}/api/dup"))

    names = [name for name in response.headers if name in ("x-dup", "retry-after")]
    assert names == ["x-dup", "retry-after"]
    assert response.headers["x-dup"] == "last"
    assert response.headers["retry-after"] == "7"
    as_response = Response(status=200, headers=CIMultiDict(sent))
    assert {name: response.headers[name] for name in names} == dict(as_response.headers)
    headers: Any = response.headers
    with pytest.raises(TypeError):
        headers["x-dup"] = "changed"


async def test_headers_follow_each_request_when_the_map_is_reused_or_changed(
    serve: Serve,
) -> None:
    """The transport keeps the last header map prepared for aiohttp; a reused map sends the
    same headers, a map changed through the dict it proxies sends the new values, and another
    map sends its own."""
    seen: list[tuple[str | None, str | None]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.headers.get("ApiKey"), request.headers.get("X-Extra")))
        return web.Response(text="ok")

    base = await serve(app_with("/h", handler))
    backing = {"ApiKey": "first"}
    shared = MappingProxyType(backing)
    async with AiohttpTransport() as transport:
        for _ in range(2):
            await transport.send(Request(method="POST", url=f"{base}/h", headers=shared))
        backing["ApiKey"] = "changed"
        await transport.send(Request(method="POST", url=f"{base}/h", headers=shared))
        backing["X-Extra"] = "added"
        await transport.send(Request(method="POST", url=f"{base}/h", headers=shared))
        await transport.send(Request(method="POST", url=f"{base}/h", headers={"ApiKey": "other"}))
        await transport.send(Request(method="POST", url=f"{base}/h", headers=shared))

    assert seen == [
        ("first", None),
        ("first", None),
        ("changed", None),
        ("changed", "added"),
        ("other", None),
        ("changed", "added"),
    ]


async def test_error_status_is_an_ordinary_response(serve: Serve) -> None:
    """A 503 with a body is returned as a Response, not raised."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=503, text="<html>down</html>")

    base = await serve(app_with("/", handler))
    async with AiohttpTransport() as transport:
        response = await transport.send(Request(method="GET", url=f"{base}/"))
    assert response.status == 503
    assert response.content == b"<html>down</html>"


async def test_redirects_are_not_followed(serve: Serve) -> None:
    """A 302 is returned as is, with its Location header, and the target is never requested."""
    targets: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/elsewhere"})

    async def elsewhere(request: web.Request) -> web.Response:
        targets.append(request.path)
        return web.Response(text="moved")

    app = app_with("/start", redirect)
    app.router.add_get("/elsewhere", elsewhere)
    base = await serve(app)
    async with AiohttpTransport() as transport:
        response = await transport.send(Request(method="GET", url=f"{base}/start"))
    assert response.status == 302
    assert response.headers["location"] == "/elsewhere"
    assert targets == []


# --- failures ---------------------------------------------------------------------------------


async def test_connection_refused_is_connect_error() -> None:
    """A refused connection raises ConnectError naming aiohttp's error type; it never reached."""
    url = f"http://127.0.0.1:{free_port()}/api?key=secret"
    async with AiohttpTransport() as transport:
        with pytest.raises(ConnectError) as caught:
            await transport.send(Request(method="POST", url=url, content=b"{}"))
    assert type(caught.value) is ConnectError
    assert_not_chained(caught.value)
    assert caught.value.may_have_reached_server is False
    assert str(caught.value).startswith("POST /api: could not connect (ClientConnectorError")
    assert "secret" not in str(caught.value)  # the query is not part of the message


async def test_read_timeout_mid_body_is_transport_timeout() -> None:
    """A body that stalls after the headers longer than the read timeout raises TransportTimeout."""

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        await writer.drain()
        await reader.read()  # until the client gives up and closes

    async with raw_server(stall) as base, AiohttpTransport() as transport:
        with pytest.raises(TransportTimeout) as caught:
            await transport.send(Request(method="GET", url=f"{base}/", timeout=Timeout(read=0.2)))
    assert type(caught.value) is TransportTimeout
    assert caught.value.may_have_reached_server is True


async def test_pool_timeout_is_connect_error(serve: Serve) -> None:
    """Waiting longer than Timeout(pool=...) for a pooled connection raises ConnectError."""
    started = asyncio.Event()
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        started.set()
        await release.wait()
        return web.Response(text="done")

    base = await serve(app_with("/", handler))
    async with AiohttpTransport(limit=1) as transport:
        holder = asyncio.create_task(transport.send(Request(method="GET", url=f"{base}/")))
        await started.wait()
        with pytest.raises(ConnectError) as caught:
            await transport.send(Request(method="GET", url=f"{base}/", timeout=Timeout(pool=0.2)))
        release.set()
        assert (await holder).content == b"done"
    assert type(caught.value) is ConnectError
    assert caught.value.may_have_reached_server is False


@pytest.mark.parametrize("abort", [False, True], ids=["close", "abort"])
async def test_server_dropping_connection_is_remote_disconnected(abort: bool) -> None:
    """A server that reads the request then closes (or resets) raises RemoteDisconnected."""

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        if abort:
            writer.transport.abort()

    async with raw_server(drop) as base, AiohttpTransport() as transport:
        with pytest.raises(RemoteDisconnected) as caught:
            await transport.send(Request(method="GET", url=f"{base}/"))
    assert type(caught.value) is RemoteDisconnected
    assert_not_chained(caught.value)
    assert "ServerDisconnectedError" in str(caught.value) or "OSError" in str(caught.value)
    assert caught.value.may_have_reached_server is True


async def test_server_closing_mid_body_is_remote_disconnected() -> None:
    """Headers promising 100 bytes, then 10 bytes and a close, raise RemoteDisconnected."""

    async def truncate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        await writer.drain()

    async with raw_server(truncate) as base, AiohttpTransport() as transport:
        with pytest.raises(RemoteDisconnected) as caught:
            await transport.send(Request(method="GET", url=f"{base}/"))
    assert type(caught.value) is RemoteDisconnected
    assert_not_chained(caught.value)
    assert "ClientPayloadError" in str(caught.value)
    assert caught.value.may_have_reached_server is True


async def test_invalid_url_is_connect_error() -> None:
    """A URL aiohttp cannot use raises ConnectError: nothing was sent."""
    async with AiohttpTransport() as transport:
        with pytest.raises(ConnectError) as caught:
            await transport.send(Request(method="GET", url="not-a-url"))
    assert_not_chained(caught.value)
    assert "InvalidUrlClientError" in str(caught.value)
    assert caught.value.may_have_reached_server is False


# --- response size limit ----------------------------------------------------------------------


async def test_declared_content_length_over_limit_is_too_large(serve: Serve) -> None:
    """A Content-Length over max_response_bytes raises ResponseTooLarge with status and limit."""

    async def big(request: web.Request) -> web.Response:
        return web.Response(status=200, body=b"x" * (LIMIT + 1))

    base = await serve(app_with("/", big))
    async with AiohttpTransport(max_response_bytes=LIMIT) as transport:
        with pytest.raises(ResponseTooLarge) as caught:
            await transport.send(Request(method="GET", url=f"{base}/"))
    assert caught.value.status == 200
    assert caught.value.limit == LIMIT
    assert caught.value.may_have_reached_server is True


async def test_chunked_body_over_limit_is_too_large(serve: Serve) -> None:
    """A chunked body (no Content-Length) growing past the limit raises ResponseTooLarge."""

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=207)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(5):
            await response.write(b"y" * 300)
        await response.write_eof()
        return response

    base = await serve(app_with("/", stream))
    async with AiohttpTransport(max_response_bytes=LIMIT) as transport:
        with pytest.raises(ResponseTooLarge) as caught:
            await transport.send(Request(method="GET", url=f"{base}/"))
        # The transport stays usable after refusing a body.
        with pytest.raises(ResponseTooLarge):
            await transport.send(Request(method="GET", url=f"{base}/"))
    assert caught.value.status == 207
    assert caught.value.limit == LIMIT


async def test_bodies_at_the_limit_are_accepted(serve: Serve) -> None:
    """Bodies of exactly max_response_bytes, declared or chunked, are read in full."""

    async def exact(request: web.Request) -> web.StreamResponse:
        if request.query.get("chunked"):
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b"a" * (LIMIT // 2))
            await response.write(b"b" * (LIMIT - LIMIT // 2))
            await response.write_eof()
            return response
        return web.Response(body=b"c" * LIMIT)

    base = await serve(app_with("/", exact))
    async with AiohttpTransport(max_response_bytes=LIMIT) as transport:
        declared = await transport.send(Request(method="GET", url=f"{base}/"))
        chunked = await transport.send(Request(method="GET", url=f"{base}/?chunked=1"))
    assert declared.content == b"c" * LIMIT
    assert chunked.content == b"a" * (LIMIT // 2) + b"b" * (LIMIT - LIMIT // 2)
    assert "content-length" not in chunked.headers


async def test_head_response_is_not_limited_by_its_content_length(serve: Serve) -> None:
    """A HEAD answer declaring a large Content-Length has no body, so it is not too large."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"z" * (LIMIT * 5))

    base = await serve(app_with("/", handler))
    async with AiohttpTransport(max_response_bytes=LIMIT) as transport:
        response = await transport.send(Request(method="HEAD", url=f"{base}/"))
    assert response.status == 200
    assert response.headers["content-length"] == str(LIMIT * 5)
    assert response.content == b""


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("max_response_bytes", 0, ValueError),
        ("max_response_bytes", -1, ValueError),
        ("max_response_bytes", 1.5, TypeError),
        ("max_response_bytes", True, TypeError),
        ("limit", -1, ValueError),
        ("limit", 2.5, TypeError),
        ("limit", float("inf"), TypeError),
        ("limit_per_host", -3, ValueError),
        ("limit_per_host", "4", TypeError),
        ("keepalive_timeout", float("nan"), ValueError),
        ("keepalive_timeout", float("inf"), ValueError),
        ("keepalive_timeout", -1.0, ValueError),
        ("keepalive_timeout", 0, ValueError),
        ("keepalive_timeout", False, TypeError),
    ],
)
def test_bad_numeric_options_are_refused_naming_them(
    option: str, value: Any, error: type[Exception]
) -> None:
    """Every numeric option is checked when given: a clear error naming it, nothing opened."""
    with pytest.raises(error, match=rf"^AiohttpTransport\.{option} must be .*, got {value!r}$"):
        AiohttpTransport(**{option: value})


# --- lifecycle --------------------------------------------------------------------------------


def test_construction_creates_no_session_and_needs_no_loop() -> None:
    """Constructing outside any event loop works and opens nothing (the session is lazy)."""
    transport = AiohttpTransport()
    assert session_of(transport) is None
    assert repr(transport) == "<AiohttpTransport unopened owned session>"


async def test_session_is_created_lazily_on_first_send(serve: Serve) -> None:
    """No session exists until the first send; then one is open."""
    base = await serve(app_with("/", hello))
    transport = AiohttpTransport()
    try:
        assert session_of(transport) is None
        assert repr(transport) == "<AiohttpTransport unopened owned session>"
        await transport.send(Request(method="GET", url=f"{base}/"))
        assert isinstance(session_of(transport), aiohttp.ClientSession)
        assert repr(transport) == "<AiohttpTransport open owned session>"
    finally:
        await transport.aclose()
    assert repr(transport) == "<AiohttpTransport closed owned session>"


async def test_owned_session_is_closed_by_aclose(serve: Serve) -> None:
    """The session the transport created is closed by aclose()."""
    base = await serve(app_with("/", hello))
    transport = AiohttpTransport()
    try:
        await transport.send(Request(method="GET", url=f"{base}/"))
        session = session_of(transport)
        assert session is not None
        assert not session.closed
    finally:
        await transport.aclose()
    assert session.closed


async def test_borrowed_session_is_never_closed(serve: Serve) -> None:
    """A session passed in is used but left open by aclose() and `async with`."""
    base = await serve(app_with("/", hello))
    async with aiohttp.ClientSession() as session:
        async with AiohttpTransport(session=session) as transport:
            response = await transport.send(Request(method="GET", url=f"{base}/"))
            assert session_of(transport) is session
        await transport.aclose()
        assert response.content == b"hello"
        assert not session.closed
        assert repr(transport) == "<AiohttpTransport closed borrowed session>"
        async with session.get(f"{base}/") as direct:
            assert await direct.read() == b"hello"
    assert session.closed


async def test_aclose_is_idempotent(serve: Serve) -> None:
    """aclose() may be called repeatedly, before or after use, without error."""
    base = await serve(app_with("/", hello))
    unused = AiohttpTransport()
    await unused.aclose()
    await unused.aclose()
    used = AiohttpTransport()
    try:
        await used.send(Request(method="GET", url=f"{base}/"))
    finally:
        await used.aclose()
    await used.aclose()
    assert repr(used) == "<AiohttpTransport closed owned session>"


@pytest.mark.parametrize("used_before", [False, True], ids=["unused", "used"])
async def test_send_after_aclose_raises_runtime_error(serve: Serve, used_before: bool) -> None:
    """send() after aclose() raises TransportClosed (a RuntimeError, not sent) and does not
    reopen a session."""
    base = await serve(app_with("/", hello))
    transport = AiohttpTransport()
    try:
        if used_before:
            await transport.send(Request(method="GET", url=f"{base}/"))
    finally:
        await transport.aclose()
    with pytest.raises(TransportClosed, match="closed") as refused:
        await transport.send(Request(method="GET", url=f"{base}/"))
    assert isinstance(refused.value, RuntimeError)
    assert refused.value.may_have_reached_server is False
    assert session_of(transport) is None


async def test_cancellation_is_not_wrapped_and_transport_survives(serve: Serve) -> None:
    """Cancelling a send in flight ends the task cancelled; the transport then still works."""
    started = asyncio.Event()
    base = await serve(slow_and_fast_app(started))
    async with AiohttpTransport() as transport:
        task = asyncio.create_task(transport.send(Request(method="GET", url=f"{base}/slow")))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        response = await transport.send(Request(method="GET", url=f"{base}/fast"))
    assert response.content == b"/fast"


def test_use_from_a_second_event_loop_raises_runtime_error() -> None:
    """A transport bound to one event loop refuses to send from another, and to close there
    (its sockets belong to the first loop); closed on its own loop, it closes cleanly."""
    transport = AiohttpTransport()
    first = asyncio.new_event_loop()

    async def first_loop() -> int:
        async with app_server(app_with("/", hello)) as base:
            response = await transport.send(Request(method="GET", url=f"{base}/"))
        return response.status

    async def second_loop() -> None:
        with pytest.raises(TransportLoopMismatch, match="first used on") as refused:
            await transport.send(Request(method="GET", url=f"http://127.0.0.1:{free_port()}/"))
        assert isinstance(refused.value, RuntimeError)
        assert refused.value.may_have_reached_server is False
        with pytest.raises(RuntimeError, match="close it on the loop it was used on"):
            await transport.aclose()

    try:
        assert first.run_until_complete(first_loop()) == 200
        asyncio.run(second_loop())
        assert repr(transport) == "<AiohttpTransport open owned session>"
        first.run_until_complete(transport.aclose())
    finally:
        first.close()
    assert repr(transport) == "<AiohttpTransport closed owned session>"


async def test_many_concurrent_requests_share_a_bounded_pool(serve: Serve) -> None:
    """200 concurrent sends with limit=10 all succeed, never over 10 connections at once."""
    in_flight = 0
    peak = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.005)
            return web.Response(text=request.query["n"])
        finally:
            in_flight -= 1

    base = await serve(app_with("/", handler))
    async with AiohttpTransport(limit=10) as transport:
        responses = await asyncio.gather(
            *(transport.send(Request(method="GET", url=f"{base}/?n={n}")) for n in range(200))
        )
    assert [response.status for response in responses] == [200] * 200
    assert [response.content for response in responses] == [str(n).encode() for n in range(200)]
    assert 1 < peak <= 10


def test_error_classes_say_whether_the_request_may_have_reached() -> None:
    """Only ConnectError promises the request did not reach the server."""
    assert ConnectError.may_have_reached_server is False
    for error in (
        TransportError,
        TransportTimeout,
        RemoteDisconnected,
        ResponseTooLarge,
        DecodingError,
    ):
        assert error.may_have_reached_server is True
