"""The exceptions of vlens-async. The tree says what the caller may do next::

VlensError
├── VlensInputError (also ValueError)   caught before sending; names the field; nothing sent
├── ClientClosedError (also RuntimeError)      the client was closed (before or during the call)
├── EventLoopMismatchError (also RuntimeError) used on another event loop than its own
├── VlensTransportError                 the exchange failed below HTTP
│   ├── VlensConnectionError            the request was never sent: safe to repeat
│   └── VlensTimeoutError               a read call got no answer in time
├── OutcomeUnknownError                 an effect call may or may not have happened:
│                                       reconcile, do not resend blindly (.error: what failed)
├── VlensResponseError                  the body is not a valid envelope (HTML page, bad JSON,
│                                       wrong types, too large): status + redacted excerpt
└── VlensAPIError                       the server refused: read .vlens_code, .http_status
    ├── AuthenticationError             401/403: wrong API key, missing or expired token
    ├── InvalidRequestError             400/415: fix the request
    ├── RateLimitedError                429/4003: wait .retry_after seconds, then retry
    ├── QuotaError                      4001-4007: bundle or subscription problem
    └── ServerError                     500-504/5000: the service failed

Every error raised once the call started carries ``.request_id`` (the ``X-Request-Id`` sent,
the same on every attempt; None on input errors) and ``.server_request_id`` (the first
request-id or trace header the server answered with: ``x-request-id``, ``x-correlation-id``,
``request-id``, ``x-amzn-requestid``, ``x-amzn-trace-id``, ``traceparent``, ``cf-ray``; None
when it sent none). ``VlensAPIError`` and ``VlensResponseError`` carry ``.response``, a
:class:`RawResponse` (status, headers, redacted body excerpt).

On ``VlensAPIError``: ``.http_status`` is the HTTP status (200 for a Vlens 4003 riding on a
success status); ``.vlens_code`` is the envelope's ``error_code``, or None when the answer
carried none (an HTML 502 page, an empty 429); ``.code`` is kept for compatibility: the Vlens
code, or the HTTP status when there was none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import attrs

from ._redact import hide_codes_in, hide_codes_within, mask_contacts_in

_MESSAGE_LIMIT = 500  # characters of a server's error message kept

__all__ = [
    "AuthenticationError",
    "ClientClosedError",
    "EventLoopMismatchError",
    "InvalidRequestError",
    "OutcomeUnknownError",
    "QuotaError",
    "RateLimitedError",
    "RawResponse",
    "ServerError",
    "VlensAPIError",
    "VlensConnectionError",
    "VlensError",
    "VlensInputError",
    "VlensResponseError",
    "VlensTimeoutError",
    "VlensTransportError",
    "error_class_for_code",
]


@attrs.frozen(kw_only=True)
class RawResponse:
    """An HTTP answer as received, safe to log: nothing secret is kept.

    Attributes:
        status: the HTTP status.
        headers: the response headers, names lower-cased; cookie and credential headers show
            ``***``, and the call's secrets are replaced by ``***`` in every value.
        excerpt: the start of the body (about 160 characters), with secrets and personal
            data redacted as in error messages.
    """

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    excerpt: str = ""


class VlensError(Exception):
    """Base of every error this SDK raises on purpose.

    Attributes:
        operation: the SDK operation, e.g. ``"registration.send_phone_otp"``, when known.
        request_id: the ``X-Request-Id`` of the call (None before sending, e.g. input errors).
        server_request_id: the request-id or trace header the server answered with, or None.
        response: the HTTP answer the error came from (:class:`RawResponse`), or None when
            there was none (always set on ``VlensAPIError`` and ``VlensResponseError`` raised
            by a call).
    """

    operation: str | None = None
    request_id: str | None = None
    server_request_id: str | None = None
    response: RawResponse | None = None


class VlensInputError(VlensError, ValueError):
    """An argument failed validation; no request was sent.

    Attributes:
        field: the argument's name, e.g. ``"phone_number"``.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ClientClosedError(VlensError, RuntimeError):
    """The client was closed: before the call, or while it was in flight (then not retried).

    Create one client per event loop, in your app's lifespan, and close it when the app stops.
    """

    def __init__(self, message: str | None = None, *, operation: str | None = None) -> None:
        super().__init__(
            message
            or "this VlensClient is closed; create a new one (one client per event loop, "
            "made and closed in your app's lifespan)"
        )
        self.operation = operation


class EventLoopMismatchError(VlensError, RuntimeError):
    """The client was used (or closed) on an event loop other than the one it first ran on.

    Its connections belong to that loop: create one client per event loop, in your app's
    lifespan (or inside the ``asyncio.run`` that uses it).
    """

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "this VlensClient belongs to the event loop it was first used on; create one "
            "client per event loop, in your app's lifespan (or inside the asyncio.run using it)"
        )


