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
from typing import Any

from .._client import VlensClient
from .._errors import (
    AuthenticationError,
    VlensAPIError,
    VlensError,
    VlensInputError,
    VlensResponseError,
)
from .._ratelimit import Limiter, RateLimiterUnavailableError
from .._validation import check_provider
from ..bulk import BulkOutcome, BulkService, BulkStatus
from . import EXIT_API, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNREACHABLE, _bulk_args
from ._bulk_setup import open_client, run_limits
from ._inputs import count_numbers, ledger_key, numbers_from, survey
from ._job import JobLink, input_id, join, open_ledger, report, store_error, unreachable
from ._journal import Journal, JournalError
from ._progress import Progress, say
from ._stoppable import StoppableLimiter, stopped

__all__ = ["Journal", "add_parser", "record_of", "run"]

FAILING = (BulkStatus.FAILED, BulkStatus.INVALID, BulkStatus.UNKNOWN)
_INTERRUPTED = {"type": "Interrupted", "code": None, "message": "the run was aborted mid-call"}
_WRAP_UP = 5.0  # seconds a task of the run may take to end once cancelled
_ANSWERS = (VlensAPIError, VlensResponseError)  # errors that prove the server was reached
_KEY_REFUSED = (
    "vlens: error: the API key was refused; nothing more is sent (fix VLENS_API_KEY, then run "
    "again with --resume to send the numbers not sent)"
)


def add_parser(otp_commands: Any) -> None:
    _bulk_args.add_parser(otp_commands, run)


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
        "error": None if error is None else _error_of(error),
    }


def _error_of(error: VlensError) -> dict[str, Any]:
    """An error for the journal: type, code and message, never a secret."""
    code = error.code if isinstance(error, VlensAPIError) else None
    return {"type": type(error).__name__, "code": code, "message": str(error)}


async def run(args: argparse.Namespace) -> int:
    # Everything is checked before the journal exists, so a refused run leaves no file behind.
    _bulk_args.check(args)
    if args.report is not None:
        return await report(args)
    check_provider("--provider", args.provider)
    for name in args.fallback:
        check_provider("--fallback", name)
    found, total = None, None
    if args.input != "-" and args.redis:  # a shared job: its size and fingerprint
        found = await asyncio.to_thread(survey, args.input, args.column)
        total = found.distinct
    elif args.input != "-":  # only a count: no fingerprint nor set of numbers to keep
        total = await asyncio.to_thread(count_numbers, args.input, args.column)
    # a job's name and URL are checked here too (nothing is connected yet)
    ledger = open_ledger(args, input_id(found)) if args.redis and found else None
    if ledger is not None and (failed := await unreachable(args.redis)) is not None:
        return failed  # before the journal: no file left behind
    async with open_client(args) as client:
        try:
            journal = Journal(args.out, args.resume, args.input)
        except JournalError as exc:
            raise VlensInputError("--out", str(exc)) from None
        try:
            if args.resume and journal.created:  # a first start, or a mistyped path
                say(
                    f"vlens: note: --resume: {args.out} does not exist, so this run resumes "
                    "nothing (check the path if you meant to continue a job)",
                    sys.stderr,
                )
            if ledger is not None:
                join(args, journal, ledger)
            shared = run_limits(args, ledger, client, total or 0)
            async with shared as (link, limiter):
                return await _Run(args, client, journal, total, link).main(limiter)
        except RateLimiterUnavailableError as error:
            return store_error(error)
        except JournalError as exc:
            raise VlensInputError("--out", str(exc)) from None
        finally:
            journal.close()


def _not_sent(error: BaseException) -> dict[str, Any]:
    """The error of a number stopped before its request was handed over."""
    if isinstance(error, JournalError):
        return {"type": "JournalError", "code": None, "message": f"{error}: not sent"}
    return {"type": "Interrupted", "code": None, "message": "the run was aborted: not sent"}


