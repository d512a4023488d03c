"""An answer Redis never recorded (it went away right after the send) is `unknown` in the
job's --report, and kept in the worker's --out, which docs/scaling.md sends the reader to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vlens_async import RateLimiterUnavailableError
from vlens_async.cli import main
from vlens_async.redis import JobLedger

NUMBER = "+201000000000"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_answer_redis_did_not_record_is_in_the_worker_out_file(
    tmp_path: Path, redis_url: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis stops between the send and its record: the resumed worker records the number
    `unknown` (`WorkerLost`, naming the worker); the answer, `sent` with its request id, is
    the last line for that number in the --out whose `joined` line names that worker."""
    record = JobLedger.record

    async def redis_gone(self: JobLedger, number: str, *args: Any, **kwargs: Any) -> bool:
        raise RateLimiterUnavailableError(self.where, "ConnectionError: Redis went away")

    source, out = tmp_path / "numbers.txt", tmp_path / "out.jsonl"
    source.write_text(f"{NUMBER}\n")
    argv = ["otp", "bulk", str(source), "--out", str(out), "--sandbox"]
    argv += ["--redis", redis_url, "--job", name]
    monkeypatch.setattr(JobLedger, "record", redis_gone)
    assert main(argv) == 4
    monkeypatch.setattr(JobLedger, "record", record)
    assert main([*argv, "--resume"]) == 0  # nothing left to send: its journal settles it
    report = tmp_path / "final.jsonl"
    assert main(["otp", "bulk", "--redis", redis_url, "--job", name, "--report", str(report)])
    [final] = lines(report)
    assert (final["status"], final["error"]["type"]) == ("unknown", "WorkerLost")
    journal = lines(out)
    joined = [(line["job"], line["worker"]) for line in journal if line["status"] == "joined"]
    assert joined == [(name, final["worker"])]
    last = [line for line in journal if line.get("phone_number") == NUMBER][-1]
    assert (last["status"], last["sent"]) == ("sent", "yes")
    assert last["request_id"]
