"""One call's events, built and handed to the client's hooks (see :mod:`vlens_async.hooks`).

The pipeline makes a :class:`CallObserver` only when the client has hooks that override
something (:func:`observe` returns None otherwise), so a client without hooks pays one
``is None`` test per event point; and only the events the hooks override are built.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TypedDict

from ._errors import OutcomeUnknownError, VlensAPIError, VlensError
from ._redact import mask_contact
from .hooks import (
    CallStartEvent,
    ErrorEvent,
    Outcome,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    SuccessEvent,
    VlensHooks,
    deliver,
    implemented,
)

__all__ = ["CallObserver", "observe", "outcome_of", "type_name"]

_call_ids = itertools.count(1)  # next() on a count is atomic under the GIL


class _Common(TypedDict):
    call_id: int
    operation: str
    effect: bool
    request_id: str
    subject: str | None


def outcome_of(error: BaseException) -> Outcome:
    """The :data:`~vlens_async.hooks.Outcome` of a call that raised ``error``."""
    if isinstance(error, OutcomeUnknownError):
        return "unknown"
    if isinstance(error, VlensAPIError):
        return "refused"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return "error"


def type_name(error: BaseException) -> str:
    """The error's class name, private subclasses (``_DeadlineExceeded``) by their public base."""
    for cls in type(error).__mro__:
        if not cls.__name__.startswith("_"):
            return cls.__qualname__
    return type(error).__qualname__  # unreachable: BaseException is public


def observe(
    hooks: VlensHooks | None,
    operation: str,
    *,
    effect: bool,
    request_id: str,
    subject: str | None,
) -> CallObserver | None:
    """Start reporting one call to ``hooks`` (``on_call_start`` now); None if none listen."""
    if hooks is None:
        return None
    wanted = implemented(hooks)
    if not wanted:
        return None
    return CallObserver(hooks, wanted, operation, effect, request_id, subject)


class CallObserver:
    """Turns the pipeline's progress through one call into events for the hooks.

    It remembers the attempt number and the last answer's status and Vlens code, so that
    each method takes only what the pipeline has at hand.
    """

    __slots__ = (
        "_attempt",
        "_attempt_started",
        "_code",
        "_common",
        "_hooks",
        "_started",
        "_status",
        "_wanted",
    )

    def __init__(
        self,
        hooks: VlensHooks,
        wanted: frozenset[str],
        operation: str,
        effect: bool,
        request_id: str,
        subject: str | None,
    ) -> None:
        self._hooks = hooks
        self._wanted = wanted
        self._started = self._attempt_started = time.perf_counter()
        self._common = _Common(
            call_id=next(_call_ids),
            operation=operation,
            effect=effect,
            request_id=request_id,
            subject=mask_contact(subject),
        )
        self._attempt = 0
        self._status: int | None = None
        self._code: int | None = None
        if "on_call_start" in wanted:
            deliver(hooks.on_call_start, CallStartEvent(**self._common, elapsed=0.0))

    def request(self, attempt: int) -> None:
        """Attempt ``attempt`` (from 1) is about to be sent."""
        self._attempt = attempt
        self._attempt_started = now = time.perf_counter()
        self._status = self._code = None
        if "on_request" in self._wanted:
            event = RequestEvent(**self._common, elapsed=now - self._started, attempt=attempt)
            deliver(self._hooks.on_request, event)

    def response(self, status: int, error: VlensError | None = None) -> None:
        """The attempt's answer was decoded: to a result (``error`` None) or to ``error``."""
        self._status = status
        self._code = error.code if isinstance(error, VlensAPIError) else None
        if "on_response" in self._wanted:
            now = time.perf_counter()
            event = ResponseEvent(
                **self._common,
                elapsed=now - self._started,
                attempt=self._attempt,
                status=status,
                error_code=self._code,
                error=error,
                attempt_elapsed=now - self._attempt_started,
            )
            deliver(self._hooks.on_response, event)

    def retry(self, wait: float, error: VlensError) -> None:
        """The attempt failed with ``error``; the next one follows after ``wait`` seconds."""
        if "on_retry" in self._wanted:
            event = RetryEvent(
                **self._common,
                elapsed=time.perf_counter() - self._started,
                attempt=self._attempt,
                wait=wait,
                status=self._status,
                error_code=self._code,
                error_type=type_name(error),
                error=error,
            )
            deliver(self._hooks.on_retry, event)

    def success(self) -> None:
        """The call returns its result."""
        if "on_success" in self._wanted:
            event = SuccessEvent(
                **self._common,
                elapsed=time.perf_counter() - self._started,
                attempts=self._attempt,
                status=self._status,
            )
            deliver(self._hooks.on_success, event)

    def failure(self, error: BaseException) -> None:
        """The call ends by raising ``error`` (a VlensError, a cancellation or a bug)."""
        if "on_error" in self._wanted:
            event = ErrorEvent(
                **self._common,
                elapsed=time.perf_counter() - self._started,
                attempts=self._attempt,
                outcome=outcome_of(error),
                status=self._status,
                error_code=self._code,
                error_type=type_name(error),
                error=error if isinstance(error, VlensError) else None,
            )
            deliver(self._hooks.on_error, event)
