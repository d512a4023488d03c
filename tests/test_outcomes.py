"""The outcome rule, pinned over every HTTP status, every Vlens code, every transport failure.

Each answer is given to a read call (``check_existence``) and to an effect call
(``send_phone_otp``) with two attempts allowed and a success ready behind it, so the verdict
shows from outside: success at once, retried (two requests, then success), final (one request,
the error itself) or unknown (one request, ``OutcomeUnknownError`` carrying the error). The
expected verdicts are written out here from DESIGN.md, independently of ``_outcomes``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vlens_async import (
    OutcomeUnknownError,
    RetryPolicy,
    VlensClient,
    VlensConnectionError,
    VlensError,
    VlensResponseError,
)
from vlens_async.testing import envelope_response, error_response
from vlens_transports import (
    ConnectError,
    DecodingError,
    RemoteDisconnected,
    Request,
    Response,
    ResponseTooLarge,
    TransportError,
    TransportTimeout,
)

from .conftest import make_client

PHONE = "+201001234567"
OK, RETRIED, FINAL, UNKNOWN = "ok", "retried", "final", "unknown"
KINDS = ["read", "effect"]
Answer = Response | TransportError


def html(status: int) -> Response:
    """A proxy's or CDN's HTML page."""
    page = f"<html><body><h1>{status}</h1>cf-ray: 1234</body></html>".encode()
    return Response(status=status, headers={"Content-Type": "text/html"}, content=page)


def envelope_for(status: int) -> Response:
    """A success envelope on a 2xx status; an error envelope carrying the status otherwise."""
    if 200 <= status <= 299:
        return envelope_response({"exists": True}, status=status)
    return error_response(status, f"HTTP {status}", status=status)


async def verdict(client: VlensClient, kind: str, sent: list[Request]) -> str:
    """What one call makes of the answer queued for it (with a success queued behind it)."""
    before = len(sent)
    failure: VlensError | None = None
    try:
        if kind == "read":
            await client.registration.check_existence(phone_number=PHONE)
        else:
            await client.registration.send_phone_otp(PHONE)
    except VlensError as error:
        failure = error
    requests = len(sent) - before
    if failure is None:
        return OK if requests == 1 else RETRIED
    assert requests == 1, f"{failure!r} came after {requests} requests"
    if isinstance(failure, OutcomeUnknownError):
        assert isinstance(failure.error, VlensError)
        assert failure.__cause__ is failure.error
        return UNKNOWN
    return FINAL


def scripted() -> tuple[VlensClient, list[Request], Callable[[Answer], None]]:
    """A client (two attempts, no waits) whose next call meets a given answer, then success."""
    queue: list[Answer] = []

    async def handler(request: Request) -> Response:
        answer = queue.pop(0) if queue else envelope_response({"exists": True})
        if isinstance(answer, TransportError):
            raise answer
        return answer

    client, transport = make_client(handler, retry=RetryPolicy.no_wait(max_attempts=2))
    return client, transport.requests, queue.append


def expected_for_status(kind: str, status: int, enveloped: bool) -> str:
    """DESIGN.md's rule for an answer with this HTTP status."""
    if 200 <= status <= 299:
        if enveloped:
            return OK
        return UNKNOWN if kind == "effect" else FINAL  # processed, but unreadable
    if status in (429, 503):
        return RETRIED
    if kind == "read":
        return RETRIED if 500 <= status <= 599 else FINAL
    if 400 <= status <= 498:
        return FINAL
    return UNKNOWN  # 1xx, 3xx, 499, other 5xx (including 520-527)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("enveloped", [True, False], ids=["envelope", "html"])
async def test_every_http_status(kind: str, enveloped: bool) -> None:
    """Every status from 100 to 599, with an envelope body and with an HTML page."""
    client, sent, then = scripted()
    wrong: dict[int, tuple[str, str]] = {}
    async with client:
        for status in range(100, 600):
            then(envelope_for(status) if enveloped else html(status))
            seen = await verdict(client, kind, sent)
            expected = expected_for_status(kind, status, enveloped)
            if seen != expected:
                wrong[status] = (seen, expected)
    assert wrong == {}


