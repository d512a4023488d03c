"""``vlens otp bulk --redis URL --job NAME``: one bulk job shared by many worker processes.

Every worker reads the same INPUT. A number is claimed in the job's ledger before it waits for
a permit, marked ``sending`` right before its request is written, and its outcome recorded in
the ledger as well as in the worker's own ``--out``. See ``docs/scaling.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import VlensError, VlensInputError
from .._ratelimit import RateLimiterUnavailableError
from ..bulk import BulkOutcome, NumberSet
from ._inputs import Survey
from ._journal import JOINED

if TYPE_CHECKING:
    from ..redis import JobLedger
    from ._journal import Journal

__all__ = ["EXIT_STORE", "JobLink", "input_id", "join", "open_ledger", "report", "unreachable"]

EXIT_STORE = 4  # the shared store (Redis) could not be reached
_NUMBERS = re.compile(r";numbers=(\d+)$")
_LOST = "WorkerLost"
_MAYBE_SENT = "the worker stopped after it may have sent the request"
_REACH_TIMEOUT = 5.0  # seconds to wait for Redis' first answer (as JobLedger's default)
T = TypeVar("T")


def input_id(found: Survey) -> str:
    """The fingerprint workers of one job must share; it carries the job's size for reports."""
    return f"sha256={found.digest[:40]};numbers={found.distinct}"


def open_ledger(args: argparse.Namespace, fingerprint: str | None) -> JobLedger:
    """The job's ledger (``async with`` it); a bad job name or URL is a usage error."""
    try:
        from ..redis import JobLedger
    except ImportError as exc:
        raise VlensInputError("--redis", str(exc)) from None
    try:
        return JobLedger(args.redis, args.job, input_id=fingerprint, alive_for=args.heartbeat)
    except ValueError as exc:
        field = "--job" if str(exc).startswith("job") else "--redis"
        raise VlensInputError(field, str(exc).partition(": ")[2] or str(exc)) from None


def join(args: argparse.Namespace, journal: Journal, ledger: JobLedger) -> None:
    """Name this worker: with --resume, as the journal's run before it (the same worker, so
    the claims it left in the ledger are its own to settle, see :meth:`JobLink.take_back`);
    otherwise the new name is written to the journal for the next --resume."""
    previous = journal.workers.get(args.job) if args.resume else None
    if previous is not None:
        ledger.worker = previous
    else:
        journal.write({"status": JOINED, "job": args.job, "worker": ledger.worker})


async def unreachable(url: str) -> int | None:
    """None when Redis at ``url`` answers; otherwise the exit code, once it said so. Asked
    before the run writes any file, so that an unreachable Redis leaves none behind."""
    from .._redis_base import close, connect, reaching

    client = connect(url, _REACH_TIMEOUT)
    try:
        with reaching(url):
            await client.ping()
    except RateLimiterUnavailableError as error:
        return _cannot_reach(url, error, "nothing was sent, no file was written")
    finally:
        await close(client, _REACH_TIMEOUT)
    return None


def _cannot_reach(url: str, error: RateLimiterUnavailableError, outcome: str) -> int:
    from .._redis_base import shown

    print(
        f"vlens: error: cannot reach Redis at {shown(url)} ({error.problem}); {outcome}",
        file=sys.stderr,
    )
    return EXIT_STORE


def store_error(error: RateLimiterUnavailableError) -> int:
    """Say that Redis is unreachable and how to resume; the exit code for it."""
    print(
        f"vlens: error: {str(error).rstrip('.')}; numbers not yet sent stay unsent: "
        "run the workers again (with --resume) once Redis is back",
        file=sys.stderr,
    )
    return EXIT_STORE


