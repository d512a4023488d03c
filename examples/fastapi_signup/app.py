"""A phone sign-up service on FastAPI: three routes over one shared ``VlensClient``.

POST /signup/start     {"phone_number"}                           -> texts a code
POST /signup/verify    {"phone_number", "request_id", "code"}     -> checks it
POST /signup/complete  {"phone_number", "request_id", "code", "password"} -> creates the account

Run it against a local sandbox (every code is 123456)::

    vlens sandbox --fixed-otp 123456 &
    VLENS_API_KEY=sandbox-key VLENS_BASE_URL=http://127.0.0.1:8088 \\
        uvicorn --factory examples.fastapi_signup.app:create_app

The client is made in the lifespan, on the loop that serves requests, and closed at shutdown;
tests pass ``create_app(client_factory=sandbox.client)`` to put the sandbox behind the app.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

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

__all__ = ["HANDLER_RETRY", "create_app", "http_answer"]

logger = logging.getLogger(__name__)

HANDLER_RETRY = RetryPolicy(deadline=5, retry_after_cap=2)
"""A request handler's patience: the whole call within 5 s, never waiting long on a 429."""

ClientFactory = Callable[[], VlensClient]
Answer = tuple[int, dict[str, Any], dict[str, str]]


def production_client() -> VlensClient:
    """The client the service runs with: configured from ``VLENS_*`` environment variables."""
    return VlensClient.from_env(retry=HANDLER_RETRY)


class StartBody(BaseModel):
    phone_number: str
    sms_provider: int | None = None


class VerifyBody(BaseModel):
    phone_number: str
    request_id: str
    code: str


class CompleteBody(VerifyBody):
    password: str


def vlens_client(request: Request) -> VlensClient:
    """The process's client, made by the lifespan (a FastAPI dependency)."""
    client: VlensClient = request.app.state.vlens
    return client


Vlens = Annotated[VlensClient, Depends(vlens_client)]
router = APIRouter(prefix="/signup")


@router.post("/start")
async def start(body: StartBody, vlens: Vlens) -> dict[str, Any]:
    """Text a code; the answer carries ``phone_number_otp_request_id`` for the next steps."""
    sent = await vlens.registration.send_phone_otp(body.phone_number, body.sms_provider)
    return sent.to_dict()


@router.post("/verify")
async def verify(body: VerifyBody, vlens: Vlens) -> dict[str, Any]:
    """Check the code the user typed."""
    state = await vlens.registration.validate_phone_otp(
        body.phone_number, body.request_id, body.code
    )
    return state.to_dict()


@router.post("/complete")
async def complete(body: CompleteBody, vlens: Vlens) -> dict[str, Any]:
    """Create the account. The tokens are secrets: to_dict() leaves them out of the answer
    (a real service would keep them server-side, behind its own session cookie)."""
    done = await vlens.registration.complete(
        phone_number=body.phone_number,
        phone_otp_request_id=body.request_id,
        phone_otp=body.code,
        password=body.password,
    )
    return done.to_dict()


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


async def vlens_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI exception handler: a VlensError becomes the answer :func:`http_answer` gives."""
    assert isinstance(exc, VlensError)  # registered for VlensError only
    status, body, headers = http_answer(exc)
    if status >= 500:
        logger.warning("%s -> %d: %s", request.url.path, status, exc)  # contacts are masked
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(client_factory: ClientFactory = production_client) -> FastAPI:
    """The service. ``client_factory`` makes its one client, in the lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with client_factory() as client:
            app.state.vlens = client
            yield

    app = FastAPI(title="Phone sign-up", lifespan=lifespan)
    app.include_router(router)
    app.add_exception_handler(VlensError, vlens_error)
    return app
