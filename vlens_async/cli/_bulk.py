"""``vlens otp bulk``: send OTPs to a file of numbers, journaled so a crash loses nothing.

The journal (``--out``, see :mod:`._journal`) is locked for the whole run. The first SIGINT or
SIGTERM stops the run cleanly: no new request starts, the ones in flight finish and are
recorded; a second one aborts at once, recording the numbers still in flight ``unknown``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .._client import VlensClient
from .._errors import VlensAPIError, VlensError, VlensInputError, VlensResponseError
from .._validation import check_provider
from ..bulk import DEFAULT_RATE_LIMITS, BulkOutcome, BulkStatus, RateLimit, RateLimiter
from ..sandbox import Sandbox
from ._inputs import count_numbers, numbers_from
from ._journal import Journal, JournalError
from ._progress import Progress

__all__ = ["Journal", "add_parser", "record_of", "run"]

FAILING = (BulkStatus.FAILED, BulkStatus.INVALID, BulkStatus.UNKNOWN)
EXIT_OK, EXIT_API, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 3, 130
MAX_RATE_COUNT = 1_000_000
_INTERRUPTED = {"type": "Interrupted", "code": None, "message": "the run was aborted mid-call"}
_ANSWERS = (VlensAPIError, VlensResponseError)  # errors that prove the server was reached


_INPUT_HELP = (
    "UTF-8 (or UTF-16 with a BOM). A line whose first non-blank character is '#' and that holds "
    "no ',', ';' or tab is a comment; blank lines are skipped; every other line is one number, or "
    "one CSV row (a row without a phone cell is recorded invalid, a stray quote exits 2)"
)


def add_parser(otp_commands: Any) -> None:
    parser = otp_commands.add_parser(
        "bulk",
        help="send an OTP to every number in a file",
        description="Send a registration OTP to every number in INPUT (one per line, or a CSV "
        "with a phone column; '-' for stdin), appending one JSON line per number to --out. "
        "Uses VLENS_API_KEY / VLENS_BASE_URL, or an in-process sandbox with --sandbox.",
    )
    parser.add_argument("input", metavar="INPUT", help=_INPUT_HELP)
    parser.add_argument("--out", required=True, type=_path, metavar="RESULTS.jsonl")
    parser.add_argument("--column", metavar="NAME", help="the CSV column holding the numbers")
    parser.add_argument("--concurrency", type=_positive, default=32, metavar="N")
    parser.add_argument(
        "--rate",
        action="append",
        type=_rate,
        metavar="N/UNIT",
        help="a rate window, e.g. 10/s (repeatable; default 10/s and 60/min, none with --sandbox)",
    )
    parser.add_argument("--provider", help="SMS provider name, e.g. vodafone")
    parser.add_argument("--fallback", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--max-attempts", type=_positive, default=5, metavar="N")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="skip numbers already in --out, except those certainly not sent",
    )
    parser.add_argument("--sandbox", action="store_true", help="use an in-process sandbox")
    parser.set_defaults(run=run)


def _path(text: str) -> Path:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return Path(text)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _rate(text: str) -> RateLimit:
    try:
        limit = RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if limit.count > MAX_RATE_COUNT:
        raise argparse.ArgumentTypeError(f"at most {MAX_RATE_COUNT} calls a window, got {text!r}")
    return limit


def record_of(outcome: BulkOutcome) -> dict[str, Any]:
    """The JSON line for an outcome. Errors keep type, code and message, never a secret."""
    error = outcome.error
    return {
        "input": outcome.input,
        "phone_number": outcome.phone_number,
        "status": outcome.status.value,
        "sent": outcome.sent,
        "request_id": str(outcome.request_id) if outcome.request_id else None,
        "provider": outcome.provider.name.lower() if outcome.provider else None,
        "attempts": outcome.attempts,
        "error": None
        if error is None
        else {
            "type": type(error).__name__,
            "code": error.code if isinstance(error, VlensAPIError) else None,
            "message": str(error),
        },
    }


class _StoppableLimiter(RateLimiter):
    """A limiter whose waits end at once when the run is stopping (the send is then refused)."""

    def __init__(self, limits: Any, stopping: asyncio.Event) -> None:
        super().__init__(limits)
        self.stopping = stopping

    async def acquire(self) -> None:
        if self.stopping.is_set():
            return
        permit = asyncio.ensure_future(super().acquire())
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait((permit, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (permit, stop):
                waiter.cancel()
            await asyncio.gather(permit, stop, return_exceptions=True)


async def run(args: argparse.Namespace) -> int:
    # Everything is checked before the journal exists, so a refused run leaves no file behind.
    check_provider("--provider", args.provider)
    for name in args.fallback:
        check_provider("--fallback", name)
    total = None
    if args.input != "-":
        total = await asyncio.to_thread(count_numbers, args.input, args.column)
    sandbox = Sandbox() if args.sandbox else None
    client = sandbox.client() if sandbox else VlensClient.from_env()
    async with client:
        try:
            journal = Journal(args.out, args.resume, args.input)
        except JournalError as exc:
            raise VlensInputError("--out", str(exc)) from None
        try:
            return await _Run(args, client, journal, total).main(sandbox is not None)
        except JournalError as exc:
            raise VlensInputError("--out", str(exc)) from None
        finally:
            journal.close()


class _Run:
    """One run's state: counts, the numbers in flight, the stop flag."""

    def __init__(
        self, args: argparse.Namespace, client: VlensClient, journal: Journal, total: int | None
    ) -> None:
        self.args, self.client, self.journal = args, client, journal
        self.counts: Counter[str] = Counter({"unknown": journal.recovered_unknown})
        self.skipped = 0
        self.reached = False
        self.in_flight: dict[str, str] = {}  # number -> input: journaled pending, no outcome yet
        self.stopping = asyncio.Event()
        self.aborted = False
        self.progress = Progress(total, sys.stderr)

    def on_send(self, raw: str, number: str) -> None:
        if self.stopping.is_set():
            raise VlensError("not sent: the run was stopped before this request (--resume sends)")
        self.journal.write(
            {"input": raw, "phone_number": number, "status": "pending", "sent": "maybe"}
        )
        self.in_flight[number] = raw

    async def fresh(self) -> AsyncIterator[str]:
        async for raw in numbers_from(self.args.input, self.args.column, self.stopping):
            if self.stopping.is_set():
                return
            if self.journal.skip(raw):
                self.skipped += 1
                self.progress.update(failed=False)
                continue
            yield raw

    def record(self, outcome: BulkOutcome) -> None:
        self.journal.write(record_of(outcome))
        if outcome.phone_number is not None and outcome.status is not BulkStatus.DUPLICATE:
            self.in_flight.pop(outcome.phone_number, None)
        self.counts[outcome.status.value] += 1
        if outcome.status in (BulkStatus.SENT, BulkStatus.UNKNOWN):
            self.reached = True  # an answer, or perhaps one: the server was (maybe) reached
        elif isinstance(outcome.error, _ANSWERS):
            self.reached = True
        self.progress.update(failed=outcome.status in FAILING)

    async def main(self, in_process: bool) -> int:
        rates = self.args.rate or (None if in_process else DEFAULT_RATE_LIMITS)
        limiter = None if rates is None else _StoppableLimiter(rates, self.stopping)
        started = time.perf_counter()
        with self._signals():
            try:
                await self._dispatch(limiter)
            except asyncio.CancelledError:
                if not self.aborted:
                    raise
            finally:
                self._abandon_in_flight()
                self.progress.close()
        self._summary(time.perf_counter() - started)
        return self._exit_code()

    async def _dispatch(self, limiter: RateLimiter | None) -> None:
        outcomes = self.client.bulk.send_phone_otps(
            self.fresh(),
            concurrency=self.args.concurrency,
            rate_limits=limiter,
            sms_provider=self.args.provider,
            fallback_providers=self.args.fallback,
            max_attempts=self.args.max_attempts,
            on_send=self.on_send,
        )
        async with contextlib.aclosing(outcomes):
            async for outcome in outcomes:
                self.record(outcome)

    def _abandon_in_flight(self) -> None:
        """An abort cut these calls short after they were handed over: sent or not, unknown."""
        for number, raw in list(self.in_flight.items()):
            with contextlib.suppress(JournalError):
                self.journal.write(
                    {
                        "input": raw,
                        "phone_number": number,
                        "status": "unknown",
                        "sent": "maybe",
                        "error": _INTERRUPTED,
                    }
                )
            self.counts["unknown"] += 1
        self.in_flight.clear()

    @contextlib.contextmanager
    def _signals(self) -> Any:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop(name: str) -> None:
            if not self.stopping.is_set():
                self.stopping.set()
                print(
                    f"vlens: {name}: finishing the calls in flight; again to abort", file=sys.stderr
                )
            elif not self.aborted:
                self.aborted = True
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, sig.name)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _summary(self, elapsed: float) -> None:
        done = sum(self.counts.values())
        counts = self.counts
        summary = ", ".join(f"{s} {counts[s.value]}" for s in BulkStatus if counts[s.value])
        skipped = f"; {self.skipped} already recorded" if self.skipped else ""
        rate = done / elapsed if elapsed else 0
        summary = summary or "nothing to do"
        print(f"{done} numbers in {elapsed:.1f} s ({rate:.1f}/s): {summary}{skipped}")

    def _exit_code(self) -> int:
        if self.stopping.is_set():
            print("vlens: interrupted; run again with --resume to finish", file=sys.stderr)
            return EXIT_INTERRUPTED
        attempted = self.counts["sent"] + self.counts["failed"] + self.counts["unknown"]
        if attempted and not self.reached and not self.journal.recovered_unknown:
            print(
                "vlens: error: cannot reach the server; nothing was sent "
                "(run again with --resume to send)",
                file=sys.stderr,
            )
            return EXIT_UNREACHABLE
        return EXIT_API if any(self.counts[s.value] for s in FAILING) else EXIT_OK
