"""Scenario 5: bulk dispatch over an in-memory backend, unlimited rate, concurrency 64.

Peak memory is traced for the whole run (client, dispatcher, numbers consumed lazily from a
generator). The dispatcher's own figure comes from a FakeTransport that answers every request
with one prebuilt envelope and keeps no record of requests; the sandbox-backed figure also holds
every OTP, outbox message and recorded request, so it grows with N by design.
"""

from __future__ import annotations

import asyncio
import collections
import time
import tracemalloc
from collections.abc import Iterator

import attrs

from vlens_async import VlensClient
from vlens_async.sandbox import Sandbox

from ._common import fixed_answer_client, phone
from ._report import Check, Row, ScenarioResult, Settings, mebibytes, rate

__all__ = ["bulk"]

CONCURRENCY = 64


@attrs.frozen(kw_only=True)
class _Run:
    numbers: int
    seconds: float
    peak_bytes: int | None
    statuses: dict[str, int]


def _numbers(count: int) -> Iterator[str]:
    return (phone(index) for index in range(count))


def _client(backend: str) -> VlensClient:
    if backend == "sandbox":
        return Sandbox(resend_cooldown=0).client()
    return fixed_answer_client()


async def _dispatch(backend: str, count: int) -> dict[str, int]:
    statuses: collections.Counter[str] = collections.Counter()
    async with _client(backend) as client:
        outcomes = client.bulk.send_phone_otps(
            _numbers(count), concurrency=CONCURRENCY, rate_limits=None
        )
        async for outcome in outcomes:
            statuses[str(outcome.status)] += 1
    return dict(statuses)


def _run(backend: str, count: int, *, traced: bool) -> _Run:
    if traced:
        tracemalloc.start()
    try:
        started = time.perf_counter()
        statuses = asyncio.run(_dispatch(backend, count))
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else None
    finally:
        if traced:
            tracemalloc.stop()
    return _Run(numbers=count, seconds=seconds, peak_bytes=peak, statuses=statuses)


_BACKENDS = {"fixed": "fixed-envelope FakeTransport", "sandbox": "sandbox.client()"}


def _measure(backend: str, sizes: tuple[int, int]) -> tuple[list[Row], dict[str, float]]:
    """Rows and figures for ``backend`` at both sizes, the last row left for the comparison."""
    rows, figures = [], {}
    for size, count in zip(("small", "large"), sizes, strict=True):
        timed = _run(backend, count, traced=False)
        traced = _run(backend, count, traced=True)
        assert traced.peak_bytes is not None
        prefix = f"{backend}_{size}"
        figures[f"{prefix}_outcomes_per_s"] = count / timed.seconds
        figures[f"{prefix}_peak_bytes"] = traced.peak_bytes
        figures[f"{prefix}_sent"] = timed.statuses.get("sent", 0)
        figure = f"{rate(count / timed.seconds)}, peak {mebibytes(traced.peak_bytes)}"
        rows.append(Row(f"{_BACKENDS[backend]}, N={count:,}", figure))
    figures[f"{backend}_peak_ratio"] = (
        figures[f"{backend}_large_peak_bytes"] / figures[f"{backend}_small_peak_bytes"]
    )
    return rows, figures


def bulk(settings: Settings) -> ScenarioResult:
    """Scenario 5: outcomes per second and peak memory, at N and 10 N."""
    small, large = sizes = (1_000, 10_000) if settings.quick else (10_000, 100_000)
    fixed_rows, figures = _measure("fixed", sizes)
    sandbox_rows, sandbox_figures = _measure("sandbox", sizes)
    figures.update(sandbox_figures, small=small, large=large, concurrency=CONCURRENCY)
    check = Check(f"peak N={large:,}/N={small:,}", figures["fixed_peak_ratio"], 1.5, at_most=True)
    fixed_rows[-1] = attrs.evolve(fixed_rows[-1], comparison=str(check))
    sandbox_rows[-1] = attrs.evolve(
        sandbox_rows[-1],
        comparison=f"peak N={large:,}/N={small:,} = {figures['sandbox_peak_ratio']:.2f} "
        "(the sandbox keeps every OTP it issues)",
    )
    notes = [
        f"{_BACKENDS[backend]}, N={count:,}: only {figures[f'{backend}_{size}_sent']:,.0f} sent"
        for backend in _BACKENDS
        for size, count in (("small", small), ("large", large))
        if figures[f"{backend}_{size}_sent"] != count
    ]
    return ScenarioResult(
        name="bulk",
        title=f"5. Bulk dispatch, c={CONCURRENCY}, unlimited rate",
        figures=figures,
        rows=[*fixed_rows, *sandbox_rows],
        checks=[check],
        notes=notes,
    )