def expected_for_code(kind: str, code: int) -> str:
    """DESIGN.md's rule for a Vlens error code in an envelope on HTTP 200."""
    if code in (429, 4003):
        return RETRIED
    if kind == "read":
        return FINAL
    if 400 <= code <= 498 or 4001 <= code <= 4007:
        return FINAL
    return UNKNOWN  # 5000, any 5xxx, 499 and every undocumented code


KNOWN_CODES = [400, 401, 403, 415, 422, 429, 500, 502, 503, 504, 5000]
KNOWN_CODES += list(range(4001, 4008))
UNDOCUMENTED_CODES = [-1, 1, 2, 99, 200, 300, 399, 499, 520, 600, 4000, 4008, 5001, 5999, 9999]


@pytest.mark.parametrize("kind", KINDS)
async def test_every_vlens_code_on_http_200(kind: str) -> None:
    """The Vlens codes the SDK knows, and undocumented ones, each on a 200 envelope."""
    client, sent, then = scripted()
    wrong: dict[int, tuple[str, str]] = {}
    async with client:
        for code in KNOWN_CODES + UNDOCUMENTED_CODES:
            then(error_response(code, "refused"))
            seen = await verdict(client, kind, sent)
            if seen != expected_for_code(kind, code):
                wrong[code] = (seen, expected_for_code(kind, code))
    assert wrong == {}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("failure", "read", "effect"),
    [
        (ConnectError("not sent"), RETRIED, RETRIED),
        (TransportTimeout("sent, no answer"), RETRIED, UNKNOWN),
        (RemoteDisconnected("sent, connection broke"), RETRIED, UNKNOWN),
        (ResponseTooLarge(200, 1024), FINAL, UNKNOWN),
        (DecodingError(200, "gzip"), FINAL, UNKNOWN),
        (ResponseTooLarge(503, 1024), RETRIED, RETRIED),
        (ResponseTooLarge(400, 1024), FINAL, FINAL),
        (ResponseTooLarge(502, 1024), RETRIED, UNKNOWN),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value,
)
async def test_every_transport_failure(
    kind: str, failure: TransportError, read: str, effect: str
) -> None:
    """Not sent is safe to repeat; after writing, a read retries and an effect is unknown."""
    client, sent, then = scripted()
    async with client:
        then(failure)
        assert await verdict(client, kind, sent) == (read if kind == "read" else effect)


async def test_an_unknown_outcome_keeps_the_error_it_stands_for() -> None:
    """OutcomeUnknownError says why, and carries the underlying error as .error and cause."""
    client, _, then = scripted()
    async with client:
        then(html(524))
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.registration.send_phone_otp(PHONE)
    assert caught.value.reason == "HTTP 524"
    assert "HTTP 524" in str(caught.value)
    assert caught.value.error is caught.value.__cause__
    assert caught.value.error is not None
    assert caught.value.error.operation == "registration.send_phone_otp"


async def test_a_not_sent_failure_after_the_last_attempt_is_a_connection_error() -> None:
    """A request never written raises VlensConnectionError, for an effect too: it is safe."""
    client, _, then = scripted()
    async with client:
        then(ConnectError("refused"))
        then(ConnectError("refused"))
        with pytest.raises(VlensConnectionError):
            await client.registration.send_phone_otp(PHONE)


async def test_an_unreadable_2xx_for_a_read_is_a_response_error() -> None:
    """A read's unreadable 200 is final and says why (VlensResponseError, not unknown)."""
    client, _, then = scripted()
    async with client:
        then(html(200))
        with pytest.raises(VlensResponseError):
            await client.registration.check_existence(phone_number=PHONE)
