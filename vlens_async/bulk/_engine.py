"""The dispatch engine: lazy intake, bounded concurrency, rate limits, safe retries."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
)
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

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

__all__ = [
    "Attempted",
    "Halt",
    "Tries",
    "attempt",
    "call_back",
    "dispatch",
    "is_refusal",
    "is_transient",
]

T = TypeVar("T")
R = TypeVar("R")


async def _aiter(items: Iterable[T] | AsyncIterable[T]) -> AsyncGenerator[T, None]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def dispatch(
    items: Iterable[T] | AsyncIterable[T],
    intake: Callable[[T], R | None],
    work: Callable[[T], Awaitable[R]],
    *,
    concurrency: int,
    finalize: Callable[[], object] | None = None,
) -> AsyncGenerator[R, None]:
    """Yield ``work(item)`` results as they finish, with at most ``concurrency`` in flight.

    ``intake`` runs first, as each item is pulled: it may answer at once (bad or repeated input)
    without taking a slot. Items are pulled only when a slot is free, so memory follows
    ``concurrency``, not the number of items. Results are yielded while the next item is
    awaited, so a slow async source (a pipe) does not hold back finished work. Closing the
    iterator early (``break``, cancellation) cancels the work in flight and waits for it to
    unwind; ``finalize`` runs last.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    flow = _Flow(items, intake, work, concurrency)
    try:
        while (results := await flow.step()) is not None:
            for result in results:
                yield result
    finally:
        await flow.close()
        if finalize is not None:
            finalize()


class _Flow:
    """The state of one :func:`dispatch`: the source, the work in flight, the pending pull."""

    def __init__(
        self,
        items: Iterable[Any] | AsyncIterable[Any],
        intake: Callable[[Any], Any],
        work: Callable[[Any], Awaitable[Any]],
        concurrency: int,
    ) -> None:
        # A plain iterable is pulled directly (it cannot wait); an async one through a task,
        # so that finished work is yielded while it waits.
        self.direct = None if isinstance(items, AsyncIterable) else iter(items)
        self.source = _aiter(() if self.direct is not None else items)
        self.intake, self.work, self.concurrency = intake, work, concurrency
        self.running: set[asyncio.Future[Any]] = set()
        self.pull: asyncio.Future[Any] | None = None
        self.exhausted = False

    def _take(self, item: Any, results: list[Any]) -> None:
        immediate = self.intake(item)
        if immediate is not None:
            results.append(immediate)
        else:
            self.running.add(asyncio.ensure_future(self.work(item)))

    async def step(self) -> list[Any] | None:
        """Start what fits, wait for something to finish; its results (None: all done)."""
        results: list[Any] = []
        while self.direct is not None and not self.exhausted and self._room():
            try:
                self._take(next(self.direct), results)
            except StopIteration:
                self.exhausted = True
        if results:
            return results
        if self.direct is None and self.pull is None and not self.exhausted and self._room():
            self.pull = asyncio.ensure_future(self.source.__anext__())
        waiting = self.running if self.pull is None else self.running | {self.pull}
        if not waiting:
            return None
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if self.pull is not None and self.pull in done:
            done.discard(self.pull)
            pulled, self.pull = self.pull, None
            try:
                self._take(pulled.result(), results)
            except StopAsyncIteration:
                self.exhausted = True
        self.running -= done
        results.extend(task.result() for task in done)
        return results

    def _room(self) -> bool:
        return len(self.running) < self.concurrency

    async def close(self) -> None:
        """Cancel the work in flight (and a pending pull), wait for it, close the source."""
        unfinished = self.running | ({self.pull} if self.pull is not None else set())
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.gather(*unfinished, return_exceptions=True)
        await self.source.aclose()


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
