"""A phone sign-up service on aiohttp.web: three routes over one shared ``VlensClient``.

POST /signup/start     {"phone_number"}                           -> texts a code
POST /signup/verify    {"phone_number", "request_id", "code"}     -> checks it
POST /signup/complete  {"phone_number", "request_id", "code", "password"} -> creates the account

Run it against a local sandbox (every code is 123456)::

    vlens sandbox --fixed-otp 123456 &
    VLENS_API_KEY=sandbox-key VLENS_BASE_URL=http://127.0.0.1:8088 \\
        python -m examples.aiohttp_signup.app

The client is made in a ``cleanup_ctx``, on the loop that serves requests, and closed at
shutdown; tests pass ``create_app(client_factory=sandbox.client)`` to put the sandbox behind it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from vlens_async import (
    AuthenticationError,
    InvalidRequestError,
    OutcomeUnknownError,
    QuotaError,
    RateLimitedError,
    RetryPolicy,
    VlensAPIError,
    VlensClient,
    VlensError,
    VlensInputError,
    VlensResponseError,
    VlensTransportError,
)

__all__ = ["HANDLER_RETRY", "VLENS", "create_app", "http_answer"]

logger = logging.getLogger(__name__)

HANDLER_RETRY = RetryPolicy(deadline=5, retry_after_cap=2)
"""A request handler's patience: the whole call within 5 s, never waiting long on a 429."""

VLENS = web.AppKey("vlens", VlensClient)
ClientFactory = Callable[[], VlensClient]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Answer = tuple[int, dict[str, Any], dict[str, str]]
routes = web.RouteTableDef()


def production_client() -> VlensClient:
    """The client the service runs with: configured from ``VLENS_*`` environment variables."""
    return VlensClient.from_env(retry=HANDLER_RETRY)


async def fields(request: web.Request, *names: str) -> list[str]:
    """The named string fields of the JSON body; a missing one is a VlensInputError (422)."""
    try:
        body = await request.json()
    except ValueError:
        raise VlensInputError("body", "expected a JSON object") from None
    if not isinstance(body, dict):
        raise VlensInputError("body", "expected a JSON object")
    for name in names:
        if not isinstance(body.get(name), str):
            raise VlensInputError(name, "expected a string")
    return [body[name] for name in names]


@routes.post("/signup/start")
async def start(request: web.Request) -> web.Response:
    """Text a code; the answer carries ``phone_number_otp_request_id`` for the next steps."""
    (phone,) = await fields(request, "phone_number")
    sent = await request.app[VLENS].registration.send_phone_otp(phone)
    return web.json_response(sent.to_dict())


@routes.post("/signup/verify")
async def verify(request: web.Request) -> web.Response:
    """Check the code the user typed."""
    phone, request_id, code = await fields(request, "phone_number", "request_id", "code")
    state = await request.app[VLENS].registration.validate_phone_otp(phone, request_id, code)
    return web.json_response(state.to_dict())


@routes.post("/signup/complete")
async def complete(request: web.Request) -> web.Response:
    """Create the account. The tokens are secrets: to_dict() leaves them out of the answer
    (a real service would keep them server-side, behind its own session cookie)."""
    names = ("phone_number", "request_id", "code", "password")
    phone, request_id, code, password = await fields(request, *names)
    done = await request.app[VLENS].registration.complete(
        phone_number=phone, phone_otp_request_id=request_id, phone_otp=code, password=password
    )
    return web.json_response(done.to_dict())


def http_answer(error: VlensError) -> Answer:
    """The HTTP status, JSON body and headers this service answers a Vlens error with."""
    if isinstance(error, VlensInputError):
        return 422, {"error": "invalid_input", "field": error.field, "detail": str(error)}, {}
    if isinstance(error, OutcomeUnknownError):
        detail = (
            "The request may have gone through (a code may have been sent). Do not resend; "
            "check your messages, or ask for a new code after a short wait."
        )
        sending = error.operation == "registration.send_phone_otp"
        return (202 if sending else 503), {"error": "outcome_unknown", "detail": detail}, {}
    if isinstance(error, RateLimitedError):
        headers = {} if error.retry_after is None else {"Retry-After": _seconds(error.retry_after)}
        return 429, {"error": "rate_limited", "detail": error.message}, headers
    if isinstance(error, AuthenticationError):  # our API key: not the user's fault
        return 502, {"error": "upstream_auth", "detail": "The service is misconfigured."}, {}
    if isinstance(error, InvalidRequestError):
        return 400, {"error": "invalid_request", "detail": error.message}, {}
    if isinstance(error, (VlensTransportError, QuotaError)):
        return 503, {"error": "unavailable", "detail": "Try again in a moment."}, {}
    if isinstance(error, (VlensAPIError, VlensResponseError)):
        return 502, {"error": "upstream_error", "detail": "The identity service failed."}, {}
    # Anything else is this service's own mistake, such as a client used after it was closed.
    return 500, {"error": "internal_error", "detail": "Something went wrong on our side."}, {}


def _seconds(delay: float) -> str:
    return str(max(1, math.ceil(delay)))


@web.middleware
async def vlens_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A VlensError raised by a handler becomes the answer :func:`http_answer` gives."""
    try:
        return await handler(request)
    except VlensError as exc:
        status, body, headers = http_answer(exc)
        if status >= 500:
            logger.warning("%s -> %d: %s", request.path, status, exc)  # contacts are masked
        return web.json_response(body, status=status, headers=headers)


def create_app(client_factory: ClientFactory = production_client) -> web.Application:
    """The service. ``client_factory`` makes its one client, in a ``cleanup_ctx``."""

    async def vlens_client(app: web.Application) -> AsyncIterator[None]:
        async with client_factory() as client:
            app[VLENS] = client
            yield

    app = web.Application(middlewares=[vlens_errors])
    app.cleanup_ctx.append(vlens_client)
    app.add_routes(routes)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8080)
