"""`vlens otp bulk --redis` with a Redis that cannot be reached: a clear one-line error
(the URL without its password), a non-zero exit code, and no file left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlens_async.cli import main

from ..conftest import free_port

PASSWORD = "s3cret-redis-pass"


@pytest.fixture
def nowhere() -> str:
    """A Redis URL, with a password, where nothing listens."""
    return f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"


def test_an_unreachable_redis_fails_before_the_out_file_is_created(
    tmp_path: Path, nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run wrote its --out file (the worker's `joined` line) before it first reached
    Redis: the next run without --resume was refused for a file that held no outcome. Now
    Redis is reached first."""
    source, out = tmp_path / "numbers.txt", tmp_path / "out.jsonl"
    source.write_text("+201000000000\n")
    argv = ["otp", "bulk", str(source), "--out", str(out), "--sandbox"]
    assert main([*argv, "--redis", nowhere, "--job", "j"]) == 4
    err = capsys.readouterr().err
    assert not out.exists()
    assert err.count("\n") == 1
    assert err.startswith(
        f"vlens: error: cannot reach Redis at {nowhere.replace(f':{PASSWORD}@', '')}"
    )
    assert "nothing was sent" in err
    assert PASSWORD not in err


def test_a_report_without_redis_says_no_report_was_written(
    tmp_path: Path, nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--report said "numbers not yet sent stay unsent: run the workers again (with
    --resume)", the wording of a send run. Now it says what happened to the report."""
    report = tmp_path / "final.jsonl"
    assert main(["otp", "bulk", "--redis", nowhere, "--job", "j", "--report", str(report)]) == 4
    err = capsys.readouterr().err
    assert not report.exists()
    assert err.count("\n") == 1
    assert "no report was written" in err
    assert "--resume" not in err
    assert "sent" not in err
    assert PASSWORD not in err
