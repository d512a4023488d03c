"""A served sandbox whose sends each take ``--delay`` seconds, for the shared-job tests.

``python -m tests.redis.slow_sandbox --port N --seen PATH --delay S``: like
``tests/bulk/faulty_sandbox.py`` it notes every send request in PATH before processing it and
allows resends at once (a double text shows in the outbox), but schedules no other fault.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from aiohttp import web

from tests.bulk.faulty_sandbox import SEND, SeenSandbox
from vlens_async.sandbox import create_app


async def serve(port: int, seen: Path, delay: float) -> None:
    sandbox = SeenSandbox(seen, seed=1)
    if delay:
        sandbox.faults.latency(delay, SEND, probability=1.0, seed=1, times=None)
    runner = web.AppRunner(create_app(sandbox), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print(f"Vlens sandbox on http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        sandbox.seen.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seen", type=Path, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.seen, args.delay))


if __name__ == "__main__":
    main()
