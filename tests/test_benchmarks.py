"""The benchmark suite runs end to end in quick mode and reports every scenario's figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

EXPECTED_FIGURES = {
    "throughput": {
        "sdk_rps",
        "aiohttp_rps",
        "httpx_rps",
        "sdk_untyped_rps",
        "sdk_vs_aiohttp",
        "sdk_vs_httpx",
        "sdk_untyped_vs_aiohttp",
        "transport_rps",
        "transport_vs_aiohttp",
    },
    "latency": {
        f"{client}_{percentile}_us"
        for client in ("sdk", "aiohttp", "httpx")
        for percentile in ("p50", "p99")
    },
    "suite_speed": {"in_memory_us", "served_us", "speedup"},
    "codec": {"decode_us", "json_loads_us", "encode_us", "json_dumps_us"},
    "bulk": {
        f"{backend}_{size}_{figure}"
        for backend in ("fixed", "sandbox")
        for size in ("small", "large")
        for figure in ("outcomes_per_s", "peak_bytes")
    }
    | {"fixed_peak_ratio", "sandbox_peak_ratio"},
    "webapp": {
        f"{app}_{figure}" for app in ("sdk", "raw") for figure in ("p50_ms", "p99_ms", "rps")
    }
    | {"sdk_vs_raw_p50", "sdk_vs_raw_p99", "sdk_vs_raw_rps"},
}
TARGETS = {"throughput": 1, "suite_speed": 1, "bulk": 1}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """Run ``python -m benchmarks --quick --json PATH`` once; its stdout and its JSON."""
    path = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "benchmarks", "--quick", "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,  # the web-app scenario starts three servers; the machine may be busy
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads(path.read_text())


def test_quick_run_reports_every_scenarios_figures(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    """Every scenario is in the JSON with its figures, all of them positive numbers."""
    _, report = quick_run
    assert report["failed"] == []
    scenarios = report["scenarios"]
    assert set(scenarios) == set(EXPECTED_FIGURES)
    for name, expected in EXPECTED_FIGURES.items():
        figures = scenarios[name]["figures"]
        assert expected <= set(figures), f"{name}: missing {expected - set(figures)}"
        assert all(figures[key] > 0 for key in expected), name


def test_quick_run_states_each_target_as_a_ratio(quick_run: tuple[str, dict[str, Any]]) -> None:
    """Each target comes back as a ratio with its verdict, whatever the verdict is."""
    _, report = quick_run
    scenarios = report["scenarios"]
    for name, count in TARGETS.items():
        checks = scenarios[name]["checks"]
        assert len(checks) == count
        assert all(check["text"].endswith(("PASS", "BELOW")) for check in checks)


def test_quick_run_prints_the_markdown_table(quick_run: tuple[str, dict[str, Any]]) -> None:
    """The table on stdout has a header and a titled row for every scenario."""
    stdout, _ = quick_run
    lines = stdout.splitlines()
    assert "| Scenario | Subject | Figure | Comparison |" in lines
    for number in range(1, 7):
        assert any(line.startswith(f"| {number}. ") for line in lines), number
    assert "SDK/raw aiohttp = " in stdout


def test_instruction_count_is_read_from_callgrinds_collected_line() -> None:
    """``benchmarks.instructions`` reads the one ``Collected`` total valgrind prints."""
    from benchmarks.instructions import collected

    stderr = (
        "==123== Callgrind, a call-graph generating cache profiler\n"
        "==123== Events    : Ir\n"
        "==123== Collected : 611928441\n"
        "==123==\n"
        "==123== I   refs:      611,928,441\n"
    )
    assert collected(stderr) == 611_928_441
    with pytest.raises(ValueError, match="Collected"):
        collected("==1== I   refs:      5\n")
    with pytest.raises(ValueError, match="Collected"):
        collected("==1== Collected : 5\n==2== Collected : 6\n")


def test_instruction_count_says_what_it_needs_without_valgrind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without valgrind on the PATH it says so and exits 2, before starting any server."""
    from benchmarks import instructions

    monkeypatch.setenv("PATH", "")
    assert instructions.main([]) == 2
    assert "valgrind" in capsys.readouterr().out


def test_instruction_count_wants_at_least_one_request() -> None:
    from benchmarks import instructions

    with pytest.raises(SystemExit) as exited:
        instructions.main(["--requests", "0"])
    assert exited.value.code == 2
