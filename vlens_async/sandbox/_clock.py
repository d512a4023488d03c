"""The sandbox's clock: OTP expiry, cooldowns and rate windows are measured on it."""

from __future__ import annotations

import math
import time

__all__ = ["SandboxClock"]


class SandboxClock:
    """Seconds since the epoch, moved forward only by :meth:`advance` unless ``running``.

    A frozen clock (the default) makes tests deterministic: an OTP expires exactly when the test
    says ``clock.advance(300)``. A running clock (``vlens sandbox``) also follows real time.
    """

    def __init__(self, start: float | None = None, *, running: bool = False) -> None:
        if start is not None and not math.isfinite(start):
            raise ValueError(f"start must be a finite time in seconds, not {start}")
        self._start = time.time() if start is None else start
        self._offset = 0.0
        self._running = running
        self._origin = time.monotonic()

    def now(self) -> float:
        """The current sandbox time."""
        elapsed = time.monotonic() - self._origin if self._running else 0.0
        return self._start + self._offset + elapsed

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (expiring OTPs, ending cooldowns)."""
        if not seconds >= 0:  # NaN too: it would make every later time NaN
            raise ValueError(
                f"seconds must be 0 or more, not {seconds}: the clock only moves forward"
            )
        if math.isinf(seconds):  # every code and token would be expired for good
            raise ValueError(f"seconds must be finite, not {seconds}")
        self._offset += seconds

    def __repr__(self) -> str:
        mode = "running" if self._running else "frozen"
        return f"<SandboxClock {mode} now={self.now():.3f}>"
