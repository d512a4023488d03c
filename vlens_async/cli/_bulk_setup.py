"""The client and the rate limiter of one ``vlens otp bulk`` run."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from vlens_transports import AiohttpTransport

from .._client import VlensClient
from .._errors import VlensInputError
from .._ratelimit import Limiter
from ..bulk import DEFAULT_RATE_LIMITS, RateLimiter
from ..sandbox import Sandbox
from ._job import JobLink

if TYPE_CHECKING:
    from ..redis import JobLedger

__all__ = ["open_client", "run_limits"]


@contextlib.asynccontextmanager
async def open_client(args: argparse.Namespace) -> AsyncIterator[VlensClient]:
    """The run's client: an in-process sandbox's, or from the environment with a connection
    pool as large as --concurrency (a request waiting for a pooled connection has been
    journaled ``pending`` but is not written: a crash would leave it ``unknown``)."""
    if args.sandbox:
        async with Sandbox().client() as client:
            yield client
        return
    transport = AiohttpTransport(limit=max(args.concurrency, 100))
    try:
        async with VlensClient.from_env(transport=transport) as client:
            yield client
    finally:
        await transport.aclose()  # borrowed by the client, so closed here


@contextlib.asynccontextmanager
async def run_limits(
    args: argparse.Namespace,
    ledger: JobLedger | None,
    client: VlensClient,
    size: int,
) -> AsyncIterator[tuple[JobLink | None, Limiter | None]]:
    """The run's limiter and, with --redis, its link to the job's ledger (``size``: the
    input's different numbers); closed after. Without --rate or --redis, the client's own
    limiter (VLENS_REDIS_URL's) when it has one."""
    in_process = bool(args.sandbox)
    rates = args.rate or (None if in_process else DEFAULT_RATE_LIMITS)
    if ledger is None:
        if args.rate is None and client.rate_limiter is not None:
            yield None, client.rate_limiter
        else:
            yield None, None if rates is None else RateLimiter(rates)
        return
    async with contextlib.AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(ledger)
        except ValueError as exc:  # another input
            raise VlensInputError("--job", str(exc).partition(": ")[2]) from None
        await ledger.reap()  # workers that died before: settle their claims first
        limiter = None
        if rates is not None:
            from ..redis import RedisRateLimiter

            key = "sandbox" if in_process else os.environ.get("VLENS_API_KEY", "")
            limiter = RedisRateLimiter(args.redis, api_key=key, limits=rates)
            stack.push_async_callback(limiter.aclose)
        link = JobLink(ledger, size)
        stack.callback(link.close)
        yield link, limiter
