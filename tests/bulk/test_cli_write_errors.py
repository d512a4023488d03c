"""`vlens otp bulk` when a file or stream lets it down: a journal that cannot be written
whole (a full disk, a file size limit, a crash mid-line), --out a pipe, stdin closed or bad
mid-run, an output pipe whose reader left. The run stops with a clear error (or, for progress
lines, goes on), the calls in flight are recorded, and every later ``--resume`` works and
texts nobody twice."""

from __future__ import annotations

import errno
import functools
import io
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vlens_async.cli import EXIT_API, EXIT_OK, EXIT_USAGE, _bulk, _journal, main
from vlens_async.cli._progress import Progress

from .conftest import (
    HANG_GUARD,
    bulk_command,
    bulk_env,
    finals,
    number,
    numbers_file,
    outbox,
    records,
    run_bulk,
    run_main,
    served_sandbox,
    wait_for,
)

SCRIPT = str(Path(__file__).with_name("faulty_sandbox.py"))


def test_resume_works_again_after_resuming_a_journal_cut_mid_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crash cut the last line: the first --resume drops it (it used to end it with a
    newline, and the second --resume then refused the file: "line 2 is not JSON", so the job
    could never be finished)."""
    numbers, source = numbers_file(tmp_path, 3)
    out = tmp_path / "results.jsonl"
    done = {"input": numbers[0], "phone_number": numbers[0], "status": "sent", "sent": "yes"}
    cut = json.dumps({"input": numbers[1], "phone_number": numbers[1], "status": "pending"})
    out.write_text(json.dumps(done) + "\n" + cut[:30])
    args = [str(source), "--out", str(out), "--sandbox", "--resume"]
    code, _, err = run_main(capsys, *args)
    assert code == EXIT_OK, err
    assert len(records(out)) == len(out.read_text().splitlines())  # the cut line is gone
    code, stdout, err = run_main(capsys, *args)
    assert code == EXIT_OK, err
    assert "nothing to do; 3 already recorded" in stdout
    assert sorted(r["phone_number"] for r in finals(out)) == numbers


def test_a_whole_last_record_without_its_newline_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crash between a record and its newline: the record stands (its number is not sent
    again) and is ended before the next one."""
    numbers, source = numbers_file(tmp_path, 2)
    out = tmp_path / "results.jsonl"
    done = {"input": numbers[0], "phone_number": numbers[0], "status": "sent", "sent": "yes"}
    out.write_text(json.dumps(done))
    args = [str(source), "--out", str(out), "--sandbox", "--resume"]
    for _ in range(2):
        code, _, err = run_main(capsys, *args)
        assert code == EXIT_OK, err
    assert sorted(r["phone_number"] for r in finals(out)) == numbers
    assert out.read_text().startswith(json.dumps(done) + "\n")


def _file_size_limit(size: int) -> Any:
    def limit() -> None:  # in the child: writes past `size` bytes fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as CPython does anyway
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


@pytest.mark.parametrize("limit", [760, 1000], ids=["in-a-pending-line", "in-an-outcome-line"])
def test_file_size_limit_mid_line_stops_the_run_and_resumes_finish_it(
    limit: int, tmp_path: Path
) -> None:
    """A file size limit reached mid-line: exit 2 naming --out, no traceback, and the half
    line taken back (it used to stay, and the second --resume then refused the file). Two
    --resume runs finish the job, each number texted once: the number whose pending line
    failed was never sent, the one whose outcome line failed is unknown."""
    numbers, source = numbers_file(tmp_path, 12)
    out = tmp_path / "results.jsonl"
    args = [str(source), "--out", str(out), "--rate", "1000/s", "--concurrency", "1"]
    with served_sandbox("--resend-cooldown", "0") as port:
        limited = subprocess.run(
            bulk_command(*args),
            env=bulk_env(port),
            capture_output=True,
            text=True,
            timeout=HANG_GUARD * 3,
            check=False,
            preexec_fn=_file_size_limit(limit),
        )
        assert limited.returncode == EXIT_USAGE, limited.stderr
        assert "Traceback" not in limited.stderr
        assert "--out" in limited.stderr
        assert "File too large" in limited.stderr
        assert out.read_bytes().endswith(b"\n")
        first = run_bulk(*args, "--resume", port=port)
        second = run_bulk(*args, "--resume", port=port)
        sms = outbox(port)
    assert first.returncode in (EXIT_OK, EXIT_API), first.stderr  # EXIT_API: one unknown
    assert second.returncode == EXIT_OK, second.stderr
    assert "nothing to do" in second.stdout
    assert sms == dict.fromkeys(numbers, 1)
    assert sorted(r["phone_number"] for r in finals(out)) == numbers


