"""What the scenarios share: the numbers dialled, the headers sent, and the timing helpers."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

from vlens_async import RetryPolicy, VlensClient
from vlens_async.testing import envelope_response
from vlens_transports import FakeTransport, Request, Response

from .server import ENVELOPE

__all__ = [
    "API_KEY",
    "HEADERS",
    "PATH",
    "TENANCY",
    "Call",
    "fixed_answer_client",
    "percentile",
    "phone",
    "run_concurrently",
    "time_each",
]

API_KEY = "bench-api-key-0123456789"
TENANCY = "bench"
PATH = "/api/DigitalIdentity/Register/StepVerifyPhone"
# What the SDK sends, so that the raw clients carry the same headers.
HEADERS = {
    "ApiKey": API_KEY,
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": "vlens-bench",
    "TenancyName": TENANCY,
}

Call = Callable[[int], Awaitable[object]]


def phone(index: int) -> str:
    """The ``index``-th of a run of distinct valid Egyptian mobile numbers."""
    return f"+2010{index:08d}"


async def run_concurrently(call: Call, total: int, concurrency: int, start: int = 0) -> float:
    """Seconds to make ``total`` calls with ``concurrency`` in flight at any time."""
    indexes = iter(range(start, start + total))

    async def worker() -> None:
        for index in indexes:  # one shared iterator: each index is taken once
            await call(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def time_each(call: Call, total: int, start: int = 0) -> list[float]:
    """Seconds taken by each of ``total`` calls made one after another."""
    samples = []
    clock = time.perf_counter
    for index in range(start, start + total):
        began = clock()
        await call(index)
        samples.append(clock() - began)
    return samples


def percentile(samples: list[float], percent: int) -> float:
    """The ``percent``-th percentile (1-99) of ``samples``."""
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


_ANSWER = envelope_response(json.loads(ENVELOPE)["data"])


async def _answer(request: Request) -> Response:
    return _ANSWER


def fixed_answer_client() -> VlensClient:
    """A client whose every call gets the StepVerifyPhone envelope at once, in memory."""
    return VlensClient(
        API_KEY,
        base_url="https://bench.vlens.test",
        tenancy_name=TENANCY,
        transport=FakeTransport(_answer, record=False),
        retry=RetryPolicy.no_wait(),
    )
