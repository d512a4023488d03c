"""`vlens otp bulk`: inputs, the JSON lines, the summary and exit code, the journal and --resume."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from vlens_async import VlensClient
from vlens_async.cli import EXIT_API, EXIT_OK, EXIT_USAGE, main
from vlens_async.cli._bulk import Journal

from .conftest import (
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

FIELDS = {"input", "phone_number", "status", "request_id", "provider", "attempts", "error"}
SUMMARY = re.compile(r"^(\d+) numbers in [\d.]+ s \([\d.]+/s\): (.+)$")


def test_text_file_gives_one_json_line_per_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A text file (comments and blanks skipped): one line per number, summary, exit code 0."""
    source = tmp_path / "numbers.txt"
    source.write_text(f"# to text\n{number(1)}\n\n+20 100 000 0002\n00201000000001\n")
    out = tmp_path / "results.jsonl"
    code, stdout, stderr = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_OK, stderr
    final = finals(out)
    assert sorted(r["input"] for r in final) == ["+20 100 000 0002", number(1), "00201000000001"]
    for record in final:
        assert set(record) >= FIELDS
    by_input = {r["input"]: r for r in final}
    sent = by_input["+20 100 000 0002"]
    assert sent["status"] == "sent"
    assert sent["phone_number"] == number(2)
    assert sent["attempts"] == 1
    assert sent["error"] is None
    assert re.fullmatch(r"[0-9a-f-]{36}", sent["request_id"])
    assert by_input["00201000000001"]["status"] == "duplicate"
    assert by_input["00201000000001"]["request_id"] is None
    summary = SUMMARY.match(stdout.strip().splitlines()[-1])
    assert summary is not None
    assert summary.group(1) == "3"
    assert summary.group(2) == "sent 2, duplicate 1"


def test_csv_with_a_phone_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV's 'phone' column is read; a bad number or an empty phone cell is invalid, with its
    error, and exit code 1."""
    source = tmp_path / "people.csv"
    source.write_text(
        f'name,Phone,city\n"Doe, Jane",{number(1)},Cairo\nBob,12345,Giza\nAmr,,Giza\n'
        f"Ola,{number(2)},Alexandria\n"
    )
    out = tmp_path / "results.jsonl"
    code, stdout, _ = run_main(
        capsys, str(source), "--out", str(out), "--sandbox", "--provider", "vodafone"
    )
    assert code == EXIT_API
    by_input = {r["input"]: r for r in finals(out)}
    assert set(by_input) == {number(1), "12345", "(line 4: no 'Phone' cell)", number(2)}
    assert by_input[number(1)]["status"] == "sent"
    assert by_input[number(1)]["provider"] == "vodafone"
    invalid = by_input["12345"]
    assert (invalid["status"], invalid["phone_number"], invalid["attempts"]) == ("invalid", None, 0)
    assert invalid["error"]["code"] is None
    assert "E.164" in invalid["error"]["message"]
    assert stdout.strip().splitlines()[-1].endswith("sent 2, invalid 2")


def test_stdin_input_and_plain_progress_line(tmp_path: Path) -> None:
    """INPUT '-' reads stdin; on a non-terminal stderr progress is a plain line, not a bar."""
    out = tmp_path / "results.jsonl"
    numbers = [number(i) for i in range(5)]
    result = run_bulk("-", "--out", str(out), "--sandbox", stdin="\n".join(numbers) + "\n")
    assert result.returncode == EXIT_OK, result.stderr
    assert sorted(r["phone_number"] for r in finals(out)) == numbers
    assert {r["status"] for r in finals(out)} == {"sent"}
    assert re.search(r"^progress: 5 done \(.*\), 0 failed$", result.stderr, re.MULTILINE)
    assert "\r" not in result.stderr
    assert SUMMARY.match(result.stdout.strip().splitlines()[-1])


def test_refuses_to_append_to_results_without_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing results file is left alone unless --resume is given: exit code 2."""
    source = tmp_path / "numbers.txt"
    source.write_text(f"{number(1)}\n")
    out = tmp_path / "results.jsonl"
    out.write_text('{"input": "x", "status": "sent"}\n')
    code, _, stderr = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_USAGE
    assert "--resume" in stderr
    assert out.read_text() == '{"input": "x", "status": "sent"}\n'
    gc.collect()  # a file the refused run left open would warn here, inside this test


