"""The dispatch engine: lazy intake, bounded concurrency, rate limits, safe retries."""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
)
from typing import Any, TypeVar

from .._errors import (
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    VlensConnectionError,
    VlensError,
    VlensTransportError,
)
from ._limits import RateLimiter
from ._outcome import unexpected

__all__ = ["Attempted", "attempt", "dispatch", "is_refusal", "is_transient"]

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
    # A plain iterable is pulled directly (it cannot wait); an async one through a task, so
    # that finished work is yielded while it waits.
    direct = None if isinstance(items, AsyncIterable) else iter(items)
    source = _aiter(() if direct is not None else items)
    pending: set[asyncio.Future[Any]] = set()
    pull: asyncio.Future[T] | None = None
    exhausted = False
    try:
        while True:
            while direct is not None and not exhausted and len(pending) < concurrency:
                try:
                    item = next(direct)
                except StopIteration:
                    exhausted = True
                    break
                if (immediate := intake(item)) is not None:
                    yield immediate
                else:
                    pending.add(asyncio.ensure_future(work(item)))
            if direct is None and pull is None and not exhausted and len(pending) < concurrency:
                pull = asyncio.ensure_future(source.__anext__())
            if pull is None and not pending:
                return
            waiting = pending if pull is None else pending | {pull}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if pull is not None and pull in done:
                done.discard(pull)
                try:
                    item = pull.result()
                except StopAsyncIteration:
                    exhausted = True
                else:
                    if (immediate := intake(item)) is not None:
                        yield immediate
                    else:
                        pending.add(asyncio.ensure_future(work(item)))
                pull = None
            for task in done:
                pending.discard(task)
                yield task.result()
    finally:
        if pull is not None:
            pending.add(pull)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await source.aclose()
        if finalize is not None:
            finalize()


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


async def attempt(
    call: Callable[[], Awaitable[Any]],
    limiter: RateLimiter | None,
    max_attempts: int,
    retryable: Callable[[VlensError], bool] = is_refusal,
    before: Callable[[], object] | None = None,
) -> Attempted:
    """Run ``call`` under the rate limiter, retrying ``retryable`` errors up to ``max_attempts``.

    Every attempt takes a permit. ``before`` runs after the permit, right before each request
    is handed over (a journal written there names only requests that may have been written);
    a ``VlensError`` it raises ends the item with that error, nothing sent. A rate-limit answer
    slows the whole dispatcher down (the limiter is shared), not just this item. An unknown
    outcome, or an unexpected exception from ``call``, is returned at once, never retried.
    """
    attempts = 0
    while True:
        if limiter is not None:
            await limiter.acquire()
        if before is not None:
            try:
                before()
            except VlensError as error:
                return Attempted(None, error, attempts)
        attempts += 1
        try:
            value = await call()
        except OutcomeUnknownError as error:
            return Attempted(None, error, attempts)
        except VlensError as error:
            if isinstance(error, RateLimitedError) and limiter is not None:
                limiter.slow_down(error.retry_after)
            if retryable(error) and attempts < max_attempts:
                continue
            return Attempted(None, error, attempts)
        except Exception as error:  # noqa: BLE001 - a bug below us, after the hand-over
            return Attempted(None, unexpected(error), attempts)
        if limiter is not None:
            limiter.succeeded()
        return Attempted(value, None, attempts)