class _Run:
    """One run's state: counts, the numbers in flight, the stop flag."""

    def __init__(
        self,
        args: argparse.Namespace,
        client: VlensClient,
        journal: Journal,
        total: int | None,
        link: JobLink | None,
    ) -> None:
        self.args, self.client, self.journal, self.link = args, client, journal, link
        self.counts: Counter[str] = Counter()  # this run's outcomes (not --resume's recovered)
        self.skipped = 0
        self.reached = False
        self.key_refused = False
        self.in_flight: dict[str, str] = {}  # number -> input: journaled pending, no outcome yet
        self.stopping = asyncio.Event()
        self.aborted = False
        self.wrapping_up = False  # past the passes: a second signal no longer cancels
        self.store_error: RateLimiterUnavailableError | None = None
        self.input_error: VlensInputError | None = None  # a bad line met mid-run (stdin)
        self.progress = Progress(total, sys.stderr)

    async def on_send(self, raw: str, number: str) -> None:
        if self.stopping.is_set():
            raise stopped()
        if self.link is not None:
            await self.link.sending(number)  # the fence: claimed by this worker, still
        mark = {"input": raw, "phone_number": number, "status": "pending", "sent": "maybe"}
        try:
            self.journal.write(mark)
            await self.journal.sync()  # a power cut must not lose the mark of a text
        except (JournalError, asyncio.CancelledError) as error:  # so not sent: clear the mark
            with contextlib.suppress(JournalError):
                self.journal.write({**mark, "sent": "no", "error": _not_sent(error)})
            if isinstance(error, JournalError) and self.link is not None:
                await self.link.refused(number)  # not "unknown" once reaped
            raise
        self.in_flight[number] = raw

    async def on_retry(self, raw: str, number: str, error: VlensError) -> None:
        """The attempt was refused, nothing sent: clear the ``pending`` mark until the next."""
        if self.link is not None and self.store_error is None:
            try:
                await self.link.refused(number)
            except RateLimiterUnavailableError as lost:
                self.lost_store(lost)  # the next attempt is refused: the run stops
        self.journal.write(
            {
                "input": raw,
                "phone_number": number,
                "status": "pending",
                "sent": "no",
                "error": _error_of(error),
            }
        )
        self.in_flight.pop(number, None)

    async def fresh(self) -> AsyncIterator[str]:
        try:
            async for raw in numbers_from(self.args.input, self.args.column, self.stopping):
                if self.stopping.is_set():
                    return
                if self.journal.skip(raw):
                    self.skipped += 1
                    self.progress.update(failed=False)
                    continue
                if self.link is not None:
                    try:
                        if not await self.link.claim(ledger_key(raw)):
                            continue
                    except RateLimiterUnavailableError as error:
                        self.lost_store(error)
                        return
                yield raw
        except VlensInputError as error:
            # A bad line after the run began (stdin is not read in advance): stop as on a
            # first Ctrl-C, so that the calls in flight finish and are recorded, then exit 2.
            self.input_error = error
            self.stopping.set()

    def lost_store(self, error: RateLimiterUnavailableError) -> None:
        """Redis is unreachable: stop (the calls in flight finish and are journaled)."""
        if self.store_error is None:
            self.store_error = error
            self.stopping.set()

    async def record(self, outcome: BulkOutcome) -> None:
        line = record_of(outcome)
        self.journal.write(line)
        self.counts[outcome.status.value] += 1  # journaled: counted, even if aborted below
        if outcome.phone_number is not None and outcome.status is not BulkStatus.DUPLICATE:
            self.in_flight.pop(outcome.phone_number, None)
        if isinstance(outcome.error, RateLimiterUnavailableError):
            self.lost_store(outcome.error)
        if self.link is not None and self.store_error is None:
            try:
                await self.link.record(outcome.phone_number or outcome.input, outcome, line)
            except RateLimiterUnavailableError as error:
                self.lost_store(error)
        if isinstance(outcome.error, AuthenticationError) and not self.key_refused:
            self.key_refused = True
            say(_KEY_REFUSED, sys.stderr)
        if outcome.status in (BulkStatus.SENT, BulkStatus.UNKNOWN):
            self.reached = True  # an answer, or perhaps one: the server was (maybe) reached
        elif isinstance(outcome.error, _ANSWERS):
            self.reached = True
        self.progress.update(failed=outcome.status in FAILING)

    async def main(self, inner: Limiter | None) -> int:
        limiter = None if inner is None else StoppableLimiter(inner, self.stopping)
        started = time.perf_counter()
        watching = None
        if self.link is not None:
            watching = asyncio.ensure_future(self.link.watch(self.progress.job, 2.0, self._over))
        with self._signals():
            try:
                await self._passes(limiter)
            except asyncio.CancelledError:
                if not self.aborted:
                    raise
            finally:
                self.wrapping_up = True
                if watching is not None:
                    watching.cancel()
                    await asyncio.wait({watching}, timeout=_WRAP_UP)
                    if watching.done() and not watching.cancelled():
                        watching.exception()  # retrieved (a failed read only skips a line)
                self._abandon_in_flight()
                if self.link is not None and self.store_error is None:
                    with contextlib.suppress(RateLimiterUnavailableError):
                        self.progress.job(await self.link.ledger.counts())
                self.progress.close()
        self._summary(time.perf_counter() - started)
        if self.input_error is not None:
            raise self.input_error
        return self._exit_code()

    def _over(self) -> bool:
        return self.wrapping_up

    async def _passes(self, limiter: Limiter | None) -> None:
        """One pass over the input; with a shared job, another whenever numbers are free
        again (a dead worker's, released after this worker had passed them)."""
        if self.link is not None and self.args.resume:
            try:
                await self.link.take_back(self.journal.skip)
            except RateLimiterUnavailableError as error:
                self.lost_store(error)
                return
        await self._dispatch(limiter)
        while self.link is not None and not self.stopping.is_set():
            try:
                again = await self.link.settle_others(self.stopping, self.args.heartbeat / 3)
            except RateLimiterUnavailableError as error:
                self.lost_store(error)
                return
            took = self.link.claims
            if not again:
                return
            self.link.new_pass()
            await self._dispatch(limiter)
            if self.link.claims == took:
                return  # another worker took them: it finishes them

    async def pause(self, seconds: float) -> None:
        """The wait between a number's attempts; it ends at once when the run stops (the next
        attempt is then refused by the limiter or ``on_send``, nothing sent)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _dispatch(self, limiter: Limiter | None) -> None:
        bulk = BulkService(self.client, sleep=self.pause)
        outcomes = bulk.send_phone_otps(
            self.fresh(),
            concurrency=self.args.concurrency,
            rate_limits=limiter,
            sms_provider=self.args.provider,
            fallback_providers=self.args.fallback,
            max_attempts=self.args.max_attempts,
            on_send=self.on_send,
            on_retry=self.on_retry,
        )
        async with contextlib.aclosing(outcomes):
            async for outcome in outcomes:
                await self.record(outcome)

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
                say(f"vlens: {name}: finishing the calls in flight; again to abort", sys.stderr)
            elif not self.aborted:
                self.aborted = True
                if not self.wrapping_up:  # the wrap-up (a last ledger read) is bounded anyway
                    if self.link is not None:
                        self.link.abort()  # a cancel lost inside a Redis call is raised after it
                    task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, sig.name)
        try:
            yield
        finally:
            # The run is over; what is left is closing connections, which is bounded. A signal
            # now is ignored until main() puts the caller's handlers back: the default handler
            # would raise KeyboardInterrupt in the middle of that closing, and one of asyncio's
            # would write to the loop's self-pipe, which the loop closes before removing its
            # handlers. Blocked while the handlers change: one arriving then is ignored too.
            signals = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, signals)
            try:
                for sig in signals:
                    loop.remove_signal_handler(sig)  # the last one unsets the wakeup fd
                    signal.signal(sig, signal.SIG_IGN)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)

    def _summary(self, elapsed: float) -> None:
        done = sum(self.counts.values())
        counts = self.counts
        summary = ", ".join(f"{s} {counts[s.value]}" for s in BulkStatus if counts[s.value])
        skipped = f"; {self.skipped} already recorded" if self.skipped else ""
        if recovered := self.journal.recovered_unknown:
            note = f"{recovered} left pending by a crash: now unknown"
            skipped += f" ({note})" if self.skipped else f"; {note}"
        if self.link is not None and self.link.elsewhere:
            skipped += f"; {self.link.elsewhere} handled by other workers"
        rate = done / elapsed if elapsed else 0
        summary = summary or "nothing to do"
        say(f"{done} numbers in {elapsed:.1f} s ({rate:.1f}/s): {summary}{skipped}", sys.stdout)

    def _exit_code(self) -> int:
        if self.store_error is not None:
            return store_error(self.store_error)
        if self.stopping.is_set():
            say("vlens: interrupted; run again with --resume to finish", sys.stderr)
            return EXIT_INTERRUPTED
        attempted = self.counts["sent"] + self.counts["failed"] + self.counts["unknown"]
        if attempted and not self.reached and not self.journal.recovered_unknown:
            say(
                "vlens: error: cannot reach the server; nothing was sent "
                "(run again with --resume to send)",
                sys.stderr,
            )
            return EXIT_UNREACHABLE
        failing = any(self.counts[s.value] for s in FAILING) or self.journal.recovered_unknown
        return EXIT_API if failing else EXIT_OK
