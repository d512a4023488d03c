"""The HTTP answers behind calls, safe to keep: for errors' ``.response`` and for
:func:`capture_response`, the way to read the status and headers of a successful call."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

from ._errors import RawResponse
from ._redact import redact_excerpt, redact_secrets

__all__ = [
    "SERVER_ID_HEADERS",
    "CapturedResponse",
    "capture_response",
    "captured",
    "envelope_code",
    "raw_response",
    "server_request_id",
]

SERVER_ID_HEADERS = (
    "x-request-id",
    "x-correlation-id",
    "request-id",
    "x-amzn-requestid",
    "x-amzn-trace-id",
    "traceparent",
    "cf-ray",
)
"""Response headers naming the request on the server's side, most specific first."""

# Headers whose whole value is a credential or a session.
_HIDDEN_HEADERS = frozenset(
    {"set-cookie", "cookie", "authorization", "proxy-authorization", "www-authenticate", "apikey"}
)


class CapturedResponse:
    """Filled by the calls made inside :func:`capture_response`.

    Attributes:
        response: the last HTTP answer received (the final attempt's), or None before any.
    """

    __slots__ = ("response",)

    def __init__(self) -> None:
        self.response: RawResponse | None = None

    def __repr__(self) -> str:
        return f"<CapturedResponse {self.response!r}>"


_CAPTURE: ContextVar[CapturedResponse | None] = ContextVar("vlens_capture", default=None)


@contextlib.contextmanager
def capture_response() -> Iterator[CapturedResponse]:
    """Record the HTTP answer of the calls made in this block, successful ones included::

        with vlens_async.capture_response() as captured:
            sent = await vlens.registration.send_phone_otp("+201001234567")
        print(captured.response.status, captured.response.headers.get("x-request-id"))

    It follows the current task (a ``ContextVar``): concurrent tasks each use their own block.
    Tasks started inside the block record into the same object, last answer wins. Headers and
    body excerpt are redacted as on errors (:class:`~vlens_async.RawResponse`).
    """
    holder = CapturedResponse()
    token = _CAPTURE.set(holder)
    try:
        yield holder
    finally:
        _CAPTURE.reset(token)


def captured() -> CapturedResponse | None:
    """The holder of the enclosing :func:`capture_response` block, or None."""
    return _CAPTURE.get()


def raw_response(
    status: int, headers: Mapping[str, str], content: bytes, secrets: list[str]
) -> RawResponse:
    """A :class:`RawResponse` with credential headers hidden and ``secrets`` redacted."""
    kept = {
        name: "***" if name in _HIDDEN_HEADERS else redact_secrets(value, secrets)
        for name, value in headers.items()
    }
    excerpt = redact_secrets(redact_excerpt(content), secrets) if content else ""
    return RawResponse(status=status, headers=kept, excerpt=excerpt)


def server_request_id(headers: Mapping[str, str]) -> str | None:
    """The first request-id or trace header of a response (names lower-cased), or None."""
    for name in SERVER_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def envelope_code(content: bytes) -> int | None:
    """The envelope's ``error_code`` when the body is one and carries a non-zero code.

    Read again only for an error answer (the codec keeps no raw body), so its cost is no
    concern.
    """
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return None
    code = body.get("error_code") if isinstance(body, dict) else None
    if isinstance(code, bool) or not isinstance(code, int) or code == 0:
        return None
    return code
