"""`vlens otp bulk` puts each ``pending`` line on the disk (``fdatasync``) before the number's
request is handed over, so that after a power cut too a number that may have been texted is
recorded ``unknown`` on ``--resume``, never texted again; a journal that cannot be synced sends
nothing more."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from vlens_async.cli import EXIT_USAGE, _journal

from .conftest import finals, numbers_file, records, run_main


def _pending_numbers(path: Path) -> set[str]:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    return {r["phone_number"] for r in lines if r.get("status") == "pending"}


def test_every_pending_line_is_on_disk_before_its_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At each sync the journal is read as the disk would keep it: every number sent had its
    ``pending`` line synced, and no outcome line of a number came before its sync."""
    numbers, source = numbers_file(tmp_path, 12)
    out = tmp_path / "results.jsonl"
    synced: set[str] = set()
    real = _journal.sync_data

    def spy(fd: int) -> None:
        real(fd)
        synced.update(_pending_numbers(out))
        outcomes = {r["phone_number"] for r in records(out) if r["status"] != "pending"}
        assert outcomes <= synced, "an outcome was journaled before its pending line was synced"

    monkeypatch.setattr(_journal, "sync_data", spy)
    code, _, stderr = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == 0, stderr
    assert {r["phone_number"] for r in finals(out) if r["status"] == "sent"} == set(numbers)
    assert synced == set(numbers)


def test_a_journal_that_cannot_be_synced_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fails the sync (EIO): the number is not sent (its mark may be lost to a
    power cut), the run stops with a clear error naming --out and no traceback."""
    numbers, source = numbers_file(tmp_path, 5)
    out = tmp_path / "results.jsonl"

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with monkeypatch.context() as patched:
        patched.setattr(_journal, "sync_data", failing)
        code, _, stderr = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_USAGE, stderr
    assert "--out" in stderr
    assert "Input/output error" in stderr
    assert "Traceback" not in stderr
    assert not [r for r in finals(out) if r["status"] in ("sent", "unknown")]
    # the mark written but not synced was cleared: --resume sends every number, none unknown
    code, _, stderr = run_main(capsys, str(source), "--out", str(out), "--sandbox", "--resume")
    assert code == 0, stderr
    last = {r["phone_number"]: r["status"] for r in finals(out)}
    assert last == dict.fromkeys(numbers, "sent")
