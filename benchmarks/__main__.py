"""``python -m benchmarks``: run the scenarios, print a Markdown table, optionally write JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from ._report import ScenarioResult, Settings, markdown, to_json
from .bulk import bulk
from .codec import codec
from .http_clients import latency, throughput
from .profiling import profile_sdk_call
from .server import pin_to_cpu
from .suite_speed import suite_speed
from .webapp import webapp

SCENARIOS: dict[str, Callable[[Settings], ScenarioResult]] = {
    "throughput": throughput,
    "latency": latency,
    "suite_speed": suite_speed,
    "codec": codec,
    "bulk": bulk,
    "webapp": webapp,
}


def _cpus() -> tuple[int | None, int | None]:
    """One CPU for this process and another for the server, where the OS lets us choose."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N: checks, not figures")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures here")
    parser.add_argument(
        "--only", choices=sorted(SCENARIOS), action="append", help="run this scenario (repeatable)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the SDK call path (cProfile) and print where the time goes",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    client_cpu, server_cpu = _cpus()
    if not pin_to_cpu(client_cpu):
        client_cpu = server_cpu = None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    settings = Settings(
        quick=args.quick, client_cpu=client_cpu, server_cpu=server_cpu, load_average=load
    )
    results, failed = [], []
    for name in args.only or SCENARIOS:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            results.append(SCENARIOS[name](settings))
        except Exception:  # noqa: BLE001 - one broken scenario must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
        print(f"  {name}: {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    print(markdown(results))
    if load is not None:
        print(f"\n1-minute load average at start: {load:.2f} on {os.cpu_count()} CPUs.")
    if args.profile:
        print()
        print(profile_sdk_call(settings))
    if args.json is not None:
        report = to_json(results, settings)
        report["failed"] = failed
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
