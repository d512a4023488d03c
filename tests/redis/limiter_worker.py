"""A process that takes permits from a shared RedisRateLimiter and prints when it held them.

Run as ``python -m tests.redis.limiter_worker URL KEY COUNT SECONDS CALLS``; prints one JSON
list of ``[start, end]`` pairs on ``time.monotonic()``, which every process on a machine shares.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from vlens_async import RateLimit
from vlens_async.redis import RedisRateLimiter


async def main(url: str, key: str, count: int, seconds: float, calls: int) -> None:
    limiter = RedisRateLimiter(url, key=key, limits=[RateLimit(count, seconds)])
    held: list[tuple[float, float]] = []

    async def one() -> None:
        async with limiter:
            start = time.monotonic()
            await asyncio.sleep(0.001)  # the call's round trip
            held.append((start, time.monotonic()))

    try:
        await asyncio.gather(*(one() for _ in range(calls)))
    finally:
        await limiter.aclose()
    print(json.dumps(held))


if __name__ == "__main__":
    url, key, count, seconds, calls = sys.argv[1:6]
    asyncio.run(main(url, key, int(count), float(seconds), int(calls)))