class VlensTransportError(VlensError):
    """The HTTP exchange itself failed (no usable response)."""

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation


class VlensConnectionError(VlensTransportError):
    """The request was never sent (no connection, or the pool wait or the deadline ran out
    first): it certainly did not reach the server, so repeating it is safe."""


class VlensTimeoutError(VlensTransportError):
    """No answer arrived in time (per-attempt read timeout or the call's deadline)."""


class OutcomeUnknownError(VlensError):
    """An effect call failed after the request may have been processed.

    The SDK never resends such a call on its own, because that could text a person twice or
    consume an OTP attempt. Reconcile (for example with an existence check) before deciding.

    Attributes:
        reason: a short description of what happened.
        error: the underlying error (also the ``__cause__``), when there is one.
    """

    def __init__(self, operation: str, reason: str, *, error: VlensError | None = None) -> None:
        super().__init__(f"{operation}: outcome unknown ({reason}); not resent automatically")
        self.operation = operation
        self.reason = reason
        self.error = error


class VlensResponseError(VlensError):
    """The response could not be read as a Vlens envelope.

    Attributes:
        http_status: the HTTP status of the response.
        excerpt: the start of the body, with secrets and personal data redacted.
    """

    def __init__(
        self, problem: str, *, http_status: int, excerpt: str, operation: str | None = None
    ) -> None:
        # Not repr(): the excerpt must read as it is stored, for redaction by value to meet it.
        shown = f"; body starts: '{excerpt}'" if excerpt else "; empty body"
        super().__init__(f"{operation or 'response'}: HTTP {http_status}: {problem}{shown}")
        self.problem = problem
        self.http_status = http_status
        self.excerpt = excerpt
        self.operation = operation


class VlensAPIError(VlensError):
    """Vlens answered with an error code.

    Attributes:
        code: the Vlens ``error_code``, or the HTTP status when the body carried none (kept
            for compatibility; prefer ``vlens_code`` and ``http_status``).
        vlens_code: the envelope's ``error_code``, or None when the answer carried none.
        message: the server's ``error_message`` (its first 500 characters, on one line).
        descriptions: the server's ``error_descriptions`` (any JSON), field-level details.
        http_status: the HTTP status of the response.
        operation: the SDK operation, e.g. ``"registration.send_phone_otp"``.
    """

    def __init__(
        self,
        code: int,
        message: str | None,
        *,
        http_status: int,
        operation: str | None = None,
        descriptions: Any = None,
        retry_after: float | None = None,
        vlens_code: int | None = None,
    ) -> None:
        message = None if message is None else _one_line(message)
        text = mask_contacts_in(message) if message else "no message"
        super().__init__(f"{operation or 'call'} failed: [{code}] {text} (HTTP {http_status})")
        self.code = code
        self.message = None if message is None else hide_codes_in(message)
        self.descriptions = hide_codes_within(descriptions)
        self.http_status = http_status
        self.operation = operation
        self.retry_after = retry_after
        self.vlens_code = vlens_code


def _one_line(message: str) -> str:
    """A server's message cut to ``_MESSAGE_LIMIT`` characters, on one line, control characters
    replaced: it is printed on terminals, and masking a megabyte of text takes minutes."""
    text = " ".join(message[: _MESSAGE_LIMIT * 2].split())
    text = "".join("\ufffd" if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


class AuthenticationError(VlensAPIError):
    """The API key, credentials or bearer token were refused (401/403)."""


class InvalidRequestError(VlensAPIError):
    """The server refused the request as invalid (400/415, or a 422 with such a code)."""


class RateLimitedError(VlensAPIError):
    """Too many requests or attempts (HTTP 429, Vlens 4003). See :attr:`retry_after`."""


class QuotaError(VlensAPIError):
    """A bundle or subscription problem (Vlens 4001-4007 other than 4003)."""


class ServerError(VlensAPIError):
    """The service failed (HTTP 500-504, Vlens 5000)."""


_CODE_CLASSES: dict[int, type[VlensAPIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    415: InvalidRequestError,
    429: RateLimitedError,
    4003: RateLimitedError,
    500: ServerError,
    501: ServerError,
    502: ServerError,
    503: ServerError,
    504: ServerError,
    5000: ServerError,
}
_CODE_CLASSES.update(dict.fromkeys((4001, 4002, 4004, 4005, 4006, 4007), QuotaError))


def error_class_for_code(code: int, http_status: int) -> type[VlensAPIError]:
    """The exception class for a Vlens code, falling back to the HTTP status's class."""
    return _CODE_CLASSES.get(code) or _CODE_CLASSES.get(http_status) or VlensAPIError
