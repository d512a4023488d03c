"""Fixtures for the sandbox suite: every test runs in memory and over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import pytest
from aiohttp import web

from vlens_async import RetryPolicy, VlensClient
from vlens_async.sandbox import Sandbox, create_app

Serve = Callable[[web.Application], Awaitable[str]]
Vlens = tuple[Sandbox, VlensClient]

MODES = ("memory", "http")
SEED = 2024
USER_PASSWORD = "secret-password"


class Connect(Protocol):
    """Makes a client for ``sandbox`` in the test's mode; it is closed after the test."""

    def __call__(self, sandbox: Sandbox, **options: Any) -> Awaitable[VlensClient]: ...


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Which way the client reaches the sandbox: "memory" (FakeTransport) or "http"."""
    value = request.param
    assert isinstance(value, str)
    return value


@pytest.fixture
async def connect(mode: str, serve: Serve) -> AsyncIterator[Connect]:
    """A factory of clients over the test's mode; every client it made is closed afterwards."""
    clients: list[VlensClient] = []

    async def make(sandbox: Sandbox, **options: Any) -> VlensClient:
        options.setdefault("retry", RetryPolicy.no_wait())
        if mode == "memory":
            client = sandbox.client(**options)
        else:
            api_key = options.pop("api_key", "sandbox-key")
            options.setdefault("tenancy_name", sandbox.tenancy_name)
            base_url = await serve(create_app(sandbox))
            client = VlensClient(api_key, base_url=base_url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def vlens(connect: Connect) -> Vlens:
    """A fresh seeded sandbox and a client reaching it in the test's mode."""
    sandbox = Sandbox(seed=SEED)
    return sandbox, await connect(sandbox)


def wrong(code: str) -> str:
    """A code of the same length that is certainly not ``code``."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


async def logged_in(
    sandbox: Sandbox,
    client: VlensClient,
    phone: str,
    *,
    email: str | None = None,
    password: str = USER_PASSWORD,
    imei: str = "known-device",
) -> str:
    """Add a user with a known device and log in from it; returns the access token."""
    sandbox.add_user(phone, password, email=email, devices=[imei])
    state = await client.sessions.login(phone, password, imei)
    assert state.access_token is not None
    return state.access_token