class JobLink:
    """This worker's part of a shared job: claims, the fence before a send, outcomes.

    Args:
        ledger: the job's ledger, open.
        size: how many different numbers the input holds (``Survey.distinct``).
    """

    def __init__(self, ledger: JobLedger, size: int) -> None:
        self.ledger, self.size = ledger, size
        self.elsewhere = 0  # numbers another worker had (or had settled)
        self.claims = 0  # numbers this worker took
        self._tried = NumberSet()  # this pass: numbers asked for already (repeats are skipped)
        self._tried_other: set[str] = set()  # the same for entries that are not numbers
        self._aborted = False

    def abort(self) -> None:
        """The run aborts: every task using this link is being cancelled. Before Python 3.12
        a cancel that comes as a Redis write ends can be lost (redis-py's ``asyncio.wait_for``
        returns the write's result instead; on 3.10 a read timing out at that moment turns
        it into a Redis error), so from now on every ledger call of the link ends in
        ``CancelledError``, as if the lost cancel had come right after it."""
        self._aborted = True

    async def _step(self, call: Awaitable[T]) -> T:
        try:
            return await call
        finally:
            if self._aborted:
                raise asyncio.CancelledError  # whatever the call returned or raised

    async def take_back(self, settled: Callable[[str], bool]) -> None:
        """A --resume: settle the claims this worker's run before left in the ledger (say,
        Redis stopped before it could record them). A number its journal does not settle
        (``settled``) was certainly not sent: released, for this pass to send. One it
        settles is recorded ``unknown``, as reaping would (the journal has the outcome)."""
        async for number in self.ledger.held():
            if settled(number):
                await self._step(self.ledger.record(number, "unknown", "maybe", _MAYBE_SENT))
            else:
                await self._step(self.ledger.release(number))

    def new_pass(self) -> None:
        """Forget which numbers this pass asked for (a new pass over the input begins)."""
        self._tried.close()
        self._tried, self._tried_other = NumberSet(), set()

    async def claim(self, key: str) -> bool:
        """Take an entry for this worker; False when another worker has it, it is settled,
        or it was already asked for in this pass (a repeat in the input)."""
        first = self._tried.add(key) if _is_number(key) else _add(self._tried_other, key)
        if first and await self._step(self.ledger.claim(key)):
            self.claims += 1
            return True
        self.elsewhere += first
        return False

    async def sending(self, number: str) -> None:
        """The fence right before a request is written: refuse if the claim was lost."""
        if not await self._step(self.ledger.sending(number)):
            raise VlensError("not sent: this worker's claim on the number ran out")

    async def refused(self, number: str) -> None:
        """The attempt was refused, nothing written: the claim goes back from ``sending`` to
        ``claimed``, still this worker's (one atomic step), so that a worker killed before the
        next attempt leaves the number to the others instead of ``unknown``. A claim already
        lost (reaped) stays lost: the next fence (:meth:`sending`) refuses this worker."""
        await self._step(self.ledger.not_sent(number))

    async def record(self, key: str, outcome: BulkOutcome, line: dict[str, Any]) -> None:
        """Record a final outcome in the ledger (False from it: the claim was lost; the
        outcome is in this worker's journal all the same)."""
        error = line.get("error") or {}
        detail = f"{error.get('type')}: {error.get('message')}" if error else ""
        await self._step(self.ledger.record(key, outcome.status.value, outcome.sent, detail, line))

    async def settle_others(self, stopping: asyncio.Event, every: float) -> bool:
        """After a pass: wait while other workers hold claims, settling dead workers' claims.

        True when numbers are free again (a dead worker's, released after this worker had
        passed them): another pass over the input will send them.
        """
        while not stopping.is_set():
            await self._step(self.ledger.reap())
            counts = await self._step(self.ledger.counts())
            busy = counts.get("claimed", 0) + counts.get("sending", 0)
            settled = sum(v for k, v in counts.items() if k.startswith("status:"))
            if self.size - settled - busy > 0:
                return True
            if not busy:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), every)
        return False

    async def watch(
        self, show: Callable[[dict[str, int]], None], every: float, until: Callable[[], bool]
    ) -> None:
        """Show the job's counts every ``every`` seconds, until ``until()`` (checked as well
        as the cancel: Python before 3.12 can lose a cancel inside a Redis call)."""
        while not until():
            with contextlib.suppress(RateLimiterUnavailableError):
                show(await self.ledger.counts())
            await asyncio.sleep(every)

    def close(self) -> None:
        self._tried.close()


def _is_number(key: str) -> bool:
    return key.startswith("+") and key[1:].isdigit()


def _add(keys: set[str], key: str) -> bool:
    if key in keys:
        return False
    keys.add(key)
    return True


async def report(args: argparse.Namespace) -> int:
    """``--report FILE``: the job's final records, one per number, and a summary."""
    ledger = open_ledger(args, None)
    written = "no report was written"
    try:
        async with ledger:
            fingerprint = await ledger.stored_input()
            if fingerprint is None:
                raise VlensInputError("--job", f"no job {args.job!r} at {ledger.where}")
            await ledger.reap()
            counts = Counter[str]()
            with _output(args.report) as out:
                written = f"the report in {args.report} is incomplete"
                async for line in _lines(ledger):
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    counts[line["status"]] += 1
            open_claims = await ledger.counts()
    except RateLimiterUnavailableError as error:
        return _cannot_reach(args.redis, error, f"{written} (run --report again once it is back)")
    return _summary(counts, open_claims, _size(fingerprint))


async def _lines(ledger: JobLedger) -> AsyncIterator[dict[str, Any]]:
    async for record in ledger.report():
        number = record.number if record.number.startswith("+") else None
        line: dict[str, Any] = {"input": record.number, "phone_number": number, "error": None}
        line.update(record.data)
        line.update(status=record.status, sent=record.sent, worker=record.worker)
        if not record.data and record.detail:  # settled by reap(): its worker stopped
            line["error"] = {"type": _LOST, "code": None, "message": record.detail}
        line.pop("at", None)
        yield line


@contextlib.contextmanager
def _output(path: Path) -> Any:
    try:
        with path.open("w", encoding="utf-8") as out:
            yield out
    except OSError as exc:
        raise VlensInputError("--report", f"{path}: {exc.strerror or exc}") from None


def _size(fingerprint: str) -> int | None:
    match = _NUMBERS.search(fingerprint)
    return int(match.group(1)) if match else None


def _summary(counts: Counter[str], ledger_counts: dict[str, int], size: int | None) -> int:
    done = sum(counts.values())
    parts = [f"{status} {counts[status]}" for status in sorted(counts)]
    busy = ledger_counts.get("claimed", 0) + ledger_counts.get("sending", 0)
    missing = max((size or done) - done, 0)
    if busy:
        parts.append(f"{busy} still in progress")
    if missing > busy:
        parts.append(f"{missing - busy} not sent yet")
    of = f" of {size}" if size is not None else ""
    print(f"{done}{of} numbers recorded: {', '.join(parts) or 'none'}")
    return 0 if done and counts["sent"] == done and not missing else 1
