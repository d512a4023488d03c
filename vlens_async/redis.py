"""One rate budget and one bulk-job ledger shared by every process, on Redis.

Needs the ``redis`` extra (``pip install "vlens-async[redis]"``)::

    limiter = RedisRateLimiter("redis://10.0.0.5:6379/0", api_key=key, limits=["10/s", "60/min"])
    async with limiter:               # one permit, held until the answer is back
        await vlens.registration.send_phone_otp(number)
    await limiter.aclose()

Every process that names the same budget (by default: a hash of the API key) shares its
windows. A 429 one process reports with :meth:`RedisRateLimiter.slow_down` pauses them all.
If Redis cannot be reached no permit is granted: :class:`RateLimiterUnavailableError`.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar

from . import _redis_scripts as scripts
from ._ratelimit import (
    DEFAULT_RATE_LIMITS,
    RateLimit,
    RateLimiterUnavailableError,
    check_seconds,
    parse_limits,
    pause_for,
)
from ._redis_base import Redis, budget_key, close, connect, reaching, stop, where
from ._redis_ledger import JobLedger, LedgerRecord

__all__ = [
    "JobLedger",
    "LedgerRecord",
    "RateLimiterUnavailableError",
    "RedisRateLimiter",
    "budget_key",
]

logger = logging.getLogger("vlens_async.redis")

_BATCH = 64  # permits asked for in one round trip at most
_MAX_VOID = 16 * _BATCH  # permits of lost replies remembered at most (the rest: their lease)
# Permits this task holds with `async with`, innermost last (members of the flight set).
_HELD: ContextVar[tuple[str, ...]] = ContextVar("vlens_redis_permits", default=())


class RedisRateLimiter:
    """The :class:`~vlens_async.RateLimiter` interface, with its windows kept in Redis.

    Args:
        url: ``redis://[:password@]host:port/db`` (or ``rediss://``, ``unix://``).
        key: the budget's name; processes with the same name share it.
        api_key: instead of ``key``: one budget per API key, named by a hash of it.
        limits: the windows, as for ``RateLimiter`` (default 10/s and 60/min).
        lease: how long a permit held with ``async with`` may stay unanswered before it is
            counted as ended (it matters only when its process died).
        timeout: seconds to wait for Redis before giving up.
        max_pause: the longest slow-down ``slow_down`` applies.
    """

    def __init__(
        self,
        url: str,
        *,
        key: str | None = None,
        api_key: str | None = None,
        limits: Iterable[RateLimit | str] = DEFAULT_RATE_LIMITS,
        lease: float = 60.0,
        timeout: float = 5.0,
        max_pause: float = 60.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if (key is None) == (api_key is None):
            raise ValueError("key, api_key: give exactly one (the budget's name or the API key)")
        name = key if key is not None else budget_key(api_key or "")
        self.limits: Sequence[RateLimit] = parse_limits(limits)
        self.where = where(url)  # also checks the URL
        self._url, self._sleep = url, sleep
        self._lease = check_seconds("lease", lease)
        self._timeout = check_seconds("timeout", timeout)
        self._max_pause = check_seconds("max_pause", max_pause, zero_ok=True)
        self._keys = [f"vlens:rate:{{{name}}}:{part}" for part in ("ends", "flight", "pause")]
        self._ttl = int(max((limit.seconds for limit in self.limits), default=1) + lease) + 60
        self._windows = [value for limit in self.limits for value in (limit.count, limit.seconds)]
        self._ids = (f"{secrets.token_hex(6)}:{n}" for n in itertools.count())
        self._queue: collections.deque[tuple[str, asyncio.Future[str]]] = collections.deque()
        self._pump: asyncio.Task[None] | None = None  # serves the queue while anyone waits
        self._next_wait = 0.0
        self._ending: list[tuple[str, float]] = []  # permits ended (and when), not yet written
        self._void: dict[str, float] = {}  # permits Redis may have granted to no one (a reply
        # lost), each until its lease ends; oldest first
        self._flusher: asyncio.Task[None] | None = None  # writes them while there are any
        self._redis: Redis | None = None
        self._pending_pause = 0.0  # told by slow_down, written with the next script call
        self._paused_until = float("-inf")  # when this process' last slow-down ends
        self._strikes = 0
        self.granted = 0

    def _client(self) -> Redis:
        if self._redis is None:
            self._redis = connect(self._url, self._timeout)
            self._acquire = self._redis.register_script(scripts.ACQUIRE)
            self._finish = self._redis.register_script(scripts.FINISH)
        return self._redis

    async def acquire(self) -> None:
        """Wait until one more call fits every window; the call counts from now.

        Raises:
            RateLimiterUnavailableError: Redis cannot be reached; no permit was granted.
        """
        await self._grant("e")

    async def __aenter__(self) -> None:
        member = await self._grant("f")
        _HELD.set((*_HELD.get(), member))

    async def __aexit__(self, *exc_info: object) -> None:
        *outer, member = _HELD.get()
        _HELD.set(tuple(outer))
        self._release(member)

    def _release(self, member: str) -> None:
        """End a permit; written to Redis soon, with any others ended meanwhile, in one
        round trip. Until then it still counts, which only ever errs on the safe side."""
        self._ending.append((member, time.monotonic()))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_ends())

    async def _flush_ends(self) -> None:
        """Write the ended permits, each with its age: how long ago, by this process' clock,
        it ended. Redis stamps it at its ``TIME`` less that age, so the wait for this task and
        for the round trip does not count against the budget. Never too early: Redis runs
        the script after it is sent, so the stamp is no earlier than the end (the answer was
        back, the latest Vlens can have counted the call); only the clocks' rates matter over
        an age of milliseconds, not how far apart the machines' clocks are."""
        while self._ending:
            ended, self._ending = self._ending, []
            sent, void, pause = time.monotonic(), self._voids(), self._take_pause()
            ages = [value for member, at in ended for value in (member, f"{sent - at:.6f}")]
            try:
                with reaching(self._url):
                    await self._finish(self._keys, [pause, self._ttl, " ".join(void), *ages])
                self._forget(void)
            except RateLimiterUnavailableError as error:
                # Kept for this process' next request for permits (see _serve_batch); until
                # then, or their lease's end if none comes, the permits stay counted.
                self._ending[:0] = ended
                self._pending_pause = max(self._pending_pause, pause)
                logger.warning("could not end %d permit(s) yet: %s", len(ended), error)
                return

    async def _grant(self, mode: str) -> str:
        """Queue for a permit (``"f"``: held until released, ``"e"``: counts from now)."""
        self._client()
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append((mode, future))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._serve_queue())
        try:
            return await future
        except asyncio.CancelledError:
            # cancelled after its permit was granted, before it ran: give the permit back
            granted = future.done() and not future.cancelled() and not future.exception()
            if mode == "f" and granted:
                self._release(future.result())
            raise

    async def _serve_queue(self) -> None:
        """Ask Redis for as many permits as callers wait (one round trip for all of them, in
        the order they asked), hand them out, sleep until the next may fit, until none wait."""
        try:
            while self._queue:
                if await self._serve_batch() > 0:
                    await self._sleep(self._next_wait)
        except asyncio.CancelledError:
            for _, future in self._queue:
                future.cancel()
            raise
        except Exception as error:  # noqa: BLE001 - handed to every waiter, none left hanging
            while self._queue:
                _, future = self._queue.popleft()
                if not future.done():
                    future.set_exception(_fresh(error))

    async def _serve_batch(self) -> int:
        """One round trip; the number of callers still waiting after it."""
        waiting = [entry for entry in self._queue if not entry[1].cancelled()]
        self._queue = collections.deque(waiting)
        if not waiting:
            return 0
        if self._ending and (self._flusher is None or self._flusher.done()):
            await self._flush_ends()  # ends a failed write left: else they hold the budget
        modes = "".join(mode for mode, _ in waiting[:_BATCH])
        prefix, void = next(self._ids), self._voids()
        members = [f"{prefix}:{index}" for index in range(len(modes))]
        args: list[str | float] = [modes, prefix, self._lease, self._take_pause(), self._ttl]
        args.append(" ".join(void))
        try:
            with reaching(self._url):
                granted, wait = await self._acquire(self._keys, [*args, *self._windows])
            if self._pump is not asyncio.current_task():
                # aclose() stopped this task, but the cancel was lost in the Redis call (before
                # Python 3.12, redis-py's asyncio.wait_for can return instead): stop now.
                raise asyncio.CancelledError
        except BaseException:
            # Redis may have run the request: its permits are no one's; take them back with
            # this process' next request (else they would hold the budget for their lease).
            self._void.update(dict.fromkeys(members, time.monotonic() + self._lease))
            raise
        self._forget(void)
        self._next_wait = float(wait)
        for member in members[: int(granted)]:
            mode, future = self._queue.popleft()
            if future.cancelled():  # gave up while Redis granted it: give it back at once
                if mode == "f":
                    self._release(member)
                continue
            future.set_result(member)
            self.granted += 1
        return len(self._queue)

    def _voids(self) -> list[str]:
        """The permits of lost replies to take back: those whose lease has not ended."""
        now = time.monotonic()
        for member, until in list(self._void.items()):
            if until > now and len(self._void) <= _MAX_VOID:
                break
            del self._void[member]
        return list(self._void)

    def _forget(self, void: list[str]) -> None:
        """``void`` was written to Redis: those permits are taken back."""
        for member in void:
            self._void.pop(member, None)

    def _take_pause(self) -> float:
        pause, self._pending_pause = self._pending_pause, 0.0
        return pause

    def slow_down(self, retry_after: float | None) -> float:
        """The server said "too many": pause every process sharing this budget.

        The pause is written to Redis with this process' next request for permits or ending
        of permits (``async with`` ends its permit right after the answer). Returns the pause
        applied.
        """
        now = time.monotonic()
        if now < self._paused_until and self._strikes:  # a call sent before this pause
            step = self._strikes - 1  # the same overload: the backoff does not grow
        else:
            step, self._strikes = self._strikes, self._strikes + 1
        pause = pause_for(retry_after, step, self._max_pause)
        self._pending_pause = max(self._pending_pause, pause)
        self._paused_until = max(self._paused_until, now + pause)
        return pause

    def succeeded(self) -> None:
        """A call went through: the backoff for header-less slow-downs starts over."""
        self._strikes = 0

    async def ping(self) -> None:
        """Check now that Redis answers (say, at start-up), rather than at the first call.

        Raises:
            RateLimiterUnavailableError: it does not.
        """
        with reaching(self._url):
            await self._client().ping()

    async def aclose(self) -> None:
        """Close the connections to Redis, once the permits ended are written (callers still
        waiting for a permit are cancelled). Each step waits ``timeout`` s at most."""
        pump, self._pump = self._pump, None  # no longer the pump: it stops (see _serve_batch)
        await stop(pump, self._timeout)
        if self._ending and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush_ends())  # a write that failed
        if self._flusher is not None:
            await asyncio.wait({self._flusher}, timeout=self._timeout)
            await stop(self._flusher, self._timeout)  # not written: their leases end them
            self._flusher = None
        if self._redis is not None:
            await close(self._redis, self._timeout)
            self._redis = None

    def __repr__(self) -> str:
        limits = ", ".join(map(str, self.limits)) or "unlimited"
        return f"<RedisRateLimiter {self.where} {limits} granted={self.granted}>"


def _fresh(error: Exception) -> Exception:
    """An error for one waiter: each gets its own, so their tracebacks do not mix."""
    if isinstance(error, RateLimiterUnavailableError):
        return RateLimiterUnavailableError(error.where, error.problem)
    return error
