"""Rate limits for every call: several sliding windows at once, and a shared slow-down."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

import attrs

from ._errors import VlensError

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "Limiter",
    "RateLimit",
    "RateLimiter",
    "RateLimiterUnavailableError",
    "check_seconds",
    "parse_limits",
    "pause_for",
]

_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+\.?\d*|\.\d+)?\s*([a-z]+)\s*")
MAX_COUNT = 1_000_000
"""The most calls one window may allow: a window remembers up to ``count`` call times."""


@attrs.frozen
class RateLimit:
    """At most ``count`` calls in any window of ``seconds``."""

    count: int
    seconds: float

    def __attrs_post_init__(self) -> None:
        count, seconds = self.count, self.seconds
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"a rate limit's count must be a whole number, not {count!r}")
        if not 1 <= count <= MAX_COUNT:
            raise ValueError(f"a rate limit's count must be from 1 to {MAX_COUNT}, not {count}")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(f"a rate limit's seconds must be a number, not {seconds!r}")
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a rate limit's seconds must be finite and > 0, not {seconds}")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"10/s"``, ``"60/min"``, ``"1000/h"``, ``"5/2s"``."""
        if not isinstance(text, str):
            raise TypeError(f"expected a rate text such as 10/s, got {type(text).__name__}")
        match = _SPEC.fullmatch(text.lower())
        name = match.group(3) if match else ""
        plural = name[:-1] if len(name) > 2 and name.endswith("s") else None  # "mins", not "ms"
        unit = _UNITS.get(name) or _UNITS.get(plural or "")
        if match is None or unit is None:
            raise ValueError(f"expected a rate such as 10/s or 60/min, got {text!r}")
        return cls(int(match.group(1)), float(match.group(2) or 1) * unit)

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}s"


DEFAULT_RATE_LIMITS = (RateLimit(10, 1.0), RateLimit(60, 60.0))
"""Vlens' published limits per tenant: 10 requests a second and 60 a minute."""


class Limiter(Protocol):
    """What a call pipeline needs of a limiter; :class:`RateLimiter` and
    :class:`vlens_async.redis.RedisRateLimiter` both provide it."""

    async def acquire(self) -> None: ...
    async def __aenter__(self) -> None: ...
    async def __aexit__(self, *exc_info: object) -> None: ...
    def slow_down(self, retry_after: float | None) -> float: ...
    def succeeded(self) -> None: ...


class RateLimiterUnavailableError(VlensError):
    """The shared rate limiter (Redis) cannot be reached: no permit, so nothing was sent.

    Attributes:
        where: ``host:port`` of the store, never its password.
        problem: what went wrong, e.g. ``ConnectionError: ... Connection refused.``
    """

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"rate limiter at {where} unavailable, nothing sent: {problem}")
        self.where = where
        self.problem = problem


