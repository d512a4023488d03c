"""A bulk-job worker over a shared JobLedger, for the multi-process tests.

``python -m tests.redis.ledger_worker work URL JOB N``: claims what it can of numbers 0..N-1,
"sends" each (marks it sending, records it sent) and prints the JSON list it sent.
``... stall URL JOB N``: claims numbers 0..N-1, marks the even ones sending, prints "ready"
and then waits forever (for SIGKILL), its heartbeat running.
"""

from __future__ import annotations

import asyncio
import json
import sys

from vlens_async.redis import JobLedger

ALIVE_FOR = 1.0


async def work(url: str, job: str, count: int) -> None:
    sent: list[str] = []
    async with JobLedger(url, job, input_id="input-1", alive_for=ALIVE_FOR) as ledger:
        for index in range(count):
            number = str(index)
            if await ledger.claim(number) and await ledger.sending(number):
                sent.append(number)  # the request would be written here
                await ledger.record(number, "sent", "yes")
    print(json.dumps(sent))


async def stall(url: str, job: str, count: int) -> None:
    async with JobLedger(url, job, input_id="input-1", alive_for=ALIVE_FOR) as ledger:
        for index in range(count):
            assert await ledger.claim(str(index))
            if index % 2 == 0:
                assert await ledger.sending(str(index))
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    mode, url, job, count = sys.argv[1:5]
    asyncio.run((work if mode == "work" else stall)(url, job, int(count)))