def test_missing_api_key_exits_2_and_leaves_no_file_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without VLENS_API_KEY (and no --sandbox) the run stops with exit code 2, leaking nothing."""
    monkeypatch.delenv("VLENS_API_KEY", raising=False)
    source = tmp_path / "numbers.txt"
    source.write_text(f"{number(1)}\n")
    code, _, stderr = run_main(capsys, str(source), "--out", str(tmp_path / "results.jsonl"))
    assert code == EXIT_USAGE
    assert "VLENS_API_KEY" in stderr
    gc.collect()  # an input or results file left open would warn here, inside this test


def test_error_lines_carry_code_and_message_but_never_an_otp(tmp_path: Path) -> None:
    """Every error is {type, code, message}; no line holds an OTP or an otp-named field."""
    out = tmp_path / "results.jsonl"
    source = tmp_path / "numbers.txt"
    source.write_text(f"{number(1)}\nnot-a-number\n")
    assert main(["otp", "bulk", str(source), "--out", str(out), "--sandbox"]) == EXIT_API
    for record in records(out):
        assert not any("otp" in key.lower() for key in record)
        if record.get("error") is not None:
            assert set(record["error"]) == {"type", "code", "message"}


def test_resume_turns_pending_lines_into_unknown_and_skips_recorded_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--resume: a number left pending is recorded unknown (never resent), done ones skipped."""
    _, source = numbers_file(tmp_path, 4)
    out = tmp_path / "results.jsonl"
    lines = [
        {"input": number(0), "phone_number": number(0), "status": "pending"},
        {"input": number(1), "phone_number": number(1), "status": "pending"},
        {"input": number(1), "phone_number": number(1), "status": "sent", "attempts": 1},
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"input": "+20')
    code, stdout, _ = run_main(capsys, str(source), "--out", str(out), "--sandbox", "--resume")
    assert code == EXIT_API  # the interrupted number is unknown
    final = [r for r in finals(out) if "phone_number" in r]
    assert Counter(r["phone_number"] for r in final) == {number(i): 1 for i in range(4)}
    statuses = {r["phone_number"]: r["status"] for r in final}
    assert statuses == {
        number(0): "unknown",
        number(1): "sent",
        number(2): "sent",
        number(3): "sent",
    }
    assert "2 already recorded" in stdout


def test_duplicate_line_does_not_settle_a_pending_number(tmp_path: Path) -> None:
    """A crash after 'pending X' and 'duplicate X' (a repeat of X) still leaves X unknown."""
    out = tmp_path / "results.jsonl"
    lines = [
        {"input": number(1), "phone_number": number(1), "status": "pending"},
        {"input": "0020 100 000 0001", "phone_number": number(1), "status": "duplicate"},
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    journal = Journal(out, resume=True)
    journal.close()
    assert journal.recovered_unknown == 1
    assert [r["status"] for r in records(out)] == ["pending", "duplicate", "unknown"]


def test_sigkill_then_resume_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    """Killed mid-run and resumed: every number has one final line, and at most one SMS."""
    numbers, source = numbers_file(tmp_path, 200)
    out = tmp_path / "results.jsonl"
    args = [str(source), "--out", str(out), "--rate", "40/s", "--concurrency", "8"]
    with served_sandbox() as port:
        run = subprocess.Popen(
            bulk_command(*args),
            env=bulk_env(port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for(lambda: len(finals(out)) >= 30, "30 results", process=run)
            run.send_signal(signal.SIGKILL)
            assert run.wait(timeout=10) == -signal.SIGKILL
        finally:
            if run.poll() is None:
                run.kill()
                run.wait(timeout=10)
            assert run.stderr is not None
            run.stderr.close()
        killed_at = len(finals(out))
        assert killed_at < len(numbers), "the run finished before it was killed"

        resumed = run_bulk(*args, "--resume", port=port)
        sms = outbox(port)

    final = finals(out)
    assert Counter(r["phone_number"] for r in final) == dict.fromkeys(numbers, 1)
    status = {r["phone_number"]: r["status"] for r in final}
    assert set(status.values()) <= {"sent", "unknown"}
    assert max(sms.values()) == 1  # nobody was texted twice
    assert set(sms) <= set(numbers)
    assert all(sms[n] == 1 for n in numbers if status[n] == "sent")
    interrupted = [r for r in final if (r["error"] or {}).get("type") == "Interrupted"]
    assert all(r["status"] == "unknown" for r in interrupted)
    assert resumed.returncode == (EXIT_API if interrupted else EXIT_OK), resumed.stderr


def test_summary_counts_numbers_recovered_unknown_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 7: three numbers left pending by a crash: --resume records them unknown and says
    so once (it used to print "3 numbers ...: unknown 3; 3 already recorded"); exit 1."""
    _, source = numbers_file(tmp_path, 3)
    out = tmp_path / "results.jsonl"
    pending = [
        {"input": number(i), "phone_number": number(i), "status": "pending"} for i in range(3)
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in pending))
    code, summary, _ = run_main(capsys, str(source), "--out", str(out), "--sandbox", "--resume")
    assert code == EXIT_API
    assert summary.startswith("0 numbers in "), summary
    assert "nothing to do; 3 already recorded (3 left pending by a crash: now unknown)" in summary
    assert "unknown 3" not in summary


def test_a_signal_during_the_closing_after_the_run_is_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or a second one) arriving once the run has ended, while the client's
    connections close, used to raise KeyboardInterrupt in the middle of closing them: sockets
    and the event loop were left open ("unclosed transport" warnings, a traceback under
    ``-W error``) and "interrupted" was printed after a finished run."""
    numbers, source = numbers_file(tmp_path, 3)
    out = tmp_path / "results.jsonl"
    closed: list[bool] = []
    close = VlensClient.aclose

    async def aclose_under_a_signal(self: VlensClient) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.2)  # the signal is delivered while the closing waits
        await close(self)
        closed.append(True)

    monkeypatch.setattr(VlensClient, "aclose", aclose_under_a_signal)
    code, _, stderr = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert (code, closed) == (EXIT_OK, [True]), stderr
    assert "interrupted" not in stderr
    assert sorted(r["phone_number"] for r in finals(out)) == numbers
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_on_a_missing_out_says_the_job_starts_from_the_beginning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--resume on an --out that does not exist (a first start under a supervisor, or a typo)
    runs the whole job, and says so: a mistyped path would otherwise text everyone again
    without a word."""
    numbers, source = numbers_file(tmp_path, 3)
    out = tmp_path / "resluts.jsonl"
    code, _, stderr = run_main(capsys, str(source), "--out", str(out), "--resume", "--sandbox")
    assert code == EXIT_OK, stderr
    assert f"--resume: {out} does not exist" in stderr
    assert sorted(r["phone_number"] for r in finals(out)) == numbers
    code, _, stderr = run_main(capsys, str(source), "--out", str(out), "--resume", "--sandbox")
    assert code == EXIT_OK, stderr
    assert "does not exist" not in stderr


def test_no_signal_can_reach_the_event_loop_while_it_closes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the event loop closes (its self-pipe first, its signal handlers after), Ctrl-C and
    SIGTERM are ignored and no signal wakeup fd is set: a signal in between was written to the
    closed pipe ("Exception ignored when trying to write to the signal wakeup fd: OSError: Bad
    file descriptor", a failure under ``-W error``). The caller's handlers are back after."""
    _, source = numbers_file(tmp_path, 2)
    at_close: dict[str, object] = {}
    new_event_loop = asyncio.events.new_event_loop

    def observed_loop() -> asyncio.AbstractEventLoop:
        loop = new_event_loop()
        close = loop.close

        def closing() -> None:
            wakeup_fd = signal.set_wakeup_fd(-1)  # reads it (and puts it back below)
            if wakeup_fd != -1:
                signal.set_wakeup_fd(wakeup_fd)
            at_close.update(wakeup_fd=wakeup_fd, SIGINT=signal.getsignal(signal.SIGINT))
            at_close.update(SIGTERM=signal.getsignal(signal.SIGTERM))
            close()

        loop.close = closing  # type: ignore[method-assign]
        return loop

    monkeypatch.setattr(asyncio.events, "new_event_loop", observed_loop)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    out = tmp_path / "results.jsonl"
    code, _, stderr = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_OK, stderr
    assert at_close == {"wakeup_fd": -1, "SIGINT": signal.SIG_IGN, "SIGTERM": signal.SIG_IGN}
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
