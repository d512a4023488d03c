"""Instructions per request in the client process, counted by valgrind: a noise-free scenario 1.

Wall-clock ratios on a shared VM move by several points from run to run. What scenario 1
measures is CPU-bound on the client side (its CPU time per request tracks its throughput), so
the client's instructions per request, counted by callgrind, give the same comparison without
the noise: two runs agree to about 0.01%. Kernel time (the socket calls, the same for every
client) is not counted, so the ratio leaves out work every client shares. What turning the
count on and off costs is counted once with no requests and subtracted.

    python -m benchmarks.instructions [--requests N] [--diagnostics] [--in-memory]

Needs ``valgrind`` (with ``callgrind_control``) on the PATH, e.g. ``apt-get install valgrind``;
it is not a Python package, so this is not part of ``python -m benchmarks``. Each client runs
in its own process under callgrind, against the benchmark server (running natively): it makes
256 requests at concurrency 64 uninstrumented, then turns counting on for N requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from vlens_async.sandbox import Sandbox
from vlens_transports import Timeout
from vlens_transports._exchange import timeout_until  # the transport's own, to count it alone

if sys.version_info >= (3, 11):
    from asyncio import timeout_at
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout_at

from . import http_clients
from ._common import HEADERS, PATH, Call, phone, run_concurrently
from .http_clients import CONCURRENCY, open_clients
from .server import running_server

__all__ = ["collected", "main"]

# Scenario 1's clients and labels, without httpx (its pool, not its client, is what is slow).
CLIENTS = {
    "aiohttp": http_clients.CLIENTS["aiohttp"],
    "sdk": http_clients.CLIENTS["sdk"],
    "sdk_untyped": http_clients.UNTYPED,
    "transport": http_clients.TRANSPORT,
}
# Diagnostics (--diagnostics): raw aiohttp plus one public mechanism the transport uses, to
# show what each costs on its own.
DIAGNOSTICS = {
    "aiohttp_traced": "raw aiohttp + a TraceConfig with two no-op callbacks (diagnostic)",
    "aiohttp_timeout": "raw aiohttp inside asyncio.timeout_at per request (diagnostic)",
    "aiohttp_client_timeout": (
        "raw aiohttp + the transport's per-request ClientTimeout (connect, sock_read and total"
        " timers; diagnostic)"
    ),
}
IN_MEMORY = "sandbox.client(), one call at a time (scenario 3's in-memory side)"
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
    if client == "in_memory":
        await _in_memory_worker(requests)
        return
    async with contextlib.AsyncExitStack() as stack:
        if client in DIAGNOSTICS:
            call = await _diagnostic_call(stack, client, base_url)
        else:
            call = (await stack.enter_async_context(open_clients(base_url)))[client]
        await run_concurrently(call, WARM_UP, CONCURRENCY)
        _count("on")
        await run_concurrently(call, requests, CONCURRENCY, start=WARM_UP)
        _count("off")


async def _in_memory_worker(requests: int) -> None:
    """Scenario 3's in-memory call, one at a time, as a test makes it."""
    async with Sandbox(resend_cooldown=0).client() as client:
        for index in range(WARM_UP):
            await client.registration.send_phone_otp(phone(requests + index))
        _count("on")
        for index in range(requests):
            await client.registration.send_phone_otp(phone(index))
        _count("off")


async def _no_op(*_: object) -> None:
    pass


async def _diagnostic_call(stack: contextlib.AsyncExitStack, client: str, base_url: str) -> Call:
    """Raw aiohttp's call with a TraceConfig, or inside an ``asyncio.timeout_at``."""
    traces = []
    if client == "aiohttp_traced":
        trace = aiohttp.TraceConfig()
        trace.on_connection_queued_end.append(_no_op)
        trace.on_request_headers_sent.append(_no_op)
        traces.append(trace)
    connector = aiohttp.TCPConnector(limit=http_clients.POOL, keepalive_timeout=15)
    session = aiohttp.ClientSession(connector=connector, trace_configs=traces)
    await stack.enter_async_context(session)
    raw = http_clients.aiohttp_call(session, base_url + PATH)
    if client == "aiohttp_client_timeout":
        return _with_client_timeout(session, base_url + PATH)
    if client != "aiohttp_timeout":
        return raw

    async def timed(index: int) -> object:
        async with timeout_at(asyncio.get_running_loop().time() + 30):
            return await raw(index)

    return timed


def _with_client_timeout(session: aiohttp.ClientSession, url: str) -> Call:
    """Raw aiohttp's call with the ClientTimeout ``AiohttpTransport`` gives a request under the
    default ``Timeout`` and a 60 s deadline."""

    async def call(index: int) -> object:
        timeout = timeout_until(Timeout(), time.monotonic() + 60.0)
        body = json.dumps({"phoneNumber": phone(index)}).encode()
        async with session.post(url, data=body, headers=HEADERS, timeout=timeout) as response:
            response.raise_for_status()
            return json.loads(await response.read())

    return call


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
    parser.add_argument(
        "--diagnostics", action="store_true", help="also count raw aiohttp with each mechanism"
    )
    parser.add_argument(
        "--in-memory", action="store_true", help="also count scenario 3's in-memory call"
    )
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
    labels = {**CLIENTS, **(DIAGNOSTICS if args.diagnostics else {})}
    per_request: dict[str, float] = {}
    with running_server() as base_url, tempfile.TemporaryDirectory() as out:
        # What turning the count on and off costs (a subprocess each way), to subtract.
        print("counting the counting ...", file=sys.stderr, flush=True)
        overhead = _measure("aiohttp", base_url, 0, Path(out))
        for client in [*labels, *(["in_memory"] if args.in_memory else [])]:
            print(f"counting {client} ...", file=sys.stderr, flush=True)
            total = _measure(client, base_url, args.requests, Path(out))
            per_request[client] = (total - overhead) / args.requests
    raw = per_request["aiohttp"]
    print(f"Instructions per request in the client process, c={CONCURRENCY}, N={args.requests:,}")
    print()
    print("| Client | Instructions / request | Raw aiohttp / this | Over raw aiohttp |")
    print("|---|---|---|---|")
    for client, label in labels.items():
        count = per_request[client]
        print(f"| {label} | {count:,.0f} | {raw / count:.3f} | {count - raw:+,.0f} |")
    if args.in_memory:
        print()
        print(f"{IN_MEMORY}: {per_request['in_memory']:,.0f} instructions a call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
