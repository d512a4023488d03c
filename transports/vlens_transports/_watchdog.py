"""One timer for many deadlines that fall due in the order they were set.

Private to the distribution: :class:`~vlens_transports.AiohttpTransport` enforces read timeouts
with it, and the SDK above enforces each call's deadline with it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any, Generic, TypeVar

__all__ = ["CAN_UNCANCEL", "Deadline", "Watchdog"]

D = TypeVar("D", bound="Deadline")

CAN_UNCANCEL = hasattr(asyncio.Task, "uncancel")
"""Python 3.11+: a task counts its cancels, so the watchdog's own can be told from others."""


class Deadline:
    """Work that must be done by :attr:`deadline` (``time.monotonic()``), and the task doing it.

    :attr:`task` is set (when made, or by :meth:`attach`) while the work awaits something the
    watchdog may cancel, and None between such awaits; :attr:`expired` is set when the
    watchdog cancelled it.
    """

    __slots__ = ("cancels", "deadline", "expired", "task")

    def __init__(self, deadline: float | None, task: asyncio.Task[Any] | None = None) -> None:
        """Work due by ``deadline``, attached to ``task`` at once unless that is None (what
        :meth:`attach` does, written out: a Deadline is made for every call and send)."""
        self.deadline = deadline
        self.expired = False
        self.task = task
        self.cancels = task.cancelling() if task is not None and hasattr(task, "cancelling") else 0

    def attach(self, task: asyncio.Task[Any] | None) -> None:
        """Await on behalf of ``task`` from now on, noting the cancels it already carries (a
        cancel it once swallowed stays counted, and must not be taken for someone else's)."""
        self.task = task
        self.cancels = task.cancelling() if task is not None and hasattr(task, "cancelling") else 0


class Watchdog(Generic[D]):
    """Cancels the tasks of due :class:`Deadline` s with one timer, not one timer each.

    Every deadline added is its moment of adding plus the same span, so they fall due in the
    order they were added: an insertion-ordered map holds them, and a single timer waits for
    the oldest. When it fires, the due ones whose work is awaiting are cancelled with
    ``message``, and the timer is set for the next oldest. Adding and removing cost two dict
    operations instead of a heap push and a cancelled ``TimerHandle``, which is what the event
    loop's timer heap charges under load.

    Args:
        message: what the cancel says, so that :meth:`cancelled` tells it from any other.
    """

    __slots__ = ("_calls", "_message", "_timer")

    def __init__(self, message: str) -> None:
        self._message = message
        # Ordered, not a dict: taking the oldest of a dict scans the slots its removals left.
        self._calls: OrderedDict[D, None] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, entry: D) -> None:
        """Watch ``entry``, whose deadline is no earlier than any watched one's."""
        self._calls[entry] = None
        if self._timer is None:
            assert entry.deadline is not None
            self._arm(entry.deadline)

    def remove(self, entry: D) -> None:
        """Stop watching ``entry`` (whether or not it is watched)."""
        self._calls.pop(entry, None)

    def cancelled(self, exc: asyncio.CancelledError, entry: D) -> bool:
        """Whether this watchdog's cancel, and no other, ended the await of ``entry``'s task.

        The watchdog's own cancel is always withdrawn: when someone else cancelled too (an
        ``asyncio.timeout`` due in the same loop iteration), the error may carry their message,
        and a cancel left pending would break ``asyncio.timeout`` and task groups.
        """
        task = entry.task
        if task is None or not entry.expired:
            return False
        if not hasattr(task, "uncancel"):  # Python 3.10: only the message can tell
            return exc.args[:1] == (self._message,)
        return bool(task.uncancel() == entry.cancels)

    def _arm(self, when: float) -> None:
        # A delay, not loop.call_at(when): deadlines are on time.monotonic(), and a loop's own
        # clock (uvloop's, a test loop's) need not share its origin.
        delay = max(when - time.monotonic(), 0.0)
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = time.monotonic()
        calls = self._calls
        while calls:
            entry = next(iter(calls))
            assert entry.deadline is not None
            if entry.deadline > now:
                self._arm(entry.deadline)
                return
            del calls[entry]
            if entry.task is not None:
                entry.expired = True
                entry.task.cancel(self._message)
            # Work between awaits needs no cancel: its owner checks the deadline before the next.
