"""A served sandbox with seeded faults, for tests that run ``vlens otp bulk`` against it.

Run as a script: ``python faulty_sandbox.py --port N --seed S --seen PATH [--ambiguous]``
(or ``--latency SECONDS``: every send answered that late, and no other fault).
It prints the same banner as ``vlens sandbox``, then serves until terminated. Every send
request it receives is appended to PATH (one number a line) *before* it is processed, so a
test can tell "the request was written" from "never sent". Resends are allowed at once
(no cooldown), so a double text shows in the outbox instead of being refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from aiohttp import web

from vlens_async.sandbox import Exchange, Sandbox, SandboxClock, create_app
from vlens_transports import Request

SEND = "Register/StepVerifyPhone"


class SeenSandbox(Sandbox):
    """Notes the number of every send request before processing it."""

    def __init__(self, seen: Path, seed: int) -> None:
        super().__init__(seed=seed, resend_cooldown=0, clock=SandboxClock(running=True))
        self.seen = seen.open("a", encoding="utf-8")

    async def process(self, request: Request) -> Exchange:
        if request.url.endswith(SEND):
            try:
                phone = json.loads(request.content).get("phoneNumber")
            except ValueError:
                phone = None
            self.seen.write(f"{phone}\n")
            self.seen.flush()
        return await super().process(request)


def schedule(sandbox: Sandbox, seed: int, ambiguous: bool) -> None:
    """Seeded faults on sends: refusals (retried), maybe-processed answers (unknown), delays."""
    faults = sandbox.faults
    faults.refuse(SEND, probability=0.1, seed=seed, times=None)
    faults.rate_limit(0.05, SEND, probability=0.05, seed=seed + 1, times=None)
    faults.drop_after_processing(SEND, probability=0.06, seed=seed + 2, times=None)
    faults.status(500, SEND, body="envelope", probability=0.04, seed=seed + 3, times=None)
    if ambiguous:  # answers that only the SDK's outcome rule reads as "maybe processed"
        faults.status(520, SEND, probability=0.05, seed=seed + 4, times=None)
        faults.malformed_json(SEND, probability=0.05, seed=seed + 5, times=None)
    faults.latency(0.03, SEND, probability=0.3, seed=seed + 6, times=None)


async def serve(port: int, seed: int, seen: Path, ambiguous: bool, latency: float) -> None:
    sandbox = SeenSandbox(seen, seed)
    if latency:  # every send answered after `latency` seconds, no other fault
        sandbox.faults.latency(latency, SEND, times=None)
    else:
        schedule(sandbox, seed, ambiguous)
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
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seen", type=Path, required=True)
    parser.add_argument("--ambiguous", action="store_true")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.seed, args.seen, args.ambiguous, args.latency))


if __name__ == "__main__":
    main()
