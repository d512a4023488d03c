"""`vlens otp bulk` killed mid-run: only numbers whose request may have been written are left
``pending`` (so ``--resume`` records them ``unknown``); every other number is sent by it."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from .conftest import (
    HANG_GUARD,
    bulk_command,
    bulk_env,
    finals,
    numbers_file,
    outbox,
    records,
    run_bulk,
    served_sandbox,
    wait_for,
)

SCRIPT = str(Path(__file__).with_name("faulty_sandbox.py"))


def test_concurrency_above_100_gets_a_pool_that_large_so_pending_means_written(
    tmp_path: Path,
) -> None:
    """Item 2: --concurrency 110 against a slow server: all 110 journaled-pending requests
    reach the server (the client's pool used to hold 100, leaving 10 pending but unwritten);
    after SIGKILL, --resume's unknown numbers are exactly those the server received."""
    numbers, source = numbers_file(tmp_path, 110)
    out, seen = tmp_path / "results.jsonl", tmp_path / "seen.txt"
    args = [str(source), "--out", str(out), "--rate", "100000/s", "--concurrency", "110"]
    with served_sandbox("--seen", str(seen), "--latency", "30", script=SCRIPT) as port:
        run = subprocess.Popen(
            bulk_command(*args),
            env=bulk_env(port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def received() -> set[str]:
                return set(seen.read_text().split()) if seen.exists() else set()

            wait_for(lambda: received() == set(numbers), "110 requests received", process=run)
        finally:
            run.kill()
            run.wait(timeout=HANG_GUARD)
        resumed = run_bulk(*args, "--resume", port=port)
    assert "Traceback" not in resumed.stderr
    unknown = {r["phone_number"] for r in finals(out) if r["status"] == "unknown"}
    assert unknown == set(numbers) == received()


def test_sigkill_while_a_refused_number_waits_leaves_it_not_sent(tmp_path: Path) -> None:
    """Item 3: a 429 (Retry-After 30) refuses the first attempt; the journal then clears the
    number's pending mark ("pending", sent "no"); killed while it waits for its next
    attempt, --resume sends it (it used to record it unknown, though nothing was sent)."""
    numbers, source = numbers_file(tmp_path, 1)
    out = tmp_path / "results.jsonl"
    args = [str(source), "--out", str(out), "--rate", "100/s"]
    fault = "registration.send_phone_otp:rate_limit=30:times=1"
    with served_sandbox("--resend-cooldown", "0", "--fault", fault) as port:
        run = subprocess.Popen(bulk_command(*args), env=bulk_env(port), stdout=subprocess.DEVNULL)
        try:
            wait_for(
                lambda: (
                    [(r["status"], r.get("sent")) for r in records(out)]
                    == [("pending", "maybe"), ("pending", "no")]
                ),
                "the refusal journaled",
                process=run,
            )
        finally:
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=HANG_GUARD)
        assert records(out)[1]["error"]["type"] == "RateLimitedError"
        resumed = run_bulk(*args, "--resume", port=port)
        sms = outbox(port)
    assert resumed.returncode == 0, resumed.stderr
    assert [(r["status"], r["sent"]) for r in finals(out)] == [("sent", "yes")]
    assert sms == dict.fromkeys(numbers, 1)


def test_a_refused_api_key_costs_one_request_and_resume_sends_all(tmp_path: Path) -> None:
    """Item 5: with a wrong key the run stops at the first 401: one request in all (it used to
    be one per number), every number failed with sent "no", exit 1 with a line saying the key
    was refused; --resume with the right key texts each number once."""
    numbers, source = numbers_file(tmp_path, 20)
    out, seen = tmp_path / "results.jsonl", tmp_path / "seen.txt"
    args = [str(source), "--out", str(out), "--rate", "1000/s", "--concurrency", "1"]
    with served_sandbox("--seen", str(seen), "--latency", "0.01", script=SCRIPT) as port:
        wrong = run_bulk(*args, port=port, VLENS_API_KEY="wrong-key")
        requests = seen.read_text().split()
        refused = finals(out)
        right = run_bulk(*args, "--resume", port=port)
        sms = outbox(port)
    assert wrong.returncode == 1, wrong.stderr
    assert "API key was refused" in wrong.stderr
    assert "wrong-key" not in wrong.stderr + wrong.stdout
    assert requests == [numbers[0]]
    assert len(refused) == 20
    assert {(r["status"], r["sent"], r["error"]["type"]) for r in refused} == {
        ("failed", "no", "AuthenticationError")
    }
    assert right.returncode == 0, right.stderr
    assert sms == dict.fromkeys(numbers, 1)
