"""`vlens otp bulk`'s journal promises: one run per file, pending only after the permit,
``sent`` on every record, --resume sends exactly what was certainly not sent."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from vlens_async.cli import EXIT_API, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

from ..conftest import free_port
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

EXIT_INTERRUPTED = 130


def test_a_second_run_on_the_same_out_exits_2_at_once_and_sends_nothing(tmp_path: Path) -> None:
    """Item 1: two real processes on one --out: the second is refused (exit 2, the file named)
    while the first holds the lock (its input, a pipe, is still open), and nobody is texted
    twice."""
    numbers, source = numbers_file(tmp_path, 4)
    out = tmp_path / "results.jsonl"
    with served_sandbox() as port:
        first = subprocess.Popen(
            bulk_command("-", "--out", str(out), "--rate", "100/s"),
            env=bulk_env(port),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert first.stdin is not None
        try:
            first.stdin.write("".join(f"{n}\n" for n in numbers[:2]))
            first.stdin.flush()
            wait_for(lambda: len(finals(out)) == 2, "two outcomes", process=first)
            second = run_bulk(
                str(source), "--out", str(out), "--resume", "--rate", "100/s", port=port
            )
            first.stdin.write("".join(f"{n}\n" for n in numbers[2:]))
        finally:
            first.stdin.close()
            assert first.wait(timeout=HANG_GUARD) == EXIT_OK
        sms = outbox(port)
    assert second.returncode == EXIT_USAGE, second.stderr
    assert "in use" in second.stderr
    assert str(out) in second.stderr
    assert "Traceback" not in second.stderr
    assert second.stdout == ""
    assert sms == dict.fromkeys(numbers, 1)
    assert sorted(r["phone_number"] for r in finals(out)) == numbers


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_rate_limit_wait_records_no_untexted_number_unknown(
    sig: signal.Signals, tmp_path: Path
) -> None:
    """Item 3: interrupted at --rate 5/s, numbers waiting for a permit are not recorded
    unknown; every unknown was texted; --resume texts the rest, each exactly once."""
    numbers, source = numbers_file(tmp_path, 30)
    out = tmp_path / "results.jsonl"
    args = [str(source), "--out", str(out), "--rate", "5/s", "--concurrency", "8"]
    with served_sandbox() as port:
        run = subprocess.Popen(
            bulk_command(*args),
            env=bulk_env(port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: len(finals(out)) >= 3, "three outcomes", process=run)
        run.send_signal(sig)
        _, stderr = run.communicate(timeout=HANG_GUARD)
        texted = outbox(port)
        assert run.returncode == EXIT_INTERRUPTED, stderr
        assert "Traceback" not in stderr
        resumed = run_bulk(*args, "--resume", port=port)
        sms = outbox(port)
    assert resumed.returncode in (EXIT_OK, EXIT_API), resumed.stderr
    last = {r["phone_number"]: r["status"] for r in finals(out)}  # the last record wins
    unknown = {n for n, status in last.items() if status == "unknown"}
    assert unknown <= set(texted), "a number never texted was recorded unknown"
    assert {last[n] for n in numbers} <= {"sent", "unknown"}
    assert max(sms.values()) == 1
    assert set(sms) == set(numbers) - (unknown - set(sms))


def test_server_down_exits_3_and_resume_sends_every_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 4: connection refused everywhere: exit 3, each number failed with sent "no";
    --resume then sends them all (it used to say "nothing to do")."""
    numbers, source = numbers_file(tmp_path, 3)
    out = tmp_path / "results.jsonl"
    monkeypatch.setenv("VLENS_API_KEY", "sandbox-key")
    monkeypatch.setenv("VLENS_BASE_URL", f"http://127.0.0.1:{free_port()}")
    args = [str(source), "--out", str(out), "--max-attempts", "2"]
    code, _, stderr = run_main(capsys, *args, "--rate", "1000/s")
    assert code == EXIT_UNREACHABLE
    assert "cannot reach the server" in stderr
    down = finals(out)
    assert [(r["status"], r["sent"]) for r in down] == [("failed", "no")] * 3
    assert run_main(capsys, *args, "--sandbox", "--resume")[0] == EXIT_OK
    sent = [r for r in finals(out) if r["status"] == "sent"]
    assert sorted(r["phone_number"] for r in sent) == numbers
    assert all(r["sent"] == "yes" for r in sent)
    code, stdout, _ = run_main(capsys, *args, "--sandbox", "--resume")
    assert code == EXIT_OK
    assert "nothing to do; 3 already recorded" in stdout


