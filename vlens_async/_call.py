"""The one path every call takes: request -> transport (with retries, deadline) -> decode.

Services describe an :class:`Operation` and hand a body to :meth:`Caller.call`; nothing else in
the SDK touches the transport. What a failed attempt becomes is decided in ``_outcomes``.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Generic, NoReturn, TypeVar

import attrs

from vlens_transports import (
    ConnectError,
    DecodingError,
    Request,
    Response,
    ResponseTooLarge,
    Timeout,
    Transport,
    TransportClosed,
    TransportError,
    TransportLoopMismatch,
    TransportTimeout,
)

from ._codec import Codec
from ._errors import (
    ClientClosedError,
    EventLoopMismatchError,
    OutcomeUnknownError,
    VlensConnectionError,
    VlensError,
    VlensResponseError,
    VlensTimeoutError,
    VlensTransportError,
)
from ._outcomes import Verdict, judge, reason_of
from ._redact import mask_contact, redact_error, secrets_of
from ._retry import Retryable, RetryPolicy

__all__ = ["Caller", "Lifecycle", "Operation", "parse_retry_after"]

T = TypeVar("T")
logger = logging.getLogger("vlens_async")


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


class _Call(Generic[T]):
    """One call's state across its attempts."""

    __slots__ = ("attempts", "body", "operation", "request", "subject", "token")

    def __init__(
        self,
        operation: Operation[T],
        request: Request,
        body: object,
        token: str | None,
        subject: str | None,
    ) -> None:
        self.operation = operation
        self.request = request
        self.body = body
        self.token = token
        self.subject = subject
        self.attempts = 0


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


class Caller:
    """Builds requests and runs them through the retry loop. Shared by a client's services."""

    def __init__(
        self,
        *,
        transport: Transport,
        base_url: str,
        headers: Mapping[str, str],
        timeout: Timeout,
        retry: RetryPolicy,
        codec: Codec,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.lifecycle = lifecycle or Lifecycle()
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self._frozen_headers = MappingProxyType(self.headers)
        self.timeout = timeout
        self.retry = retry
        self.codec = codec
        self._attempts = retry.retrying(self._attempt)

    async def call(
        self,
        operation: Operation[T],
        body: object,
        *,
        token: str | None = None,
        subject: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> T:
        """Send ``body`` to ``operation`` and return its decoded result, or raise a VlensError.

        ``subject`` (a phone number or e-mail) is only logged, masked.
        """
        self.lifecycle.enter()
        headers: Mapping[str, str] = self._frozen_headers
        if token is not None or extra_headers:
            headers = {**headers, **(extra_headers or {})}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
        deadline = self.retry.deadline
        request = Request(
            method="POST",
            url=self.base_url + operation.path,
            headers=headers,
            content=self.codec.encode(body),
            timeout=self.timeout,
            deadline=None if deadline is None else time.monotonic() + deadline,
        )
        try:
            result: T = await self._attempts(_Call(operation, request, body, token, subject))
        except Retryable as signal:  # no retry left: the last attempt's error is the answer
            raise signal.error from signal.error.__cause__
        return result

    async def _attempt(self, call: _Call[T]) -> T:
        """One attempt: send, decode, or raise what the failure becomes (see ``_outcomes``)."""
        if self.lifecycle.state == "closed":  # closed while the call waited to retry
            raise ClientClosedError(operation=call.operation.name)
        call.attempts += 1
        started = time.perf_counter()
        response: Response | None = None
        outcome = "error"
        try:
            try:
                response = await self.transport.send(call.request)
            except TransportError as exc:
                raise _from_transport(call.operation, exc) from exc
            outcome = str(response.status)
            # Read on any status: a 4003 "too many" may ride on HTTP 200.
            header = response.headers.get("retry-after")
            result: T = self.codec.decode(
                response.status,
                response.content,
                call.operation.result,
                operation=call.operation.name,
                retry_after=None if header is None else parse_retry_after(header),
            )
        except VlensError as failure:
            if response is None:
                outcome = type(failure).__name__
            self._fail(call, failure)
        finally:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s attempt=%d status=%s elapsed=%.1fms subject=%s",
                    call.operation.name,
                    call.attempts,
                    outcome,
                    (time.perf_counter() - started) * 1000,
                    mask_contact(call.subject),
                )
        return result

    def _fail(self, call: _Call[Any], failure: VlensError) -> NoReturn:
        """Raise what a failed attempt becomes: a retry signal, the error, or outcome unknown."""
        api_key = self.headers.get("ApiKey")
        redact_error(failure, secrets_of(call.body, api_key, call.token))
        operation = call.operation
        verdict = judge(failure, effect=operation.effect)
        if self.lifecycle.state == "closed" and verdict is not Verdict.FINAL:
            _fail_closed(operation, failure, verdict)  # aclose() ran during the attempt
        if verdict is Verdict.RETRY and call.attempts < self.retry.max_attempts:
            retry_after = getattr(failure, "retry_after", None)
            deadline = call.request.deadline
            raise Retryable(
                failure,
                wait=self.retry.wait_before(call.attempts, retry_after),
                remaining=None if deadline is None else deadline - time.monotonic(),
            )
        if verdict is Verdict.UNKNOWN:
            reason = reason_of(failure)
            raise OutcomeUnknownError(operation.name, reason, error=failure) from failure
        raise failure  # final, or retryable with no attempt left


def _from_transport(operation: Operation[Any], exc: TransportError) -> VlensError:
    """The SDK error for a transport failure (its message is already free of secrets)."""
    name = operation.name
    if isinstance(exc, TransportLoopMismatch):  # final, like the client's own loop check
        return EventLoopMismatchError(f"{name}: {exc}")
    # Nothing more can be sent: final, never retried (an effect maybe written stays unknown).
    if isinstance(exc, TransportClosed) and not (exc.may_have_reached_server and operation.effect):
        return ClientClosedError(f"{name}: {exc}; not retried", operation=name)
    if isinstance(exc, (ResponseTooLarge, DecodingError)):
        return VlensResponseError(str(exc), http_status=exc.status, excerpt="", operation=name)
    if isinstance(exc, ConnectError):
        return VlensConnectionError(f"{name}: not sent: {exc}", operation=name)
    if isinstance(exc, TransportTimeout):
        return VlensTimeoutError(f"{name}: {exc}", operation=name)
    return VlensTransportError(f"{name}: {exc}", operation=name)


def _fail_closed(operation: Operation[Any], failure: VlensError, verdict: Verdict) -> NoReturn:
    """An attempt the client's closing ended: never retried."""
    if verdict is Verdict.UNKNOWN:
        reason = "the client was closed while the request was in flight"
        raise OutcomeUnknownError(operation.name, reason, error=failure) from failure
    message = f"{operation.name}: the client was closed during the call; not retried"
    raise ClientClosedError(message, operation=operation.name) from failure
