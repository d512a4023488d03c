"""``vlens sandbox``: serve the simulated Vlens over HTTP, printing each call and message."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from aiohttp import web

from ..sandbox import OutboxMessage, Sandbox, SandboxClock, create_app

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "sandbox",
        help="serve the simulated Vlens on a local port",
        description="Serve a stateful simulated Vlens over HTTP. Every SMS and e-mail it "
        "'sends' is printed here, so you can read the codes.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8088, help="port to bind (default 8088)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="an accepted API key (repeatable; default sandbox-key)",
    )
    parser.add_argument("--tenancy", default="sandbox", help="tenancy name (default sandbox)")
    parser.add_argument("--seed", type=int, default=None, help="make codes and ids reproducible")
    parser.set_defaults(run=run)


def describe(message: OutboxMessage) -> str:
    """One line for a sent message; the sandbox's codes are fake, so showing them is the point."""
    via = f" via provider {message.provider}" if message.provider else ""
    request = f", request {message.request_id}" if message.request_id else ""
    kind = "SMS" if message.channel == "sms" else "E-mail"
    return f"{kind} to {message.recipient}: code {message.code} ({message.purpose}{request}{via})"


async def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    sandbox = Sandbox(
        api_keys=tuple(args.api_keys or ("sandbox-key",)),
        tenancy_name=args.tenancy,
        seed=args.seed,
        clock=SandboxClock(running=True),
    )
    sandbox.outbox.subscribe(lambda message: print(describe(message), flush=True))
    runner = web.AppRunner(create_app(sandbox), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        keys = ", ".join(sandbox.api_keys)
        print(f"Vlens sandbox on http://{args.host}:{args.port} (API keys: {keys})", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0  # pragma: no cover - the loop above ends by interruption
