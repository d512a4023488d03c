"""A virtual clock for whole runs: time jumps to the next wake-up once every task waits on it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import TypeVar

from vlens_async.sandbox import SandboxClock

T = TypeVar("T")
_SETTLE = 50  # event-loop turns that let every woken task run until it waits again


class VirtualTime:
    """Sleeps on this clock end in virtual time, in order; no real time passes.

    Only :meth:`run` moves the clock: when no task can go on, it jumps to the earliest
    wake-up. The clock is a frozen :class:`SandboxClock`, so a sandbox built on it counts its
    rate windows on the same time line.
    """

    def __init__(self) -> None:
        self.clock = SandboxClock(start=0.0)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        waker = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now() + max(seconds, 0.0), next(self._order), waker))
        await waker

    async def run(self, main: Awaitable[T]) -> T:
        """Run ``main`` to its end, moving the clock whenever every task is asleep."""
        task = asyncio.ensure_future(main)
        while not task.done():
            for _ in range(_SETTLE):
                await asyncio.sleep(0)
            if task.done():
                break
            assert self._sleepers, "every task waits, but not on the virtual clock"
            when, _, waker = heapq.heappop(self._sleepers)
            self.clock.advance(max(when - self.now(), 0.0))
            waker.set_result(None)
        return task.result()