class RateLimiter:
    """Grants permits so that every window holds, in the order they were asked for.

    Two ways to take a permit:

    * ``async with limiter:`` around sending one request and reading its answer. The call
      counts until the block ends, the latest moment the server can have seen it, so the
      server's window (counted on arrival) can never hold more than the client's, whatever
      the latency between permit and arrival. This is the exact mode.
    * ``await limiter.acquire()`` when the caller sends at once and reports nothing back:
      the call counts from the permit, so latency jitter can still draw a 429 now and then.

    ``clock`` and ``sleep`` are injectable so that tests measure limits on a fake time source.
    Memory is bounded by the largest window's ``count``.
    """

    def __init__(
        self,
        limits: Iterable[RateLimit | str] = DEFAULT_RATE_LIMITS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        max_pause: float = 60.0,
    ) -> None:
        self.limits: Sequence[RateLimit] = parse_limits(limits)
        self._clock, self._sleep = clock, sleep
        self._max_pause = check_seconds("max_pause", max_pause, zero_ok=True)
        size = max((limit.count for limit in self.limits), default=0)
        # When each finished call was certainly seen by the server, oldest first. Appended at
        # the clock's "now", so it stays sorted.
        self._ends: deque[float] = deque(maxlen=size or None)
        self._in_flight = 0  # permits taken with `async with` whose block has not ended
        self._paused_until = float("-inf")
        self._queue: list[tuple[int, asyncio.Future[None]]] = []  # waiting callers, by ticket
        self._tickets = itertools.count()
        self._woken = 0  # callers woken to take a permit, not yet run
        self._pump: asyncio.Task[None] | None = None  # wakes callers while any wait
        self._strikes = 0
        self.granted = 0

    async def acquire(self) -> None:
        """Wait until one more call fits every window; the call counts from now."""
        await self._take()
        if self._ends.maxlen:
            self._ends.append(self._clock())

    async def __aenter__(self) -> None:
        await self._take()
        self._in_flight += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self._in_flight -= 1
        if self._ends.maxlen:
            self._ends.append(self._clock())

    async def _take(self) -> None:
        """Return once one more call fits; the caller counts it before its next ``await``.

        Callers queue by ticket; the pump wakes as many as fit at once (one event-loop turn
        for a whole wave, not one each), and each takes its permit when it runs, so a
        slow-down told in between still holds it back.
        """
        if not self._queue and not self._woken and self._wait(self._clock()) <= 0:
            self.granted += 1
            return
        ticket = next(self._tickets)
        while True:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._queue, (ticket, future))
            if self._pump is None or self._pump.done():
                self._pump = asyncio.create_task(self._serve_queue())
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._woken -= 1
                if self._pump is not None and all(f.cancelled() for _, f in self._queue):
                    self._pump.cancel()  # nobody left to wake; a newcomer starts another
                    self._pump = None
                raise
            self._woken -= 1
            if self._wait(self._clock()) <= 0:
                self.granted += 1
                return

    async def _serve_queue(self) -> None:
        while self._queue:
            now = self._clock()
            room = self._room(now)
            if room <= 0:
                await self._sleep(self._wait(now))
                continue
            while self._queue and room > 0:
                _, future = heapq.heappop(self._queue)
                if not future.cancelled():
                    future.set_result(None)
                    self._woken += 1
                    room -= 1
            await asyncio.sleep(0)  # the callers woken take their permits first

    def _room(self, now: float) -> int:
        """How many more calls fit right now (a large number when unlimited)."""
        if self._paused_until > now:
            return 0
        room = len(self._queue)
        for limit in self.limits:
            # the same test as _wait's, so the two never disagree on a call at the edge
            counted = self._in_flight + sum(end + limit.seconds - now > 0 for end in self._ends)
            room = min(room, limit.count - counted)
        return room

    def _wait(self, now: float) -> float:
        """Seconds until one more call fits; a lower bound that later events never lower."""
        wait = self._paused_until - now
        for limit in self.limits:
            free = limit.count - self._in_flight  # a call in flight ends no earlier than now
            if free <= 0:
                wait = max(wait, limit.seconds)
            elif len(self._ends) >= free:
                wait = max(wait, self._ends[-free] + limit.seconds - now)
        return wait

    def slow_down(self, retry_after: float | None) -> float:
        """The server said "too many": pause every caller for ``retry_after`` (or a growing
        backoff when it gave none). Returns the pause applied.

        A refusal while a pause lasts is the answer to a call sent before it (none is granted
        during one): the same overload, so it does not grow the backoff.
        """
        now = self._clock()
        if now < self._paused_until and self._strikes:
            step = self._strikes - 1
        else:
            step, self._strikes = self._strikes, self._strikes + 1
        pause = pause_for(retry_after, step, self._max_pause)
        self._paused_until = max(self._paused_until, now + pause)
        return pause

    def succeeded(self) -> None:
        """A call went through: the backoff for header-less slow-downs starts over."""
        self._strikes = 0

    def __repr__(self) -> str:
        limits = ", ".join(map(str, self.limits)) or "unlimited"
        return f"<RateLimiter {limits} granted={self.granted}>"


def parse_limits(limits: Iterable[RateLimit | str]) -> tuple[RateLimit, ...]:
    """``RateLimit`` objects or their text forms (``"10/s"``), as a tuple of ``RateLimit``."""
    if isinstance(limits, (str, RateLimit)):  # one limit where a list belongs
        raise TypeError(f"limits: expected a list, such as [{str(limits)!r}]")
    parsed: list[RateLimit] = []
    for limit in limits:
        item: object = limit  # whatever the caller passed, typed or not
        if isinstance(item, str):
            item = RateLimit.parse(item)
        if not isinstance(item, RateLimit):
            kind = type(item).__name__
            raise TypeError(
                f"limits: expected RateLimit objects or texts such as '10/s', not {kind}"
            )
        parsed.append(item)
    return tuple(parsed)


def check_seconds(name: str, value: object, *, zero_ok: bool = False) -> float:
    """``value`` if it is a finite number of seconds > 0 (or >= 0), else an error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number of seconds, not {value!r}")
    if not (math.isfinite(value) and (value > 0 or (zero_ok and value == 0))):
        least = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{name}: expected a finite number of seconds {least}, not {value}")
    return float(value)


def pause_for(retry_after: float | None, strikes: int, max_pause: float) -> float:
    """The slow-down after a 429: ``retry_after`` when given, else (or when NaN) 1, 2, 4... s
    (at most 30), capped at ``max_pause`` and never negative."""
    if retry_after is None or math.isnan(retry_after):
        pause = min(2.0**strikes, 30.0)
    else:
        pause = retry_after
    return min(max(pause, 0.0), max_pause)
