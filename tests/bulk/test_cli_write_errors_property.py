"""A property of `vlens otp bulk` whose journal hits a file size limit (writes fail with EFBIG)
at random sizes, in the first run and in resumed ones, against a served sandbox with seeded
faults; then resumed without a limit until done:

- every limited run ends with exit 0, 1 or 2 (the write error) and no traceback;
- the journal holds whole records only, and every later --resume reads it;
- nobody is texted twice, and every number ends with exactly one final record.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
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
ARGS = ["--rate", "1/0.02s", "--concurrency", "6", "--max-attempts", "3"]


def _file_size_limit(size: int) -> Any:
    def limit() -> None:  # in the child: writes past `size` bytes fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def _limited_run(arguments: list[str], port: int, out: Path, room: int) -> None:
    """A run (resumed if the journal exists) that may write ``room`` more bytes."""
    resume = ["--resume"] if out.exists() else []
    size = out.stat().st_size if out.exists() else 0
    run = subprocess.run(
        bulk_command(*arguments, *resume),
        env=bulk_env(port),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD * 3,
        check=False,
        preexec_fn=_file_size_limit(size + room),
    )
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode in (0, 1, 2), run.stderr
    lines = out.read_bytes().splitlines(keepends=True)
    assert len(records(out)) == len(lines), "the journal holds a line that is not a record"


def _settled(out: Path) -> bool:
    last = {r["phone_number"]: r for r in finals(out)}
    return set(last) == set(NUMBERS) and all(r["sent"] != "no" for r in last.values())


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate],  # no shrinking: each example costs seconds of subprocesses
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 1000), rooms=st.lists(st.integers(0, 3000), min_size=1, max_size=2))
def test_write_errors_at_random_sizes_text_nobody_twice_and_lose_nobody(
    tmp_path: Path, seed: int, rooms: list[int]
) -> None:
    """Faults: refusals (503, 429), dropped-after-processing, 500 envelopes, latency."""
    folder = tmp_path / f"run-{time.monotonic_ns()}"
    folder.mkdir()
    source, out, seen = folder / "numbers.txt", folder / "results.jsonl", folder / "seen.txt"
    source.write_text("".join(f"{n}\n" for n in NUMBERS))
    arguments = [str(source), "--out", str(out), *ARGS]
    with served_sandbox("--seed", str(seed), "--seen", str(seen), script=SCRIPT) as port:
        for room in rooms:
            _limited_run(arguments, port, out, room)
        for _ in range(5):  # refusals may outlast --max-attempts: resume until none is left
            finished = run_bulk(*arguments, "--resume", port=port)
            assert finished.returncode in (0, 1), finished.stderr
            if _settled(out):
                break
        sms = outbox(port)
    assert _settled(out)
    assert max(sms.values()) == 1, "somebody was texted twice"
    ends: dict[str, str] = {}
    for record in finals(out):
        phone = record["phone_number"]
        assert phone not in ends, f"{phone}: a record after its final one: {record}"
        if record["status"] in ("sent", "unknown"):
            ends[phone] = record["status"]
    assert all(sms[phone] == 1 for phone, status in ends.items() if status == "sent")