class _DiskFullOnce:
    """``os`` for the journal, whose ``write`` fills the disk once: the call after
    ``after`` whole writes writes half of its bytes, the next one fails with ENOSPC; later
    writes succeed (space was freed)."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.full = False

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        if self.full:
            self.full = False
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.after -= 1
        if self.after == -1:
            self.full = True
            return os.write(fd, data[: len(data) // 2])
        return os.write(fd, data)


def test_a_failed_write_leaves_no_half_line_for_later_records_to_join(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails halfway (disk full) takes its half line back: the records written
    after it (the numbers in flight, recorded unknown) stay whole lines instead of being glued
    to it, unreadable (one of them could be the only mark of a number that was texted)."""
    numbers, source = numbers_file(tmp_path, 6)
    out = tmp_path / "results.jsonl"
    monkeypatch.setattr(_journal, "os", _DiskFullOnce(after=3))
    args = [str(source), "--out", str(out), "--sandbox", "--concurrency", "4"]
    code, _, err = run_main(capsys, *args)
    assert code == EXIT_USAGE, err
    assert "No space left on device" in err
    lines = out.read_bytes().splitlines(keepends=True)
    assert all(line.endswith(b"\n") for line in lines)
    assert len(records(out)) == len(lines), "a line of the journal is not a whole record"
    monkeypatch.undo()
    code, _, err = run_main(capsys, str(source), "--out", str(out), "--sandbox", "--resume")
    assert code in (EXIT_OK, EXIT_API), err
    assert {r["phone_number"] for r in finals(out)} == set(numbers)


def test_resume_into_a_pipe_exits_2_instead_of_texting_everyone_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--resume with --out a pipe (say /dev/stdout piped to tee) has no results to read back:
    exit 2 naming --out, nothing sent (it used to send every number again)."""
    _, source = numbers_file(tmp_path, 2)
    pipe = tmp_path / "results.fifo"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # so that opening it to write works
    try:
        code, stdout, err = run_main(
            capsys, str(source), "--out", str(pipe), "--sandbox", "--resume"
        )
        written = os.read(reader, 65536)
    finally:
        os.close(reader)
    assert code == EXIT_USAGE, err
    assert "--out" in err
    assert "not a regular file" in err
    assert stdout == ""
    assert written == b""


def test_a_bad_line_mid_stdin_lets_the_calls_in_flight_finish_and_record(
    tmp_path: Path,
) -> None:
    """A line of stdin that is not UTF-8, arriving while the numbers before it are in flight:
    exit 2 naming INPUT and the line, after those numbers are recorded sent (the run used to
    cancel them and record them unknown, "aborted mid-call", though each was texted)."""
    numbers = [number(i) for i in range(3)]
    out, seen = tmp_path / "results.jsonl", tmp_path / "seen.txt"
    with served_sandbox("--seen", str(seen), "--latency", "1", script=SCRIPT) as port:
        run = subprocess.Popen(
            bulk_command("-", "--out", str(out), "--rate", "1000/s"),
            env=bulk_env(port),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert run.stdin is not None
        try:
            run.stdin.write("".join(f"{n}\n" for n in numbers).encode())
            run.stdin.flush()
            wait_for(lambda: len(records(out)) == 3, "three numbers in flight", process=run)
            stdout, stderr = run.communicate(b"+20100\xff\xfe0009\n", timeout=HANG_GUARD)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
        sms = outbox(port)
    assert run.returncode == EXIT_USAGE, stderr
    assert b"Traceback" not in stderr
    assert b"INPUT" in stderr
    assert b"line 4" in stderr
    assert b"3 numbers" in stdout  # the summary of what was done
    assert sorted((r["phone_number"], r["status"]) for r in finals(out)) == [
        (n, "sent") for n in numbers
    ]
    assert sms == dict.fromkeys(numbers, 1)


def test_stdin_closed_exits_2_naming_input(tmp_path: Path) -> None:
    """INPUT '-' with stdin closed (``<&-``): exit 2 naming INPUT, not a traceback."""
    out = tmp_path / "results.jsonl"
    run = subprocess.run(
        bulk_command("-", "--out", str(out), "--sandbox"),
        env=bulk_env(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD * 3,
        check=False,
        preexec_fn=lambda: os.close(0),
    )
    assert run.returncode == EXIT_USAGE, run.stderr
    assert "Traceback" not in run.stderr
    assert "INPUT" in run.stderr
    assert "stdin is closed" in run.stderr


class _ReaderGone(io.StringIO):
    """A stream whose reader has left (``2>&1 | head -1``): every write fails with EPIPE."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def test_a_closed_progress_stream_never_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stderr (progress) and stdout (summary) piped to a reader that left: every number is
    sent and recorded, exit 0. The first progress line used to raise mid-run: the numbers in
    flight were recorded unknown (each had been texted) and the rest were never sent."""
    numbers, source = numbers_file(tmp_path, 20)
    out = tmp_path / "results.jsonl"
    monkeypatch.setattr(_bulk, "Progress", functools.partial(Progress, every=0.0))
    monkeypatch.setattr(sys, "stderr", _ReaderGone())
    monkeypatch.setattr(sys, "stdout", _ReaderGone())
    code = main(["otp", "bulk", str(source), "--out", str(out), "--sandbox"])
    monkeypatch.undo()
    assert code == EXIT_OK
    assert sorted((r["phone_number"], r["status"]) for r in finals(out)) == [
        (n, "sent") for n in numbers
    ]
