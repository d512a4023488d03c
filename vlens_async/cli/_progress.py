"""Progress on stderr: a tqdm bar on a terminal (with the ``cli`` extra), else a plain line."""

from __future__ import annotations

import contextlib
import time
from typing import Any, TextIO

__all__ = ["Progress", "say"]


def say(text: str, stream: TextIO) -> None:
    """Print a line for people. A stream whose reader has left (``| head``) must not stop a
    run (the results are in the journal): the line is dropped."""
    with contextlib.suppress(OSError):
        print(text, file=stream, flush=True)


class Progress:
    """Counts outcomes; draws a bar on a terminal, or prints a line every ``every`` seconds."""

    def __init__(self, total: int | None, stream: TextIO, *, every: float = 2.0) -> None:
        self.total, self.stream, self.every = total, stream, every
        self.done = self.failed = self.unknown = self.open = 0
        self.shared = False  # showing a shared job's counts (see job())
        self.started = self._last = time.monotonic()
        self._bar: Any = None
        if stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, file=stream, unit="num", dynamic_ncols=True)

    def job(self, counts: dict[str, int]) -> None:
        """Show a shared job's counts (``JobLedger.counts()``) instead of this run's own."""
        finals = {k.partition(":")[2]: v for k, v in counts.items() if k.startswith("status:")}
        done = sum(finals.values())
        # "unknown" may have been sent: never counted with the "not sent", lest someone resend it
        self.unknown = finals.get("unknown", 0)
        self.failed = sum(v for k, v in finals.items() if k not in ("sent", "unknown"))
        self.open = counts.get("claimed", 0) + counts.get("sending", 0)
        if self._bar is not None:
            self._bar.update(max(done - self.done, 0))
            self._bar.set_postfix(
                failed=self.failed, unknown=self.unknown, open=self.open, refresh=True
            )
        self.done = done
        self.shared = True
        now = time.monotonic()
        if self._bar is None and now - self._last >= self.every:
            self._last = now
            say(self.line(now), self.stream)

    def update(self, *, failed: bool) -> None:
        if self.shared:
            return  # the job's counts come from job()
        self.done += 1
        self.failed += failed
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(failed=self.failed, refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            say(self.line(now), self.stream)

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = self.done / elapsed
        # The total is counted before the run; never show more done than it.
        total = None if self.total is None else max(self.total, self.done)
        of = f"/{total}" if total is not None else ""
        eta = ""
        if total is not None and rate > 0:
            eta = f", ETA {(total - self.done) / rate:.0f} s"
        if self.shared:
            return (
                f"job: {self.done}{of} done, {self.failed} not sent, {self.unknown} unknown, "
                f"{self.open} in progress"
            )
        return f"progress: {self.done}{of} done ({rate:.1f}/s{eta}), {self.failed} failed"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.done:
            say(self.line(), self.stream)
