"""Helpers for the reliability suite: the served sandbox, in-flight tracking, resource counts."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import attrs
from aiohttp import web

from vlens_async.sandbox import Sandbox, create_app

from ..conftest import free_port

Serve = Callable[[web.Application], Awaitable[str]]

API_KEY = "sandbox-key"
HANG_GUARD = 10.0


@attrs.define
class InFlight:
    """Counts server handlers still running, so a test can wait for late side effects."""

    running: int = 0
    idle: asyncio.Event = attrs.field(factory=asyncio.Event)

    def __attrs_post_init__(self) -> None:
        self.idle.set()

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Track one handler from start to finish (even when its client has gone)."""
        self.running += 1
        self.idle.clear()
        try:
            return await handler(request)
        finally:
            self.running -= 1
            if self.running == 0:
                self.idle.set()

    async def wait(self) -> None:
        """Wait until no handler runs (hang-guarded)."""
        await asyncio.wait_for(self.idle.wait(), HANG_GUARD)


async def serve_sandbox(serve: Serve, sandbox: Sandbox) -> tuple[str, InFlight]:
    """Serve ``sandbox`` over HTTP on 127.0.0.1; returns its base URL and in-flight tracker."""
    tracker = InFlight()
    app = create_app(sandbox)
    app.middlewares.append(tracker.middleware)
    return await serve(app), tracker


def closed_port_url() -> str:
    """A loopback URL on which nothing listens: connecting is refused."""
    return f"http://127.0.0.1:{free_port()}"


def open_fds() -> int:
    """How many file descriptors this process holds."""
    return len(os.listdir("/proc/self/fd"))


def live_tasks() -> int:
    """How many asyncio tasks are alive on the running loop."""
    return len(asyncio.all_tasks())


async def settle(measure: Callable[[], int], target: int, timeout: float = HANG_GUARD) -> int:
    """Poll ``measure`` until it is back at ``target`` (closing sockets takes a loop turn or two).

    Returns the last value measured; the caller asserts on it.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    value = measure()
    while value != target and loop.time() < give_up:
        await asyncio.sleep(0.01)
        value = measure()
    return value
