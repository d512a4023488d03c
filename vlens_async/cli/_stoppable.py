"""A limiter whose waits end at once when ``vlens otp bulk`` is stopping."""

from __future__ import annotations

import asyncio

from .._errors import VlensError
from .._ratelimit import Limiter

__all__ = ["StoppableLimiter", "stopped"]


def stopped() -> VlensError:
    """The error of a request the run did not send because it was stopping."""
    return VlensError("not sent: the run was stopped before this request (--resume sends)")


class StoppableLimiter:
    """Wraps any limiter; a caller waiting for a permit when the run stops gets an error at
    once (nothing is sent), instead of waiting out a window.

    Each permit is held by a small task of its own (``async with`` the wrapped limiter until
    released), so that the wait can be abandoned with any limiter, in memory or on Redis.
    """

    def __init__(self, inner: Limiter, stopping: asyncio.Event) -> None:
        self.inner, self.stopping = inner, stopping
        self._holders: dict[asyncio.Task[object] | None, tuple[asyncio.Event, asyncio.Task[None]]]
        self._holders = {}

    async def __aenter__(self) -> None:
        if self.stopping.is_set():
            raise stopped()
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        release = asyncio.Event()
        holder = asyncio.ensure_future(self._hold(granted, release))
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait((granted, holder, stop), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await self._drop(holder)
            raise
        finally:
            stop.cancel()
        if granted.done():  # held, even if the run stopped meanwhile (on_send refuses then)
            self._holders[asyncio.current_task()] = (release, holder)
            return
        if holder.done():
            holder.result()  # the limiter failed (say, Redis unreachable): raise its error
        await self._drop(holder)
        raise stopped()

    async def __aexit__(self, *exc_info: object) -> None:
        release, holder = self._holders.pop(asyncio.current_task())
        release.set()
        await holder

    async def _hold(self, granted: asyncio.Future[None], release: asyncio.Event) -> None:
        async with self.inner:
            granted.set_result(None)
            await release.wait()

    @staticmethod
    async def _drop(holder: asyncio.Task[None]) -> None:
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)

    async def acquire(self) -> None:
        """The permit-from-now mode, as the wrapped limiter gives it (not stoppable)."""
        await self.inner.acquire()

    def slow_down(self, retry_after: float | None) -> float:
        return self.inner.slow_down(retry_after)

    def succeeded(self) -> None:
        self.inner.succeeded()
