"""The dispatch engine: lazy intake, bounded concurrency; each item's tries are in
:mod:`._attempt`."""

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

__all__ = ["dispatch"]

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
    unwind; ``finalize`` runs last. Work that raises ends the run the same way, after the
    results that finished with it are yielded.
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
        self.failure: BaseException | None = None  # work that raised: ends the run

    def _take(self, item: Any, results: list[Any]) -> None:
        immediate = self.intake(item)
        if immediate is not None:
            results.append(immediate)
        else:
            self.running.add(asyncio.ensure_future(self.work(item)))

    async def step(self) -> list[Any] | None:
        """Start what fits, wait for something to finish; its results (None: all done)."""
        if self.failure is not None:  # raised once the results finished with it are out
            raise self.failure
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
        for task in done:  # every one read: a result finished with a failure is not lost
            try:
                results.append(task.result())
            except BaseException as failure:  # noqa: BLE001 - raised by the next step
                self.failure = self.failure or failure
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
