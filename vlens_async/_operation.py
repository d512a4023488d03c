"""A call's parts that the pipeline reads: the operation, per-call options, the client's
lifecycle, and one call's state across its attempts."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Generic, TypeVar

import attrs

from vlens_transports import Request, Timeout

from ._errors import ClientClosedError, EventLoopMismatchError
from ._observe import CallObserver
from ._retry import RetryPolicy

__all__ = ["CallOptions", "CallState", "Lifecycle", "Operation", "parse_retry_after"]

T = TypeVar("T")


@attrs.frozen
class Operation(Generic[T]):
    """One Vlens endpoint as the SDK calls it.

    Attributes:
        name: the SDK's name for it, e.g. ``"registration.send_phone_otp"``.
        path: the URL path, starting with ``/api/``.
        effect: True when the call has a side effect (sent message, consumed attempt, account):
            then it is repeated only when the request certainly was not processed.
        result: the type ``data`` decodes to (``object``: any JSON, kept as is).
    """

    name: str
    path: str
    effect: bool
    result: type[T]


@attrs.frozen
class CallOptions:
    """One call's overrides of the client's settings; None keeps the client's.

    Attributes:
        timeout: per-attempt limits for this call.
        retry: the retry policy (attempts, waits, deadline) for this call.
        request_id: the ``X-Request-Id`` to send (by default 32 random hex digits, fresh per call).
    """

    timeout: Timeout | None = None
    retry: RetryPolicy | None = None
    request_id: str | None = None


class Lifecycle:
    """unopened -> open -> closed, shared by a client and its ``with_options`` copies."""

    __slots__ = ("loop", "state")

    def __init__(self) -> None:
        self.state = "unopened"
        self.loop: asyncio.AbstractEventLoop | None = None

    def enter(self) -> None:
        """Check that a call may be made now, on the running event loop (bound on first use)."""
        if self.state == "closed":
            raise ClientClosedError()
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop, self.state = loop, "open"
        elif loop is not self.loop:
            raise EventLoopMismatchError()


class CallState(Generic[T]):
    """One call's state across its attempts."""

    __slots__ = (
        "attempts",
        "body",
        "events",
        "operation",
        "request",
        "request_id",
        "retry",
        "subject",
        "token",
    )

    def __init__(
        self,
        operation: Operation[T],
        request: Request,
        body: object,
        token: str | None,
        subject: str | None,
        retry: RetryPolicy,
    ) -> None:
        self.operation = operation
        self.request = request
        self.body = body
        self.token = token
        self.subject = subject
        self.retry = retry
        self.request_id: str = request.headers["X-Request-Id"]
        self.attempts = 0
        self.events: CallObserver | None = None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
