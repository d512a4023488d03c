"""One item's tries: a permit per attempt, waits between attempts, a run-wide halt."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import attrs

from .._errors import (
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    VlensConnectionError,
    VlensError,
    VlensTransportError,
)
from .._ratelimit import Limiter
from .._retry import RetryPolicy
from ._outcome import unexpected

__all__ = ["Attempted", "Halt", "Tries", "attempt", "call_back", "is_refusal", "is_transient"]


def is_refusal(error: VlensError) -> bool:
    """The server (or the network) refused before processing: safe to try again."""
    if isinstance(error, VlensConnectionError | RateLimitedError):
        return True
    return isinstance(error, ServerError) and error.http_status == 503


def is_transient(error: VlensError) -> bool:
    """Any passing failure: what a read call may retry (it has no effect to repeat)."""
    return is_refusal(error) or isinstance(error, VlensTransportError | ServerError)


class Attempted:
    """The result of :func:`attempt`: a value or an error, and how many requests it took."""

    __slots__ = ("attempts", "error", "value")

    def __init__(self, value: Any, error: VlensError | None, attempts: int) -> None:
        self.value, self.error, self.attempts = value, error, attempts


class Halt:
    """Ends a run's remaining calls without a request once an error of ``kinds`` proves that
    every call would meet it too (the API key refused).

    Attributes:
        error: the first such error, or None while the run goes on.
    """

    def __init__(self, *kinds: type[VlensError]) -> None:
        self.kinds = kinds
        self.error: VlensError | None = None

    def note(self, error: VlensError | None) -> None:
        """Remember ``error`` if it is the first of ``kinds``."""
        if self.error is None and self.kinds and isinstance(error, self.kinds):
            self.error = error


@attrs.frozen(kw_only=True)
class Tries:
    """How each item of a run is tried.

    Attributes:
        limiter: the permits, one per attempt (None: unlimited).
        max_attempts: requests per item at most.
        retryable: which errors are tried again (by default refusals only).
        policy: the waits between attempts (``RetryPolicy.wait_before``).
        sleep: how to wait (injectable for tests).
        halt: ends the remaining items without a request (``Halt()``: never).
    """

    limiter: Limiter | None
    max_attempts: int
    retryable: Callable[[VlensError], bool] = is_refusal
    policy: RetryPolicy = attrs.field(factory=RetryPolicy.no_wait)
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    halt: Halt = attrs.field(factory=Halt)

    def wait(self, attempts: int, error: VlensError) -> float:
        """The jittered step after ``attempts`` refused attempts, plus a capped Retry-After;
        not for a 429, whose Retry-After already paused the shared limiter."""
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, RateLimitedError) and self.limiter is not None:
            retry_after = None
        return self.policy.wait_before(attempts, retry_after)


async def call_back(hook: Callable[[], object] | None) -> None:
    """Run ``hook`` (a function, or one returning an awaitable)."""
    if hook is not None:
        ready = hook()
        if inspect.isawaitable(ready):
            await ready


async def attempt(
    call: Callable[[], Awaitable[Any]],
    tries: Tries,
    before: Callable[[], object] | None = None,
    retrying: Callable[[VlensError], object] | None = None,
) -> Attempted:
    """Run ``call`` under the rate limiter, retrying ``tries.retryable`` errors.

    Every attempt holds a permit (``async with limiter``, the exact mode) from before ``before``
    until its answer is back. ``before`` (a function, or one returning an awaitable) runs right
    before each request is handed over (a journal written there names only requests that may
    have been written); a ``VlensError`` it raises, or the limiter raises (a shared limiter that
    cannot be reached), ends the item with that error, nothing sent. ``retrying(error)`` runs
    after a refused attempt that will be tried again, then the item waits ``tries.wait``
    outside any permit. A rate-limit answer slows the whole dispatcher down (the limiter is
    shared), not just this item. An unknown outcome, or an unexpected exception from ``call``,
    is returned at once, never retried.
    """
    attempts = 0
    while True:
        result = await _permitted(call, tries, before, attempts)
        tries.halt.note(result.error)
        failure = result.error
        if result.attempts == attempts or failure is None or not _again(failure, tries, result):
            return result
        attempts = result.attempts
        if retrying is not None:
            await call_back(functools.partial(retrying, failure))
        await tries.sleep(tries.wait(attempts, failure))


def _again(failure: VlensError, tries: Tries, result: Attempted) -> bool:
    if isinstance(failure, OutcomeUnknownError) or tries.halt.error is not None:
        return False
    return tries.retryable(failure) and result.attempts < tries.max_attempts


async def _permitted(
    call: Callable[[], Awaitable[Any]],
    tries: Tries,
    before: Callable[[], object] | None,
    attempts: int,
) -> Attempted:
    """One attempt inside its permit; nothing sent (``attempts`` unchanged) when the run was
    halted, the limiter failed or ``before`` refused."""
    if (halted := _halted(tries, attempts)) is not None:
        return halted
    result = None
    try:
        async with _permit(tries.limiter):
            if (halted := _halted(tries, attempts)) is not None:  # while this item waited
                return halted
            await call_back(before)
            result = await _one(call, tries.limiter, attempts + 1)
    except VlensError as error:
        if result is None:  # no permit, or `before` refused: nothing was sent
            return Attempted(None, error, attempts)
        # the permit's release failed after the request: its answer stands
    return result


def _halted(tries: Tries, attempts: int) -> Attempted | None:
    error = tries.halt.error
    return None if error is None else Attempted(None, error, attempts)


def _permit(limiter: Limiter | None) -> AbstractAsyncContextManager[object]:
    return contextlib.nullcontext() if limiter is None else limiter


async def _one(call: Callable[[], Awaitable[Any]], limiter: Limiter | None, n: int) -> Attempted:
    """One request, inside its permit; errors are returned, never raised."""
    try:
        value = await call()
    except VlensError as error:
        if isinstance(error, RateLimitedError) and limiter is not None:
            limiter.slow_down(error.retry_after)  # told while the permit is held: shared at once
        return Attempted(None, error, n)
    except Exception as error:  # noqa: BLE001 - a bug below us, after the hand-over
        return Attempted(None, unexpected(error), n)
    if limiter is not None:
        limiter.succeeded()
    return Attempted(value, None, n)
