"""The HTTP entry: an aiohttp application serving a Sandbox on Vlens' real paths."""

from __future__ import annotations

from aiohttp import web

from vlens_transports import Request, Timeout

from .._json import dumps
from ._core import Exchange, Sandbox
from ._faults import FaultKind

__all__ = ["OUTBOX_PATH", "SANDBOX_KEY", "create_app"]

SANDBOX_KEY = web.AppKey("vlens_sandbox", Sandbox)
OUTBOX_PATH = "/_sandbox/outbox"
"""Sandbox-only route: ``GET [?recipient=]`` lists what was "sent" (there), with codes."""


def create_app(sandbox: Sandbox, *, client_max_size: int = 1024 * 1024) -> web.Application:
    """An ``aiohttp.web.Application`` answering every path from ``sandbox``.

    Faults happen on the socket: "processed, then dropped" closes the connection without an
    answer, a truncated body stops half-way, an oversized body is really sent.
    """
    app = web.Application(client_max_size=client_max_size)
    app[SANDBOX_KEY] = sandbox
    app.router.add_get(OUTBOX_PATH, _outbox)
    app.router.add_route("*", "/{tail:.*}", _serve)
    return app


async def _outbox(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    if request.headers.get("ApiKey") not in sandbox.api_keys:
        return _json_response({"error": "invalid API key"}, status=401)
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
    return _json_response({"messages": messages})


def _json_response(value: object, *, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(value), content_type="application/json")


async def _serve(request: web.Request) -> web.StreamResponse:
    sandbox = request.app[SANDBOX_KEY]
    exchange = await sandbox.process(
        Request(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            content=await request.read(),
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
