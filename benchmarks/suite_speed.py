"""Scenario 3: why consumer test suites use the in-memory sandbox.

The same ``send_phone_otp`` call, one at a time as a test makes it, over ``sandbox.client()``
(FakeTransport, no sockets) and over AiohttpTransport to the same kind of sandbox served on
127.0.0.1 by aiohttp in the same process, the way a test's server fixture runs it.
"""

from __future__ import annotations

import asyncio
import statistics

import attrs
from aiohttp import web

from vlens_async import RetryPolicy, VlensClient
from vlens_async.sandbox import Sandbox, create_app

from ._common import phone, time_each
from ._report import Check, Row, ScenarioResult, Settings, micros, rate

__all__ = ["suite_speed"]

WARM_UP = 50


@attrs.frozen(kw_only=True)
class _Size:
    calls: int
    rounds: int


async def _in_memory(calls: int) -> float:
    """Median seconds per call over ``sandbox.client()``."""
    sandbox = Sandbox(resend_cooldown=0)
    async with sandbox.client() as client:

        async def call(index: int) -> object:
            return await client.registration.send_phone_otp(phone(index))

        await time_each(call, WARM_UP, start=calls)
        return statistics.median(await time_each(call, calls))


async def _served(calls: int) -> float:
    """Median seconds per call over AiohttpTransport to ``create_app(sandbox)`` on loopback."""
    sandbox = Sandbox(resend_cooldown=0)
    runner = web.AppRunner(create_app(sandbox), shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        client = VlensClient(
            sandbox.api_keys[0],
            base_url=base_url,
            tenancy_name=sandbox.tenancy_name,
            retry=RetryPolicy.no_wait(),
        )
        async with client:

            async def call(index: int) -> object:
                return await client.registration.send_phone_otp(phone(index))

            await time_each(call, WARM_UP, start=calls)
            return statistics.median(await time_each(call, calls))
    finally:
        await runner.cleanup()


async def _measure(size: _Size) -> tuple[list[float], list[float]]:
    """Median seconds per call of each side in each round; the order flips every round."""
    in_memory: list[float] = []
    served: list[float] = []
    for round_ in range(size.rounds):
        if round_ % 2:
            served.append(await _served(size.calls))
            in_memory.append(await _in_memory(size.calls))
        else:
            in_memory.append(await _in_memory(size.calls))
            served.append(await _served(size.calls))
    return in_memory, served


def suite_speed(settings: Settings) -> ScenarioResult:
    """Scenario 3: per-call time over FakeTransport + sandbox vs aiohttp to a served sandbox."""
    size = _Size(calls=300, rounds=1) if settings.quick else _Size(calls=1_500, rounds=8)
    in_memory_rounds, served_rounds = asyncio.run(_measure(size))
    in_memory = statistics.median(in_memory_rounds)
    served = statistics.median(served_rounds)
    # Each round's ratio is taken between measurements made next to each other, as in
    # scenario 1: a slow spell on the machine then moves both sides, not just one.
    paired = [slow / fast for fast, slow in zip(in_memory_rounds, served_rounds, strict=True)]
    speedup = Check("in-memory/served speed", statistics.median(paired), 10.0)
    rows = [
        Row(
            "sandbox.client() (FakeTransport)",
            f"{micros(in_memory)}, {rate(1 / in_memory)}",
            str(speedup),
        ),
        Row(
            "AiohttpTransport -> create_app(sandbox) on 127.0.0.1",
            f"{micros(served)}, {rate(1 / served)}",
        ),
    ]
    figures: dict[str, float] = {
        "calls": size.calls * size.rounds,
        "in_memory_us": in_memory * 1e6,
        "served_us": served * 1e6,
        "in_memory_calls_per_s": 1 / in_memory,
        "served_calls_per_s": 1 / served,
        "speedup": speedup.ratio,
        "speedup_min": min(paired),
        "speedup_max": max(paired),
    }
    title = f"3. Test-suite speed, c=1, {size.rounds} rounds of N={size.calls:,} (median per call)"
    notes = [
        f"in-memory/served per round ranged {min(paired):.2f}-{max(paired):.2f}; the ratio "
        "shown is the median of the rounds' ratios."
    ]
    return ScenarioResult(
        name="suite_speed", title=title, figures=figures, rows=rows, checks=[speedup], notes=notes
    )
