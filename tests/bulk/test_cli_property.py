"""A property of `vlens otp bulk` run as a subprocess against a served sandbox with seeded
faults, interrupted by SIGINT, SIGTERM or SIGKILL at random moments and resumed until done:

- every number ends with exactly one final record (sent or unknown), and nothing after it;
- nobody is texted twice, and every number recorded sent was texted once;
- every number recorded unknown because of an answer had its request received by the server;
  one recorded unknown by an interruption had its request handed over (it may have been
  written): at most one per interruption was never received.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from .conftest import (
    HANG_GUARD,
    bulk_command,
    bulk_env,
    finals,
    number,
    outbox,
    records,
    run_bulk,
    served_sandbox,
)

SCRIPT = str(Path(__file__).with_name("faulty_sandbox.py"))
NUMBERS = [number(i) for i in range(16)]
ARGS = ["--rate", "1/0.05s", "--concurrency", "8", "--max-attempts", "3"]  # 20/s, no burst
SIGNALS = ["SIGINT", "SIGTERM", "SIGKILL", "SIGINT twice", "SIGTERM twice"]


@dataclass(frozen=True)
class Interruption:
    """One run cut short: which signal(s), how long after the run's first record."""

    signal: str
    after: float


interruptions = st.lists(
    st.builds(Interruption, st.sampled_from(SIGNALS), st.floats(0.0, 0.5)),
    min_size=1,
    max_size=2,
)


def _interrupted_run(command: list[str], port: int, out: Path, cut: Interruption) -> None:
    """Start a run; once it has written a record, wait ``cut.after`` s and send the signal."""
    start = len(records(out))
    run = subprocess.Popen(
        command, env=bulk_env(port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    give_up = time.monotonic() + HANG_GUARD * 3
    while len(records(out)) == start and run.poll() is None:
        assert time.monotonic() < give_up, "hang guard: the run wrote nothing"
        time.sleep(0.01)
    time.sleep(cut.after)
    name, _, twice = cut.signal.partition(" ")
    sig = signal.Signals[name]
    if run.poll() is None:
        run.send_signal(sig)
        if twice:
            time.sleep(0.01)
            if run.poll() is None:
                run.send_signal(sig)
    _, stderr = run.communicate(timeout=HANG_GUARD)
    assert "Traceback" not in stderr, stderr


def _unsent(out: Path) -> set[str]:
    """Numbers whose last outcome is "certainly not sent" (what --resume sends again)."""
    last = {r["phone_number"]: r for r in finals(out) if r.get("phone_number")}
    return {n for n, r in last.items() if r["status"] == "failed" and r["sent"] == "no"}


def _check(out: Path, port: int, seen_file: Path, cuts: list[Interruption]) -> None:
    sms = outbox(port)
    seen = set(seen_file.read_text().split())
    settled: dict[str, dict[str, Any]] = {}
    for record in finals(out):
        phone = record["phone_number"]
        assert phone not in settled, f"{phone}: a record after its final one: {record}"
        if record["status"] in ("sent", "unknown"):
            settled[phone] = record
    assert set(settled) == set(NUMBERS)
    assert not sms or max(sms.values()) == 1, "somebody was texted twice"
    cut_short = []
    for phone, record in settled.items():
        if record["status"] == "sent":
            assert sms[phone] == 1, phone
        elif (record["error"] or {}).get("type") != "Interrupted":
            assert phone in seen, f"{phone} is unknown but the server never saw it"
        elif phone not in seen:
            cut_short.append(phone)
    assert set(sms) <= seen
    # A kill or an abort can land between journaling `pending` and the socket write, but only
    # for a request already handed over, not for the numbers queued for a permit.
    assert len(cut_short) <= len(cuts), f"unknown, never seen by the server: {cut_short}"


def _until_done(port: int, out: Path, source: Path, cuts: list[Interruption]) -> None:
    arguments = [str(source), "--out", str(out), *ARGS]
    command = bulk_command(*arguments)
    for index, cut in enumerate(cuts):
        _interrupted_run([*command, *(["--resume"] if index else [])], port, out, cut)
    for _ in range(5):  # refusals may outlast --max-attempts: resume until none is left
        finished = run_bulk(*arguments, "--resume", port=port)
        assert finished.returncode in (0, 1), finished.stderr
        if not _unsent(out):
            return
    raise AssertionError(f"still unsent after 5 resumes: {_unsent(out)}")


def _property(tmp_path: Path, seed: int, cuts: list[Interruption], *extra: str) -> None:
    folder = Path(tmp_path) / f"run-{time.monotonic_ns()}"
    folder.mkdir()
    source, out, seen = folder / "numbers.txt", folder / "results.jsonl", folder / "seen.txt"
    source.write_text("".join(f"{n}\n" for n in NUMBERS))
    args = ["--seed", str(seed), "--seen", str(seen), *extra]
    with served_sandbox(*args, script=SCRIPT) as port:
        _until_done(port, out, source, cuts)
        _check(out, port, seen, cuts)


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: an example costs seconds
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 1000), cuts=interruptions)
@example(seed=7, cuts=[Interruption("SIGKILL", 0.1)])
@example(seed=11, cuts=[Interruption("SIGTERM twice", 0.05), Interruption("SIGKILL", 0.2)])
def test_interrupted_and_resumed_runs_text_nobody_twice_and_lose_nobody(
    tmp_path: Path, seed: int, cuts: list[Interruption]
) -> None:
    """Faults: refusals (503, 429), dropped-after-processing, 500 envelopes, latency."""
    _property(tmp_path, seed, cuts)


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate],  # no shrinking: each example costs seconds of subprocesses
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 1000), cuts=interruptions)
def test_same_with_answers_only_the_outcome_rule_reads_as_maybe_processed(
    tmp_path: Path, seed: int, cuts: list[Interruption]
) -> None:
    """Needs the outcome rule. Adds HTTP 520 and malformed JSON on 200 (both processed)."""
    _property(tmp_path, seed, cuts, "--ambiguous")


def test_the_faulty_sandbox_counts_what_it_receives(tmp_path: Path) -> None:
    """The observable the property relies on: every send received is logged, even refused."""
    seen = tmp_path / "seen.txt"
    source = tmp_path / "numbers.txt"
    source.write_text(f"{number(1)}\n{number(2)}\n")
    out = tmp_path / "results.jsonl"
    with served_sandbox("--seed", "3", "--seen", str(seen), script=SCRIPT) as port:
        done = run_bulk(str(source), "--out", str(out), "--rate", "40/s", port=port)
        sms = outbox(port)
    assert done.returncode in (0, 1), done.stderr
    received = Counter(seen.read_text().split())
    assert set(received) == {number(1), number(2)}
    assert sum(received.values()) == sum(r["attempts"] for r in finals(out))
    assert set(sms) <= set(received)
