"""The one path every call takes: request -> transport (with retries, deadline) -> decode.

Services describe an :class:`Operation` and hand a body to :meth:`Caller.call`; nothing else in
the SDK touches the transport.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import attrs

from vlens_transports import (
    ConnectError,
    Request,
    Response,
    ResponseTooLarge,
    Timeout,
    Transport,
    TransportError,
    TransportTimeout,
)
from vlens_transports._loops import forks, task_on
from vlens_transports._models import request_of
from vlens_transports._watchdog import Deadline, Watchdog

from ._codec import Codec
from ._errors import (
    OutcomeUnknownError,
    ServerError,
    VlensAPIError,
    VlensConnectionError,
    VlensError,
    VlensResponseError,
    VlensTimeoutError,
    VlensTransportError,
)
from ._redact import mask_contact
from ._retry import Retryable, RetryPolicy

__all__ = ["Caller", "Lifecycle", "Operation", "parse_retry_after"]

T = TypeVar("T")
logger = logging.getLogger("vlens_async")

# Statuses at which the server refused to process the request: safe to repeat any call.
_REFUSED_STATUSES = frozenset({429, 503})
_UNKNOWN_STATUSES = frozenset({500, 502, 504})


_DEADLINE = "vlens-async: the call's deadline passed"
"""The message the deadline timer cancels with, so that it is told from any other cancel."""


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

    __slots__ = ("forks", "loop", "state", "thread")

    def __init__(self) -> None:
        self.state = "unopened"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = 0  # the thread the loop was first used in
        self.forks = 0  # and the process: forks counted then

    def enter(self) -> asyncio.Task[Any] | None:
        """Check that a call may be made now, on this event loop; return the task making it."""
        if self.state == "open":
            task = task_on(self.loop, self.thread, self.forks)  # no getpid() on Python 3.11
            if task is not None:
                return task
        if self.state == "closed":
            raise RuntimeError("this VlensClient is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop, self.state, self.thread = loop, "open", threading.get_ident()
            self.forks = forks()
        elif loop is not self.loop:
            raise RuntimeError(
                "this VlensClient was first used on another event loop; create one per loop"
            )
        return asyncio.current_task(loop)


class _Attempts(Deadline):
    """One call's progress: its deadline, attempts made, the task to cancel while one runs."""

    __slots__ = ("caller", "count", "last_error")

    def __init__(self, deadline: float | None, caller: asyncio.Task[Any] | None) -> None:
        # Attached from the start: nothing awaits before the first attempt's send.
        super().__init__(deadline, caller)
        self.caller = caller  # the task making the call: task while an attempt awaits
        self.count = 0
        self.last_error: VlensError | None = None


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
        self._retrying: Callable[..., Awaitable[Any]] | None = retry.decorate_retries(self._attempt)
        self._watchdog: Watchdog[_Attempts] = Watchdog(_DEADLINE)

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
        caller = self.lifecycle.enter()
        headers: Mapping[str, str] = self._frozen_headers
        if token is not None or extra_headers:
            headers = {**headers, **(extra_headers or {})}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
        request = request_of(
            "POST", self.base_url + operation.path, headers, self.codec.encode(body), self.timeout
        )
        deadline = self.retry.deadline
        if deadline is None:
            attempts = _Attempts(None, caller)
        else:
            attempts = _Attempts(time.monotonic() + deadline, caller)
            self._watchdog.add(attempts)
        try:
            result: T = await self._attempt(operation, request, attempts, subject)
        except Retryable as first:
            result = await self._retry(first, operation, request, attempts, subject)
        finally:
            if deadline is not None:
                self._watchdog.remove(attempts)
        return result

    async def _retry(
        self,
        first: Retryable,
        operation: Operation[T],
        request: Request,
        attempts: _Attempts,
        subject: str | None,
    ) -> T:
        """The attempts after a retryable first failure, under ``backoff``."""
        if self._retrying is None or self.retry.give_up(first):
            raise first.error from first.error.__cause__
        await asyncio.sleep(self.retry.wait_before(1, first))
        try:
            result: T = await self._retrying(operation, request, attempts, subject)
        except Retryable as signal:
            raise signal.error from signal.error.__cause__
        return result

    async def _attempt(
        self, operation: Operation[T], request: Request, attempts: _Attempts, subject: str | None
    ) -> T:
        if attempts.last_error is not None:
            remaining = _remaining(attempts)
            if remaining is not None and remaining <= 0:
                # The wait used up the deadline: send nothing more, report the last attempt.
                raise attempts.last_error
        attempts.count += 1
        logged = logger.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if logged else 0.0
        response: Response | None = None
        failure: VlensError | None = None
        try:
            if attempts.task is None and attempts.deadline is not None:  # a retry
                attempts.attach(attempts.caller)
            try:
                response = await self.transport.send(request)
            except asyncio.CancelledError as exc:
                if not self._watchdog.cancelled(exc, attempts):
                    raise  # the caller's own cancellation: never turned into an error
                message = f"{operation.name}: the call's deadline of {self.retry.deadline}s passed"
                raise _DeadlineExceeded(message, operation=operation.name) from None
            except TransportError as exc:
                raise _transport_error(operation, exc) from exc
            finally:
                attempts.task = None
            # Read on any status: a 4003 "too many" may ride on HTTP 200 (retrying is decided
            # by _classify). Written out here rather than called: this is every call's path.
            header = response.headers.get("retry-after")
            return self.codec.decode(  # type: ignore[no-any-return]
                response.status,
                response.content,
                operation.result,
                operation=operation.name,
                retry_after=None if header is None else parse_retry_after(header),
            )
        except VlensError as error:
            failure = error
            decided = self._classify(operation, error, response, attempts)
            attempts.last_error = error
            if decided is error:
                raise
            raise decided from error
        finally:
            if logged:
                logger.debug(
                    "%s attempt=%d status=%s elapsed=%.1fms subject=%s",
                    operation.name,
                    attempts.count,
                    _outcome(response, failure),
                    (time.perf_counter() - started) * 1000,
                    mask_contact(subject),
                )

    def _classify(
        self,
        operation: Operation[Any],
        error: VlensError,
        response: Response | None,
        attempts: _Attempts,
    ) -> Exception:
        """Decide what a failed attempt becomes: retried, final, or outcome unknown."""
        status = response.status if response is not None else None
        refused = isinstance(error, VlensConnectionError) or (
            isinstance(error, VlensAPIError) and status in _REFUSED_STATUSES
        )
        if isinstance(error, _DeadlineExceeded):
            return _unknown(operation, "the deadline passed") or error
        if refused:
            return Retryable(error, retry_after=_retry_after(error), remaining=_remaining(attempts))
        may_have_happened = isinstance(error, VlensTransportError) or status in _UNKNOWN_STATUSES
        if not may_have_happened:
            return error
        if operation.effect:
            return _unknown(operation, _reason(error, status)) or error
        if isinstance(error, (VlensTransportError, ServerError)):
            return Retryable(error, retry_after=_retry_after(error), remaining=_remaining(attempts))
        return error


