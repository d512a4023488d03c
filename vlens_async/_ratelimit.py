"""Rate limits for bulk dispatch: several sliding windows at once, and a shared slow-down."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence

import attrs

__all__ = ["DEFAULT_RATE_LIMITS", "RateLimit", "RateLimiter"]

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
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]+)\s*")


@attrs.frozen
class RateLimit:
    """At most ``count`` calls in any window of ``seconds``."""

    count: int
    seconds: float

    def __attrs_post_init__(self) -> None:
        if self.count < 1 or not self.seconds > 0:
            raise ValueError(f"a rate limit needs count >= 1 and seconds > 0, got {self}")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"10/s"``, ``"60/min"``, ``"1000/h"``, ``"5/2s"``."""
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


class RateLimiter:
    """Grants permits so that every window holds, in the order they were asked for.

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
        self.limits: Sequence[RateLimit] = tuple(
            RateLimit.parse(limit) if isinstance(limit, str) else limit for limit in limits
        )
        self._clock, self._sleep, self._max_pause = clock, sleep, max_pause
        size = max((limit.count for limit in self.limits), default=0)
        self._granted: deque[float] = deque(maxlen=size or None)
        self._paused_until = float("-inf")
        self._lock = asyncio.Lock()
        self._strikes = 0
        self.granted = 0

    async def acquire(self) -> None:
        """Wait until one more call fits every window (and any slow-down has passed)."""
        async with self._lock:
            while (wait := self._wait(self._clock())) > 0:
                await self._sleep(wait)
            if self._granted.maxlen:
                self._granted.append(self._clock())
            self.granted += 1

    def _wait(self, now: float) -> float:
        wait = self._paused_until - now
        granted = self._granted
        for limit in self.limits:
            if len(granted) >= limit.count:
                wait = max(wait, granted[-limit.count] + limit.seconds - now)
        return wait

    def slow_down(self, retry_after: float | None) -> float:
        """The server said "too many": pause every caller for ``retry_after`` (or a growing
        backoff when it gave none). Returns the pause applied."""
        self._strikes += 1
        pause = retry_after if retry_after is not None else min(2.0 ** (self._strikes - 1), 30.0)
        pause = min(max(pause, 0.0), self._max_pause)
        self._paused_until = max(self._paused_until, self._clock() + pause)
        return pause

    def succeeded(self) -> None:
        """A call went through: the backoff for header-less slow-downs starts over."""
        self._strikes = 0

    def __repr__(self) -> str:
        limits = ", ".join(map(str, self.limits)) or "unlimited"
        return f"<RateLimiter {limits} granted={self.granted}>"
