"""Scenario: how much of the allowed rate a run reaches, and how often it is answered 429.

A served sandbox (``vlens_async.sandbox.create_app`` on 127.0.0.1, its own process, a running
clock) allows ``R`` calls per second per API key; the clients' limiter allows the same. One
process with the in-memory ``RateLimiter``, then four processes sharing a ``RedisRateLimiter``
(on a ``redis-server`` started here), send distinct OTPs at R = 10, 50 and 200 per second.
Each request holds its permit with ``async with limiter`` around the transport's send (as the
client pipeline will once it takes a ``rate_limiter=``), a 429 calls
``slow_down(Retry-After)``, and nothing is retried.

Share of the allowed rate ("sustained"): the server allows R calls in any second, so in a run
that keeps the budget busy each call starts at best one second after the call R places
before it (starts sorted); sustained = 1 s / the mean of those gaps, the rate a long bulk run
keeps up. "Whole run" is the ideal time of the run (R at once, then R a second) over its
time: (N - R) / R / (last start - first start). Run: ``python -m benchmarks.rate [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web

from vlens_async import RateLimit, RateLimitedError, RateLimiter, RetryPolicy, VlensClient
from vlens_async.redis import RedisRateLimiter
from vlens_async.sandbox import Sandbox, SandboxClock, create_app
from vlens_transports import AiohttpTransport, Request, Response, Transport

from ._common import phone
from ._report import Check, Row, ScenarioResult, Settings, markdown

__all__ = ["rate"]

RATES = (10, 50, 200)
PROCESSES = 4
CONCURRENCY = 64  # per process
API_KEY = "bench-rate-key"
WARM_KEY = "bench-warm-up-key"  # its own budget: warming up spends none of the measured one
_ROOT = Path(__file__).resolve().parent.parent
_GUARD = 120.0


def _spawn(*args: str) -> subprocess.Popen[str]:
    # A fixed argument list: our own interpreter running this module.
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "benchmarks.rate", *args],
        cwd=_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


# --- the roles run in child processes --------------------------------------------------------


async def _serve(rate: int) -> None:
    """The sandbox limited to ``rate``/s, on a free port it prints; runs until stdin closes."""
    sandbox = Sandbox(
        api_keys=[API_KEY, WARM_KEY],
        rate_limits=[(rate, 1.0)],
        clock=SandboxClock(running=True),
        resend_cooldown=0,
    )
    runner = web.AppRunner(create_app(sandbox), access_log=None)
    await runner.setup()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    await web.SockSite(runner, listener).start()
    print(listener.getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


class _Limited(Transport):
    """Sends each request under a permit held until its response is read: how the client
    pipeline holds one per attempt once it takes a ``rate_limiter=``."""

    def __init__(self, inner: Transport, limiter: RateLimiter | RedisRateLimiter) -> None:
        self.inner, self.limiter = inner, limiter
        self.starts: list[float] = []  # of the requests not answered 429
        self.holds: list[float] = []

    async def send(self, request: Request) -> Response:
        async with self.limiter:
            start = time.monotonic()  # system-wide: comparable across processes
            response = await self.inner.send(request)
            self.holds.append(time.monotonic() - start)
        if response.status != 429:
            self.starts.append(start)
        return response


async def _client(url: str, rate: int, redis_url: str, first: int, calls: int) -> None:
    """Send ``calls`` OTPs under the limiter; print the starts of those answered and the 429s."""
    limits = [RateLimit(rate, 1.0)]
    limiter: RateLimiter | RedisRateLimiter = (
        RedisRateLimiter(redis_url, api_key=API_KEY, limits=limits)
        if redis_url
        else RateLimiter(limits)
    )
    refused = 0
    numbers = iter(range(first, first + calls))
    retry = RetryPolicy(max_attempts=1)
    transport = AiohttpTransport()
    limited = _Limited(transport, limiter)
    client = VlensClient(API_KEY, base_url=url, retry=retry, transport=limited)
    async with transport, client:
        async with VlensClient(WARM_KEY, base_url=url, retry=retry, transport=transport) as warm:
            await _warm_up(warm, rate)
        if isinstance(limiter, RedisRateLimiter):
            await limiter.ping()
        print("ready", flush=True)  # start together with the other processes
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

        async def worker() -> None:
            nonlocal refused
            for index in numbers:
                try:
                    await client.registration.send_phone_otp(phone(index))
                except RateLimitedError as error:
                    refused += 1
                    limiter.slow_down(error.retry_after)

        try:
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        finally:
            if isinstance(limiter, RedisRateLimiter):
                await limiter.aclose()
    result = {"starts": limited.starts, "refused": refused, "holds": limited.holds}
    print(json.dumps(result))


async def _warm_up(client: VlensClient, rate: int) -> None:
    """Open the pooled connections and run the code paths once, on the warm-up key."""
    calls = (client.registration.send_phone_otp(phone(9_000_000 + i)) for i in range(rate))
    await asyncio.gather(*calls, return_exceptions=True)


# --- the parent: one cell per (processes, rate) ----------------------------------------------


@contextlib.contextmanager
def _redis_server() -> Iterator[str]:
    """``redis-server`` without persistence on a free loopback port; yields its URL."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found: apt-get install -y redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory]
        server = subprocess.Popen(  # noqa: S603 - a fixed argument list
            [*args, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        try:
            with redis.Redis(port=port) as probe_client:
                for _ in range(500):
                    with contextlib.suppress(redis.ConnectionError):
                        probe_client.ping()
                        break
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(timeout=10)


@attrs.frozen
class _Cell:
    sustained: float  # 1 s / mean time between a call's start and that of the R-th before it
    run: float  # the ideal time of the whole run / its time: (N - R) / R / (last - first)
    refused: float  # share of requests answered 429
    held: float  # median seconds a permit was held: its request's round trip


def _cell(rate: int, processes: int, seconds: float, redis_url: str) -> _Cell:
    """Serve a sandbox limited to ``rate``/s, run the clients against it, and measure."""
    server = _spawn("--serve", str(rate))
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        calls = int(rate * (seconds + 1)) // processes
        results = _run_clients(
            [
                ("--client", url, str(rate), redis_url, str(i * 1_000_000), str(calls))
                for i in range(processes)
            ]
        )
    finally:
        server.communicate("", timeout=_GUARD)
    starts = sorted(start for result in results for start in result["starts"])
    refused = sum(result["refused"] for result in results)
    cycles = [starts[i] - starts[i - rate] for i in range(rate, len(starts))]
    return _Cell(
        sustained=1.0 / statistics.mean(cycles),
        run=(len(starts) - rate) / (starts[-1] - starts[0]) / rate,
        refused=refused / (len(starts) + refused),
        held=statistics.median(hold for result in results for hold in result["holds"]),
    )


def _run_clients(arguments: list[tuple[str, ...]]) -> list[dict[str, Any]]:
    """Start one client process per argument tuple, let them go at once, collect their JSON."""
    clients = [_spawn(*args) for args in arguments]
    for client in clients:
        assert client.stdout is not None
        assert client.stdout.readline() == "ready\n"
    for client in clients:
        assert client.stdin is not None
        client.stdin.write("go\n")
        client.stdin.flush()
    results = []
    for client in clients:
        out, _ = client.communicate(timeout=_GUARD)
        if client.returncode != 0:
            raise RuntimeError(f"a client process failed with exit code {client.returncode}")
        results.append(json.loads(out))
    return results


def rate(settings: Settings) -> ScenarioResult:
    """Scenario: share of the allowed rate and of 429s, 1 process and 4 sharing Redis."""
    seconds = 2.0 if settings.quick else 5.0
    rows, checks, figures = [], [], {}
    with _redis_server() as redis_url:
        for processes, limiter, url in ((1, "in-memory", ""), (PROCESSES, "Redis", redis_url)):
            for allowed in RATES:
                cell = _cell(allowed, processes, seconds, url)
                prefix = f"p{processes}_{allowed}"
                figures.update(
                    {f"{prefix}_{name}": value for name, value in attrs.asdict(cell).items()}
                )
                rate_check = Check(f"{allowed}/s sustained", cell.sustained, 0.97)
                refused_check = Check("% answered 429", cell.refused * 100, 0.5, at_most=True)
                checks += [rate_check, refused_check]
                plural = "es" if processes > 1 else ""
                rows.append(
                    Row(
                        f"{processes} process{plural}, {limiter}, {allowed}/s",
                        f"{cell.sustained:.3f} of allowed (whole run {cell.run:.3f}),"
                        f" {cell.refused:.2%} answered 429, held {cell.held * 1e3:.0f} ms",
                        f"{rate_check}; {refused_check}",
                    )
                )
    return ScenarioResult(
        name="rate",
        title="Rate budget vs a served sandbox with equal limits",
        figures=figures,
        rows=rows,
        checks=checks,
        notes=[
            f"about {seconds:g} s per cell, {CONCURRENCY} calls at a time per process. Each"
            " permit is held until its answer is back, so a window slot is reused one round"
            " trip late: sustained is at best 1 / (1 + held / 1 s). 'whole run' also counts"
            " the first window's spread (calls start as connections allow), which a long"
            " bulk run amortises",
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rate", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter cells")
    parser.add_argument("--serve", type=int, metavar="RATE", help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=5, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
    elif args.client is not None:
        url, allowed, redis_url, first, calls = args.client
        asyncio.run(_client(url, int(allowed), redis_url, int(first), int(calls)))
    else:
        result = rate(Settings(quick=args.quick))
        print(markdown([result]))
        return 0 if all(check.passed for check in result.checks) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
