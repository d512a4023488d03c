"""The HTTP entry: an aiohttp application serving a Sandbox on Vlens' real paths."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http import HttpProcessingError

from vlens_transports import Request, Timeout

from .._json import dumps
from ._core import Exchange, Sandbox
from ._faults import FaultKind
from ._wire import envelope_bytes

__all__ = ["OUTBOX_PATH", "SANDBOX_KEY", "create_app"]


class _WithoutRequestBytes(logging.Filter):
    """aiohttp's error for a malformed request quotes the bad line, which may hold an API key
    or a bearer token: log the error's class, not its text or traceback. The same for a body
    that its Content-Encoding does not decode (answered 400, then read again by aiohttp)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (HttpProcessingError, web.RequestPayloadError)):
            said = record.getMessage()  # "Error handling request from <peer>", ...
            record.msg = "%s: %s (a bad request; its bytes are not logged)"
            record.args = (said, type(error).__name__)
            record.exc_info, record.exc_text = None, None
        return True


# The web server's own log (aiohttp.server by default), for the apps create_app makes.
_server_log = logging.getLogger("vlens_async.sandbox.http")
_server_log.addFilter(_WithoutRequestBytes())

SANDBOX_KEY = web.AppKey("vlens_sandbox", Sandbox)
_MAX_SIZE_KEY = web.AppKey("vlens_sandbox_client_max_size", int)
OUTBOX_PATH = "/_sandbox/outbox"
"""Sandbox-only route: ``GET [?recipient=]`` lists what was "sent" (there), with codes."""


def create_app(sandbox: Sandbox, *, client_max_size: int = 1024 * 1024) -> web.Application:
    """An ``aiohttp.web.Application`` answering every path from ``sandbox``.

    Faults happen on the socket: "processed, then dropped" closes the connection without an
    answer, a truncated body stops half-way, an oversized body is really sent. A request body
    over ``client_max_size`` bytes is answered 413 with an envelope, unread and unprocessed.
    """
    app = web.Application(client_max_size=client_max_size, handler_args={"logger": _server_log})
    app[SANDBOX_KEY] = sandbox
    app[_MAX_SIZE_KEY] = client_max_size
    app.router.add_get(OUTBOX_PATH, _outbox)
    app.router.add_route("*", "/{tail:.*}", _serve)
    return app


async def _outbox(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    if request.headers.get("ApiKey") not in sandbox.api_keys:
        return _json_response(dumps({"error": "invalid API key"}), status=401)
    recipient = request.query.get("recipient")
    messages = [
        {
            "channel": m.channel,
            "recipient": m.recipient,
            "code": m.code,
            "requestId": str(m.request_id) if m.request_id else None,
            "purpose": m.purpose,
            "provider": m.provider,
            "sentAt": m.sent_at,
        }
        for m in (sandbox.outbox.to(recipient) if recipient else sandbox.outbox)
    ]
    return _json_response(dumps({"messages": messages}))


def _json_response(body: bytes, *, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def _url(request: web.Request) -> str:
    """The request's absolute URL; only its path routes it, so a Host header that makes no
    URL (``127.0.0.1:abc``: yarl raises) does not stop the request."""
    try:
        return str(request.url)
    except ValueError:
        return f"http://sandbox.invalid{request.rel_url}"


async def _serve(request: web.Request) -> web.StreamResponse:
    sandbox = request.app[SANDBOX_KEY]
    try:
        content = await request.read()
    except web.HTTPRequestEntityTooLarge:  # aiohttp's own answer is text/plain
        message = f"The body is larger than {request.app[_MAX_SIZE_KEY]} bytes."
        return _json_response(envelope_bytes(code=413, message=message), status=413)
    except web.RequestPayloadError:  # not what its Content-Encoding says: no JSON either
        content = b""
    exchange = await sandbox.process(
        Request(
            method=request.method,
            url=_url(request),
            # From the pairs, so that of a header sent twice the last counts, as in memory
            # (``dict(request.headers)`` reads each name's first value).
            headers=dict(request.headers.items()),
            content=content,
            # The client's timeouts are its socket's business, not the simulator's.
            timeout=Timeout(connect=None, read=None),
        )
    )
    kind = exchange.fault.kind if exchange.fault else None
    if kind is FaultKind.DROP_AFTER_PROCESSING:
        return _drop(request)
    if kind is FaultKind.TRUNCATED_BODY:
        return await _truncated(request, exchange)
    response = web.Response(
        status=exchange.status, body=exchange.content, headers=dict(exchange.headers)
    )
    if kind is FaultKind.REFUSE:
        response.force_close()
    return response


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the socket now; the response returned has nowhere to go and aiohttp drops it."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)


async def _truncated(request: web.Request, exchange: Exchange) -> web.StreamResponse:
    response = web.StreamResponse(status=exchange.status, headers=dict(exchange.headers))
    response.content_length = len(exchange.content)
    await response.prepare(request)
    await response.write(exchange.content[: len(exchange.content) // 2])
    _drop(request)
    return response
