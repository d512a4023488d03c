"""Instructions per request in the client process, counted by valgrind: a noise-free scenario 1.

Wall-clock ratios on a shared VM move by several points from run to run. What scenario 1
measures is CPU-bound on the client side (its CPU time per request tracks its throughput), so
the client's instructions per request, counted by callgrind, give the same comparison without
the noise: two runs agree to about 0.01%. Kernel time (the socket calls, the same for every
client) is not counted, so the ratio leaves out work every client shares. What turning the
count on and off costs is counted once with no requests and subtracted.

    python -m benchmarks.instructions [--requests N]

Needs ``valgrind`` (with ``callgrind_control``) on the PATH, e.g. ``apt-get install valgrind``;
it is not a Python package, so this is not part of ``python -m benchmarks``. Each client runs
in its own process under callgrind, against the benchmark server (running natively): it makes
256 requests at concurrency 64 uninstrumented, then turns counting on for N requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import http_clients
from ._common import run_concurrently
from .http_clients import CONCURRENCY, open_clients
from .server import running_server

__all__ = ["collected", "main"]

# Scenario 1's clients and labels, without httpx (its pool, not its client, is what is slow).
CLIENTS = {
    "aiohttp": http_clients.CLIENTS["aiohttp"],
    "sdk": http_clients.CLIENTS["sdk"],
    "sdk_untyped": http_clients.UNTYPED,
}
WARM_UP = 256
_COLLECTED = re.compile(r"^==\d+== Collected : (\d+)$", re.MULTILINE)


def collected(valgrind_stderr: str) -> int:
    """The instruction count callgrind reports at exit (the ``Collected`` line)."""
    found = _COLLECTED.findall(valgrind_stderr)
    if len(found) != 1:
        raise ValueError("no single 'Collected' line in valgrind's output")
    return int(found[0])


def _count(instrument: str) -> None:
    """Turn callgrind's instrumentation of this process ``on`` or ``off``."""
    # A fixed argument list; callgrind_control is found on the PATH like valgrind itself.
    subprocess.run(  # noqa: S603
        ["callgrind_control", "-i", instrument, str(os.getpid())],  # noqa: S607
        check=True,
        capture_output=True,
    )


async def _worker(client: str, base_url: str, requests: int) -> None:
    async with open_clients(base_url) as calls:
        call = calls[client]
        await run_concurrently(call, WARM_UP, CONCURRENCY)
        _count("on")
        await run_concurrently(call, requests, CONCURRENCY, start=WARM_UP)
        _count("off")


def _measure(client: str, base_url: str, requests: int, out: Path) -> int:
    """Instructions the ``client`` process ran for ``requests`` requests."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out / client}.out",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--worker",
        client,
        base_url,
        str(requests),
    ]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}  # same dict layouts in every run
    # A fixed argument list: valgrind running our own interpreter on our own module.
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, env=environment, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{client} under valgrind exited {done.returncode}:\n{done.stderr}")
    return collected(done.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.instructions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--requests", type=int, default=1_000, help="counted requests a client")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        client, base_url, requests = args.worker
        asyncio.run(_worker(client, base_url, int(requests)))
        return 0
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    if missing:
        print(f"needs {' and '.join(missing)} on the PATH (apt-get install valgrind)")
        return 2
    per_request: dict[str, float] = {}
    with running_server() as base_url, tempfile.TemporaryDirectory() as out:
        # What turning the count on and off costs (a subprocess each way), to subtract.
        print("counting the counting ...", file=sys.stderr, flush=True)
        overhead = _measure("aiohttp", base_url, 0, Path(out))
        for client in CLIENTS:
            print(f"counting {client} ...", file=sys.stderr, flush=True)
            total = _measure(client, base_url, args.requests, Path(out))
            per_request[client] = (total - overhead) / args.requests
    raw = per_request["aiohttp"]
    print(f"Instructions per request in the client process, c={CONCURRENCY}, N={args.requests:,}")
    print()
    print("| Client | Instructions / request | Raw aiohttp / this | Over raw aiohttp |")
    print("|---|---|---|---|")
    for client, label in CLIENTS.items():
        count = per_request[client]
        print(f"| {label} | {count:,.0f} | {raw / count:.3f} | {count - raw:+,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