def test_bad_api_key_is_a_refusal_and_resume_with_the_right_key_sends_all(
    tmp_path: Path,
) -> None:
    """Item 4: every answer a 401: exit 1 (the server was reached), each failed with sent
    "no"; --resume with the right key texts each number once."""
    numbers, source = numbers_file(tmp_path, 3)
    out = tmp_path / "results.jsonl"
    args = [str(source), "--out", str(out), "--rate", "100/s"]
    with served_sandbox() as port:
        wrong = run_bulk(*args, port=port, VLENS_API_KEY="wrong-key")
        assert wrong.returncode == EXIT_API, wrong.stderr
        refused = finals(out)
        assert {(r["status"], r["sent"], r["error"]["type"]) for r in refused} == {
            ("failed", "no", "AuthenticationError")
        }
        right = run_bulk(*args, "--resume", port=port)
        sms = outbox(port)
    assert right.returncode == EXIT_OK, right.stderr
    assert sms == dict.fromkeys(numbers, 1)


def test_resume_sends_exactly_the_numbers_certainly_not_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 4: --resume sends failed/sent="no" and never-journaled numbers; never a sent,
    unknown, maybe-sent, old-style failed (no "sent") or crash-pending one."""
    numbers, source = numbers_file(tmp_path, 7)
    out = tmp_path / "results.jsonl"
    lines = [
        {"phone_number": numbers[0], "status": "sent", "sent": "yes"},
        {"phone_number": numbers[1], "status": "unknown", "sent": "maybe"},
        {"phone_number": numbers[2], "status": "failed", "sent": "no"},
        {"phone_number": numbers[3], "status": "failed"},  # an older journal: cannot tell
        {"phone_number": numbers[4], "status": "pending", "sent": "maybe"},
        {"phone_number": numbers[5], "status": "failed", "sent": "no"},
        {"phone_number": numbers[5], "status": "pending", "sent": "maybe"},
    ]
    out.write_text("".join(json.dumps({"input": r["phone_number"], **r}) + "\n" for r in lines))
    code, stdout, _ = run_main(capsys, str(source), "--out", str(out), "--sandbox", "--resume")
    assert code == EXIT_API  # the two crash-pending numbers are unknown
    new = [r for r in records(out)[len(lines) :] if r["status"] != "pending"]
    assert sorted((r["phone_number"], r["status"]) for r in new) == [
        (numbers[2], "sent"),
        (numbers[4], "unknown"),
        (numbers[5], "unknown"),
        (numbers[6], "sent"),
    ]
    assert "5 already recorded" in stdout


@pytest.mark.parametrize("resume", [[], ["--resume"]], ids=["new", "resume"])
@pytest.mark.parametrize("via", ["same-path", "symlink", "stdin"])
def test_out_that_is_the_input_itself_exits_2_and_leaves_it_untouched(
    via: str,
    resume: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--out naming INPUT (by its path, a symlink to it, or INPUT '-' with the file on stdin)
    would read the numbers as a journal and append to them: exit 2, file unchanged."""
    _, source = numbers_file(tmp_path, 3)
    before = source.read_bytes()
    out, given = source, str(source)
    if via == "symlink":
        out = tmp_path / "results.jsonl"
        out.symlink_to(source)
    if via == "stdin":
        given = "-"
        monkeypatch.setattr("sys.stdin", source.open("rb"))
    try:
        code, _, err = run_main(capsys, given, "--out", str(out), "--sandbox", *resume)
    finally:
        if via == "stdin":
            import sys

            sys.stdin.close()
    assert code == EXIT_USAGE
    assert "--out" in err
    assert "is INPUT" in err
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (f"{number(1)}\n{number(2)}\n", "line 1 is not JSON"),
        ("phone\n+201000000001\n", "line 1 is not JSON"),
        ("[1, 2]\n", "line 1 is a JSON list"),
        ('{"name": "Jane"}\n', "line 1 is a JSON object without"),
    ],
)
@pytest.mark.parametrize("resume", [[], ["--resume"]], ids=["new", "resume"])
def test_out_that_is_not_a_results_file_exits_2_saying_what_it_found(
    content: str,
    found: str,
    resume: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A non-empty --out whose lines are not results records is refused (exit 2), naming the
    line and what it holds, and neither read as a journal nor appended to."""
    _, source = numbers_file(tmp_path, 2)
    out = tmp_path / "other.txt"
    out.write_text(content)
    code, _, err = run_main(capsys, str(source), "--out", str(out), "--sandbox", *resume)
    assert code == EXIT_USAGE
    assert "not a results file" in err
    assert found in err
    assert out.read_text() == content


def test_resume_on_a_journal_with_a_foreign_line_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--resume reads every line: one that is not a record (and not a crash-cut last line) is
    refused with its line number, nothing sent or appended."""
    _, source = numbers_file(tmp_path, 2)
    out = tmp_path / "results.jsonl"
    content = '{"input": "x", "status": "sent", "sent": "yes"}\nnot json\n{"a": 1}\n'
    out.write_text(content)
    code, _, err = run_main(capsys, str(source), "--out", str(out), "--sandbox", "--resume")
    assert code == EXIT_USAGE
    assert "not a results file: line 2 is not JSON" in err
    assert out.read_text() == content