class _DeadlineExceeded(VlensTimeoutError):
    """The call's overall deadline passed during an attempt."""


def _outcome(response: Response | None, failure: VlensError | None) -> str:
    """What the DEBUG log says an attempt ended with: the HTTP status, else the error's type."""
    if response is not None:
        return str(response.status)
    return "error" if failure is None else type(failure).__name__


def _transport_error(operation: Operation[Any], exc: TransportError) -> VlensError:
    if isinstance(exc, ResponseTooLarge):
        return VlensResponseError(
            str(exc), http_status=exc.status, excerpt="", operation=operation.name
        )
    if isinstance(exc, ConnectError):
        return VlensConnectionError(str(exc), operation=operation.name)
    if isinstance(exc, TransportTimeout):
        return VlensTimeoutError(str(exc), operation=operation.name)
    return VlensTransportError(str(exc), operation=operation.name)


def _remaining(attempts: _Attempts) -> float | None:
    if attempts.deadline is None:
        return None
    return attempts.deadline - time.monotonic()


def _retry_after(error: VlensError) -> float | None:
    return error.retry_after if isinstance(error, VlensAPIError) else None


def _reason(error: VlensError, status: int | None) -> str:
    if status is not None:
        return f"HTTP {status}"
    if isinstance(error, VlensTimeoutError):
        return "no response before the read timeout"
    return "the connection broke after the request was sent"


def _unknown(operation: Operation[Any], reason: str) -> OutcomeUnknownError | None:
    if not operation.effect:
        return None
    return OutcomeUnknownError(operation.name, reason)
