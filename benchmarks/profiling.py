"""``--profile``: where the SDK's own time goes on the call path, by cProfile.

Two runs: ``send_phone_otp`` over AiohttpTransport at concurrency 64 against the benchmark
server (what scenario 1 measures), and over a FakeTransport with a fixed answer, one call at a
time (the SDK's pipeline with no I/O at all, what scenario 3's in-memory side is made of).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import time

from vlens_async import VlensClient

from ._common import API_KEY, TENANCY, fixed_answer_client, phone, run_concurrently
from ._report import Settings
from .server import running_server

__all__ = ["profile_sdk_call"]

TOP = 25


async def _over_aiohttp(base_url: str, calls: int) -> None:
    async with VlensClient(API_KEY, base_url=base_url, tenancy_name=TENANCY) as client:

        async def call(index: int) -> object:
            return await client.registration.send_phone_otp(phone(index))

        await run_concurrently(call, 256, 64)
        await run_concurrently(call, calls, 64)


async def _in_memory(calls: int) -> float:
    async with fixed_answer_client() as client:
        started = time.perf_counter()
        for index in range(calls):
            await client.registration.send_phone_otp(phone(index))
        return (time.perf_counter() - started) / calls


def _stats(profiler: cProfile.Profile, heading: str) -> str:
    out = io.StringIO()
    out.write(f"### {heading}\n\n```\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(TOP)
    out.write("```\n")
    return out.getvalue()


def profile_sdk_call(settings: Settings) -> str:
    """Profiles of the SDK call path, as Markdown with the pstats tables in code blocks."""
    calls = 1_000 if settings.quick else 10_000
    unprofiled = asyncio.run(_in_memory(calls))
    with running_server(settings.server_cpu) as base_url:
        over_aiohttp = cProfile.Profile()
        over_aiohttp.runcall(asyncio.run, _over_aiohttp(base_url, calls))
    in_memory = cProfile.Profile()
    in_memory.runcall(asyncio.run, _in_memory(calls))
    return "\n".join(
        [
            "## Profile of the SDK call path",
            "",
            f"SDK pipeline alone (fixed-answer FakeTransport, unprofiled): "
            f"{unprofiled * 1e6:.1f} us per call.",
            "",
            _stats(over_aiohttp, f"send_phone_otp over AiohttpTransport, c=64, N={calls:,}"),
            _stats(in_memory, f"send_phone_otp over a fixed-answer FakeTransport, N={calls:,}"),
        ]
    )
