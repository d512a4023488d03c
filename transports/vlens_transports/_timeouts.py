"""``asyncio.timeout_at`` on Python 3.11+, the ``async-timeout`` package (its model) on 3.10.

Both are public, documented APIs of the same shape: an async context manager with a deadline in
the event loop's clock (``FakeTransport`` puts one around a handler). Also ``Task.cancelling()``,
which Python 3.10 lacks.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

if sys.version_info >= (3, 11):
    from asyncio import Timeout, timeout_at

    def expired(timer: Timeout) -> bool:
        """Whether ``timer`` fired (and so turned a cancellation into ``TimeoutError``)."""
        return timer.expired()

    def cancelling(task: asyncio.Task[Any] | None) -> int:
        """How many cancel requests ``task`` has pending (``Task.cancelling()``)."""
        return 0 if task is None else task.cancelling()

else:  # pragma: no cover - Python 3.10 only
    from async_timeout import Timeout, timeout_at

    def expired(timer: Timeout) -> bool:
        """Whether ``timer`` fired (and so turned a cancellation into ``TimeoutError``)."""
        return bool(timer.expired)

    def cancelling(task: asyncio.Task[Any] | None) -> int:
        """Always 0 on Python 3.10, whose tasks do not count cancel requests."""
        return 0


__all__ = [
    "Timeout",
    "cancelling",
    "expired",
    "loop_time",
    "timeout_at",
]


def loop_time(loop: asyncio.AbstractEventLoop, deadline: float | None) -> float | None:
    """``deadline`` (a ``time.monotonic()`` instant) in ``loop``'s clock, whose origin may differ
    (uvloop's does)."""
    if deadline is None:
        return None
    return loop.time() + (deadline - time.monotonic())
