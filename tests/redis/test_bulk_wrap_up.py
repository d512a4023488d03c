"""`vlens otp bulk --redis` at its end: a second Ctrl-C during the last ledger read, and a
journal that cannot be written after the fence."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from vlens_async.cli import _bulk, main
from vlens_async.cli._journal import Journal, JournalError
from vlens_async.cli._progress import Progress
from vlens_async.redis import JobLedger


def numbers_file(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "numbers.txt"
    path.write_text("".join(f"+2010{index:08d}\n" for index in range(count)))
    return path


def test_a_second_interrupt_during_the_last_ledger_read_ends_cleanly(
    tmp_path: Path, redis_url: str, name: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """First SIGINT: stop after the calls in flight. A second one while the run reads the job's
    counts for the last time used to cancel that read: a CancelledError traceback, no summary.
    Now the run ends with its summary and exit code 130."""
    sending, counts, abandon = JobLedger.sending, JobLedger.counts, _bulk._Run._abandon_in_flight
    stopped = {"first": False, "wrapping_up": False}

    async def sending_then_stop(self: JobLedger, number: str) -> bool:
        if not stopped["first"]:
            stopped["first"] = True
            os.kill(os.getpid(), signal.SIGINT)  # handled by the run's loop: "finishing"
        return await sending(self, number)

    def wrap_up(self: Any) -> None:  # the step right before the last read of the counts
        stopped["wrapping_up"] = True
        abandon(self)

    async def counts_interrupted(self: JobLedger) -> dict[str, int]:
        if stopped["wrapping_up"]:
            os.kill(os.getpid(), signal.SIGINT)  # arrives while this read is under way:
            await asyncio.sleep(0.2)  # a slow Redis, as when it is the reason for Ctrl-C
        return await counts(self)

    monkeypatch.setattr(JobLedger, "sending", sending_then_stop)
    monkeypatch.setattr(JobLedger, "counts", counts_interrupted)
    monkeypatch.setattr(_bulk._Run, "_abandon_in_flight", wrap_up)
    out = tmp_path / "out.jsonl"
    source = str(numbers_file(tmp_path, 40))
    args = ["otp", "bulk", source, "--out", str(out), "--sandbox", "--rate", "5/s"]
    code = main([*args, "--redis", redis_url, "--job", name])
    assert stopped["wrapping_up"]
    assert code == 130
    assert "done" in capsys.readouterr().err.lower()  # the summary was printed


def test_a_journal_that_fails_after_the_fence_hands_the_claim_back(
    tmp_path: Path, redis_url: str, name: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The claim moved to `sending`, then the `pending` line could not be written (a full
    disk): nothing was sent, so the claim goes back to `claimed`, which a dead worker's
    reaping releases, instead of staying `sending`, which it records `unknown` forever."""
    write = Journal.write

    def full_disk(self: Journal, line: dict[str, Any]) -> None:
        if line.get("status") == "pending":
            raise JournalError(f"cannot write {self.path}: No space left on device")
        write(self, line)

    monkeypatch.setattr(Journal, "write", full_disk)
    out = tmp_path / "out.jsonl"
    source = str(numbers_file(tmp_path, 3))
    code = main(
        ["otp", "bulk", source, "--out", str(out), "--sandbox", "--redis", redis_url, "--job", name]
    )
    assert code == 2
    report = tmp_path / "report.jsonl"
    assert main(["otp", "bulk", "--redis", redis_url, "--job", name, "--report", str(report)]) in (
        0,
        1,
        3,
    )
    records = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    assert all(record.get("status") != "unknown" for record in records), records
    assert "3 numbers recorded: 3 not sent yet" in capsys.readouterr().out


def test_the_job_progress_line_never_counts_unknown_as_not_sent() -> None:
    """`unknown` may have been texted: counted apart, so nobody resends it as "not sent"."""
    shown = io.StringIO()
    progress = Progress(10, shown, every=0.0)
    progress.job({"status:sent": 5, "status:failed": 2, "status:unknown": 3, "sending": 1})
    assert "2 not sent, 3 unknown, 1 in progress" in shown.getvalue()
