"""Shared fixtures: a client over a recording FakeTransport, and an aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from vlens_async import RetryPolicy, VlensClient
from vlens_async.testing import envelope_response
from vlens_transports import FakeTransport, Request, Response

Handler = Callable[[Request], Awaitable[Response]]

pytest_plugins = ["pytester"]

API_KEY = "test-api-key-0123456789"


def make_client(handler: Handler, **options: Any) -> tuple[VlensClient, FakeTransport]:
    """A client whose transport is a FakeTransport over ``handler``, with zero-wait retries."""
    transport = FakeTransport(handler)
    options.setdefault("retry", RetryPolicy.no_wait())
    return VlensClient(API_KEY, transport=transport, **options), transport


def answer(data: Any = None, **kwargs: Any) -> Handler:
    """A handler that always answers with a success envelope carrying ``data``."""

    async def handler(request: Request) -> Response:
        return envelope_response(data, **kwargs)

    return handler


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Start an aiohttp app on 127.0.0.1 (random port); returns its base URL. Stopped after."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def swallow_a_cancel() -> None:
    """Leave the current task with a cancel it caught (``cancelling()`` stays 1 on 3.11+), as
    code that suppresses CancelledError does."""
    task = asyncio.current_task()
    assert task is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(0)
