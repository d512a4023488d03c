"""Hostile command lines: each is refused with one line naming the option and exit 2, before
anything is sent or written, never with a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlens_async.cli import EXIT_USAGE, main


def _one_error_line(err: str, *names: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "error:" in lines[0], err
    for name in names:
        assert name in lines[0], (name, err)


@pytest.mark.parametrize(
    ("redis", "job", "named"),
    [("", "j", "--redis"), ("redis://127.0.0.1:1", "", "--job"), ("", "", "--redis")],
)
def test_an_empty_redis_or_job_is_refused_not_run_as_a_lone_worker(
    redis: str, job: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--redis "$UNSET"` is refused: run alone, each worker of the job would text every number."""
    source = tmp_path / "numbers.txt"
    source.write_text("+201001234567\n")
    out = tmp_path / "results.jsonl"
    argv = ["otp", "bulk", str(source), "--out", str(out), "--sandbox"]
    assert main([*argv, "--redis", redis, "--job", job]) == EXIT_USAGE
    _one_error_line(capsys.readouterr().err, named)
    assert not out.exists()
