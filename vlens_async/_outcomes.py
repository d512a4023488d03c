"""The outcome rule: what a failed attempt means, for a read and for an effect. Defined once.

An **effect** (an SMS, an e-mail, an account, a consumed OTP attempt) must never be repeated
once the server may have processed it, so an answer counts as a refusal only when documented as
one; anything else, once the request may have been written, is an unknown outcome:

============================================  ==================  ===================
what came back                                effect              read
============================================  ==================  ===================
not sent (pool wait, connect, deadline        retry               retry
before writing)
timeout or broken connection after writing    **unknown**         retry
HTTP 429, 503 (any body)                      retry               retry
HTTP 4xx other than 429 and 499               final               final
(Vlens code 429/4003 in the body: retry)
HTTP 499, any other 5xx (500-502, 504,        **unknown**         retry (5xx);
520-527, ...), 1xx, 3xx                                           final (1xx, 3xx, 499)
2xx envelope, Vlens code 400-498, 4001-4007   final               final
(4003 or 429: rate limited)                   (retry)             (retry)
2xx envelope, Vlens 5000, 5xxx or any other   **unknown**         final
undocumented code
2xx body not JSON, not an envelope, or not    **unknown**         final
the expected shape (or too large)
============================================  ==================  ===================

A retry happens only while attempts and the deadline allow; then the error is raised as final.
``from_transport`` turns a transport failure into its SDK error, and ``fail_closed`` an attempt
that the client's closing ended.
Success (2xx, readable envelope, ``error_code`` null or 0, ``data`` of the right shape) never
reaches this module.
"""

from __future__ import annotations

import enum
from typing import NoReturn

from vlens_transports import (
    ConnectError,
    DecodingError,
    ResponseTooLarge,
    TransportClosed,
    TransportError,
    TransportLoopMismatch,
    TransportTimeout,
)

from ._errors import (
    ClientClosedError,
    EventLoopMismatchError,
    OutcomeUnknownError,
    RawResponse,
    VlensAPIError,
    VlensConnectionError,
    VlensError,
    VlensResponseError,
    VlensTimeoutError,
    VlensTransportError,
)

__all__ = ["Verdict", "fail_closed", "from_transport", "judge", "reason_of"]

_RATE_LIMITED_CODES = frozenset({429, 4003})


class Verdict(enum.Enum):
    """What a failed attempt becomes."""

    RETRY = "retry"  # refused or never sent: safe to repeat, if attempts and deadline allow
    FINAL = "final"  # raise the error as it is
    UNKNOWN = "unknown"  # an effect that may have happened: OutcomeUnknownError, never resent


def judge(error: VlensError, *, effect: bool) -> Verdict:
    """The verdict on one failed attempt of a read (``effect=False``) or an effect call."""
    if isinstance(error, VlensConnectionError):
        return Verdict.RETRY  # never written
    if isinstance(error, VlensTransportError):
        return Verdict.UNKNOWN if effect else Verdict.RETRY  # may have been written
    status, code = _answer(error)
    if status is None:  # an error of our own making, not an answer
        return Verdict.FINAL
    return _effect_verdict(status, code) if effect else _read_verdict(status, code)


def _answer(error: VlensError) -> tuple[int | None, int | None]:
    """The HTTP status and the Vlens code (None when unreadable) an error carries."""
    if isinstance(error, VlensAPIError):
        return error.http_status, error.code
    if isinstance(error, VlensResponseError):
        return error.http_status, None
    return None, None


def _effect_verdict(status: int, code: int | None) -> Verdict:
    if status in (429, 503):
        return Verdict.RETRY
    if 400 <= status <= 498:
        return Verdict.RETRY if code in _RATE_LIMITED_CODES else Verdict.FINAL
    if 200 <= status <= 299 and code is not None and _documented_refusal(code):
        return Verdict.RETRY if code in _RATE_LIMITED_CODES else Verdict.FINAL
    return Verdict.UNKNOWN


def _read_verdict(status: int, code: int | None) -> Verdict:
    if status == 429 or 500 <= status <= 599 or code in _RATE_LIMITED_CODES:
        return Verdict.RETRY
    return Verdict.FINAL


def _documented_refusal(code: int) -> bool:
    """A Vlens code that, on a 2xx envelope, means the server refused the request."""
    return 400 <= code <= 498 or 4001 <= code <= 4007


def reason_of(error: VlensError) -> str:
    """A short account of ``error`` for :class:`OutcomeUnknownError`'s message."""
    if isinstance(error, VlensTransportError):  # the transport's words, without the operation
        return str(error).removeprefix(f"{error.operation}: ")
    status, code = _answer(error)
    if isinstance(error, VlensResponseError):
        return f"HTTP {status} with an unreadable body: {error.problem}"
    if code is not None and code != status:
        return f"HTTP {status}, Vlens error code {code}"
    return f"HTTP {status}"


def from_transport(name: str, exc: TransportError, *, effect: bool = False) -> VlensError:
    """The SDK error for a transport failure of operation ``name`` (its message is already
    free of secrets)."""
    if isinstance(exc, TransportLoopMismatch):  # final, like the client's own loop check
        return EventLoopMismatchError(f"{name}: {exc}")
    # Nothing more can be sent: final, never retried (an effect maybe written stays unknown).
    if isinstance(exc, TransportClosed) and not (exc.may_have_reached_server and effect):
        return ClientClosedError(f"{name}: {exc}; not retried", operation=name)
    if isinstance(exc, (ResponseTooLarge, DecodingError)):
        error = VlensResponseError(str(exc), http_status=exc.status, excerpt="", operation=name)
        error.response = RawResponse(status=exc.status)  # the answer's body was not kept
        return error
    if isinstance(exc, ConnectError):
        return VlensConnectionError(f"{name}: not sent: {exc}", operation=name)
    if isinstance(exc, TransportTimeout):
        return VlensTimeoutError(f"{name}: {exc}", operation=name)
    return VlensTransportError(f"{name}: {exc}", operation=name)


def fail_closed(name: str, failure: VlensError, verdict: Verdict) -> NoReturn:
    """An attempt the client's closing ended: never retried."""
    if verdict is Verdict.UNKNOWN:
        reason = "the client was closed while the request was in flight"
        raise OutcomeUnknownError(name, reason, error=failure) from failure
    message = f"{name}: the client was closed during the call; not retried"
    raise ClientClosedError(message, operation=name) from failure
