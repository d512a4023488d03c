"""Invalid entries (text that is no phone number) are remembered exactly in bounded memory: by
``survey`` (the size of a shared ``--redis`` job) and by the journal on ``--resume``; so are
the keys ``client.bulk.run`` has seen."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from vlens_async import VlensClient
from vlens_async.bulk import BulkStatus
from vlens_async.cli._inputs import survey
from vlens_async.cli._journal import Journal
from vlens_transports import FakeTransport, Request, Response

from .conftest import API_KEY, number

T = TypeVar("T")


def _peak(work: Callable[[], T]) -> tuple[T, int]:
    """What ``work`` returned, and the peak of memory traced while it ran."""
    tracemalloc.start()
    try:
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def _garbage(count: int) -> list[str]:
    return [f"call me maybe {i:07d} (no number)" for i in range(count)]


def test_survey_counts_invalid_entries_exactly_in_flat_memory(tmp_path: Path) -> None:
    """Four times more invalid entries take nowhere near four times the memory (they were kept in
    a set), and the count of different entries stays exact: repeats count once, valid numbers
    apart."""
    peaks = []
    for count in (9_000, 40_000):
        source = tmp_path / f"garbage-{count}.txt"
        lines = _garbage(count) + _garbage(100) + [number(1), number(2), number(1)]
        source.write_text("".join(line + "\n" for line in lines))
        found, peak = _peak(functools.partial(survey, str(source), None))
        assert found.entries == count + 103
        assert found.distinct == count + 2
        peaks.append(peak)
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_resume_remembers_invalid_entries_in_flat_memory(tmp_path: Path) -> None:
    """A journal with many invalid records: --resume skips each of them (and only them) without
    holding them all in memory."""
    peaks = []
    for count in (9_000, 40_000):
        out = tmp_path / f"results-{count}.jsonl"
        records = [{"input": text, "status": "invalid"} for text in _garbage(count)]
        out.write_text("".join(json.dumps(record) + "\n" for record in records))

        def load(out: Path = out) -> Journal:
            journal = Journal(out, resume=True)
            journal.close()  # the peak of loading, not of the finished object
            return journal

        _, peak = _peak(load)
        peaks.append(peak)
        journal = Journal(out, resume=True)
        try:
            assert journal.skip(_garbage(count)[-1])
            assert journal.skip(_garbage(1)[0])
            assert not journal.skip(f"call me maybe {count:07d} (no number)")
            assert not journal.skip(number(1))
        finally:
            journal.close()
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_run_drops_repeats_exactly_in_flat_memory() -> None:
    """``client.bulk.run(..., key=...)`` (and so ``check_existence``) remembers the keys it has
    seen, to drop repeats, in bounded memory: four times more distinct items take nowhere near
    four times the memory (they were kept in a set), and a repeat is still dropped exactly."""

    async def call(client: VlensClient, item: str) -> str:
        return item

    async def run(count: int) -> Counter[BulkStatus]:
        client = VlensClient(API_KEY, transport=FakeTransport(_unused))
        # read lazily, as a file would be: the input itself is not held
        items = (f"user-{i:07d}@example.com" for i in itertools.chain(range(count), [1]))
        statuses: Counter[BulkStatus] = Counter()
        async with client:
            async for outcome in client.bulk.run(
                items, call, key=str.lower, concurrency=8, rate_limits=None
            ):
                statuses[outcome.status] += 1
        return statuses

    peaks = []
    for count in (9_000, 40_000):
        statuses, peak = _peak(functools.partial(asyncio.run, run(count)))
        assert statuses == Counter({BulkStatus.OK: count, BulkStatus.DUPLICATE: 1})
        peaks.append(peak)
    assert peaks[1] < 1.5 * peaks[0], peaks


async def _unused(request: Request) -> Response:
    raise AssertionError("the call under test sends nothing")
