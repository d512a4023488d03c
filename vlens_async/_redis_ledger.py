"""The ledger of a bulk job spread over workers: who sends which number, and what came of it.

Each number moves ``claimed`` (a worker owns it, nothing written yet) -> ``sending`` (the
request may have been written) -> a final record; a refused attempt goes back from ``sending``
to ``claimed``, still this worker's, before the next. Every step is one Lua script, so two
workers can never both own a number, and a worker whose claim was taken from it (its heartbeat
ran out) learns so before it writes anything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from . import _redis_scripts as scripts
from ._ratelimit import RateLimiterUnavailableError
from ._redis_base import Redis, close, connect, reaching, stop, where

__all__ = ["JobLedger", "LedgerRecord"]

logger = logging.getLogger("vlens_async.redis")
_JOB = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_SENT = ("no", "maybe", "yes")


@attrs.frozen
class LedgerRecord:
    """The final record of one number: its status, whether it was sent, by which worker."""

    number: str
    status: str
    sent: str  # "no", "maybe" or "yes"
    worker: str
    detail: str = ""
    data: dict[str, Any] = attrs.field(factory=dict)  # what the worker added (see record())


class JobLedger:
    """One bulk job's claims and outcomes in Redis, shared by every worker of the job.

    Use it as ``async with JobLedger(url, "june-campaign", input_id=digest) as ledger:``;
    while open, a heartbeat tells the other workers this one is alive.

    Args:
        url: the Redis URL.
        job: the job's name (letters, digits, ``_.-``); keys live under ``vlens:job:<job>:``.
        input_id: a fingerprint of the input; a worker with another input is refused. None
            joins the job whatever its input (to read it: counts, report).
        worker: this worker's name (default: random).
        ttl: seconds the job's keys live after its last write.
        alive_for: seconds a heartbeat keeps this worker alive; one is sent every third of it.
    """

    def __init__(
        self,
        url: str,
        job: str,
        *,
        input_id: str | None,
        worker: str | None = None,
        ttl: float = 7 * 86400,
        alive_for: float = 15.0,
        timeout: float = 5.0,
    ) -> None:
        if not _JOB.fullmatch(job):
            raise ValueError(f"job: expected 1-100 letters, digits or _.-, got {job!r}")
        self.job, self.where, self.input_id = job, where(url), input_id
        self.worker = worker or secrets.token_hex(6)
        self._url, self._timeout, self._ttl, self._alive_for = url, timeout, int(ttl), alive_for
        prefix = f"vlens:job:{job}:"
        self._keys = [prefix + part for part in ("claims", "records", "counts", "workers", "input")]
        self._redis: Redis | None = None
        self._beating: asyncio.Task[None] | None = None
        self._closing = False  # the heartbeat ends even if a cancel got lost inside redis-py

    async def __aenter__(self) -> JobLedger:
        self._redis = connect(self._url, self._timeout)
        try:
            if self.input_id is not None:
                with reaching(self._url):
                    known = await self._redis.set(self._keys[4], self.input_id, nx=True, get=True)
                if known is not None and _text(known) != self.input_id:
                    raise ValueError(f"job: {self.job!r} was started with another input")
            await self._heartbeat(self._alive_for)
        except BaseException:
            await self.aclose()
            raise
        self._closing = False
        self._beating = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._stop_beating()
            await self._heartbeat(0)  # a clean exit: this worker holds nothing any more
        except RateLimiterUnavailableError as error:
            logger.warning(
                "job %s: could not sign off (its heartbeat will run out): %s", self.job, error
            )
        finally:
            await self.aclose()

    async def claim(self, number: str) -> bool:
        """Take ``number`` for this worker; False if another worker has it, or it has a final
        record (except ``failed`` with ``sent="no"``: certainly not sent, so sent again)."""
        return await self._run(scripts.CLAIM, number, self.worker)

    async def sending(self, number: str) -> bool:
        """Mark ``number`` as possibly written; call right before writing its request.

        False: the claim is no longer this worker's (its heartbeat ran out); do not send.
        """
        return await self._run(scripts.SENDING, number, self.worker)

    async def not_sent(self, number: str) -> bool:
        """Undo :meth:`sending`: the attempt was refused, certainly not written. The number
        stays this worker's, ``claimed`` (a worker that dies now leaves it to the others,
        not ``unknown``), in one step: no other worker can take it meanwhile.

        False: the claim is no longer this worker's (reaped); do not send.
        """
        return await self._run(scripts.NOT_SENT, number, self.worker)

    async def record(
        self,
        number: str,
        status: str,
        sent: str,
        detail: str = "",
        data: Mapping[str, Any] | None = None,
    ) -> bool:
        """Write the final record of a number this worker claimed; False if not its claim.

        ``data`` (JSON-able) is kept with the record and comes back as ``LedgerRecord.data``.
        """
        if sent not in _SENT:
            raise ValueError(f"sent: expected one of {', '.join(_SENT)}, got {sent!r}")
        entry: dict[str, Any] = {"status": status, "sent": sent, "worker": self.worker}
        entry.update(detail=detail, data=dict(data or {}))
        return await self._run(scripts.RECORD, number, self.worker, status, json.dumps(entry))

    async def release(self, number: str) -> bool:
        """Give back a number this worker certainly did not send, for any worker to claim."""
        return await self._run(scripts.RELEASE, number, self.worker)

    async def reap(self) -> tuple[int, int]:
        """Settle the claims of dead workers: (released, recorded unknown)."""
        with reaching(self._url):
            released, unknown = await self._open().eval(scripts.REAP, 5, *self._keys, self._ttl)
        return int(released), int(unknown)

    async def held(self) -> AsyncIterator[str]:
        """The numbers this worker (by its name) holds a claim on, in no particular order."""
        mine = (f"claimed|{self.worker}".encode(), f"sending|{self.worker}".encode())
        with reaching(self._url):
            async for number, claim in self._open().hscan_iter(self._keys[0], count=1000):
                if claim in mine:
                    yield _text(number)

    async def stored_input(self) -> str | None:
        """The input fingerprint the job was started with (None: no such job)."""
        with reaching(self._url):
            known = await self._open().get(self._keys[4])
        return None if known is None else _text(known)

    async def counts(self) -> dict[str, int]:
        """Job-wide counts: ``claimed``, ``sending`` and ``status:<status>`` per final status."""
        with reaching(self._url):
            raw = await self._open().hgetall(self._keys[2])
        return {_text(name): int(value) for name, value in raw.items()}

    async def report(self) -> AsyncIterator[LedgerRecord]:
        """Every final record of the job, exactly one per number, in no particular order."""
        with reaching(self._url):
            async for number, raw in self._open().hscan_iter(self._keys[1], count=1000):
                entry = json.loads(raw)
                yield LedgerRecord(number=_text(number), **entry)

    async def aclose(self) -> None:
        """Stop the heartbeat and close the connections (``async with`` does this)."""
        await self._stop_beating()
        if self._redis is not None:
            await close(self._redis, self._timeout)
            self._redis = None

    def _open(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("use the ledger inside 'async with JobLedger(...)'")
        return self._redis

    async def _run(self, script: str, number: str, *args: str) -> bool:
        if not number:
            raise ValueError("number: must not be empty")
        with reaching(self._url):
            done = await self._open().eval(script, 5, *self._keys, self._ttl, number, *args)
        return bool(done)

    async def _heartbeat(self, alive_for: float) -> None:
        with reaching(self._url):
            await self._open().eval(
                scripts.HEARTBEAT, 5, *self._keys, self._ttl, self.worker, alive_for
            )

    async def _beat(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._alive_for / 3)
            try:
                await self._heartbeat(self._alive_for)
            except RateLimiterUnavailableError as error:
                # Not fatal: claims taken from a silent worker are fenced by sending().
                logger.warning("job %s: heartbeat failed: %s", self.job, error)

    async def _stop_beating(self) -> None:
        self._closing = True
        await stop(self._beating, self._timeout)
        self._beating = None

    def __repr__(self) -> str:
        return f"<JobLedger {self.job!r} worker={self.worker} at {self.where}>"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
