"""VlensClient.from_env with VLENS_REDIS_URL: a RedisRateLimiter the client owns and closes."""

from __future__ import annotations

import pytest

from vlens_async import VlensClient
from vlens_async.redis import RedisRateLimiter
from vlens_async.sandbox import Sandbox
from vlens_transports import FakeTransport


async def test_from_env_builds_owns_and_closes_a_redis_limiter(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, name: str
) -> None:
    """Both variables set: calls pass the Redis budget (one permit per attempt), copies share
    it, and closing the client (not a copy) closes the limiter."""
    # A key of its own: the budget is the API key's, and the session's Redis keeps what other
    # tests' workers used of the default key's 60/min (this test then waited about a minute).
    sandbox = Sandbox(api_keys=(f"key-{name}",))
    monkeypatch.setenv("VLENS_API_KEY", sandbox.api_keys[0])
    monkeypatch.setenv("VLENS_BASE_URL", "http://vlens-sandbox:8088")
    monkeypatch.setenv("VLENS_ALLOW_INSECURE_HTTP", "1")
    monkeypatch.setenv("VLENS_REDIS_URL", redis_url)
    monkeypatch.delenv("VLENS_TENANCY_NAME", raising=False)
    client = VlensClient.from_env(
        transport=FakeTransport(sandbox.handle), tenancy_name=sandbox.tenancy_name
    )
    limiter = client.rate_limiter
    assert isinstance(limiter, RedisRateLimiter)
    copy = client.with_options()
    assert copy.rate_limiter is limiter
    closed: list[bool] = []
    real_aclose = limiter.aclose

    async def aclose() -> None:
        closed.append(True)
        await real_aclose()

    monkeypatch.setattr(limiter, "aclose", aclose)
    async with client:
        await client.registration.send_phone_otp("+201001234567")
        async with copy:
            await copy.registration.check_existence(email="mona@example.com")
        await client.registration.check_existence(email="mona@example.com")  # copy's exit
        assert closed == []
    assert limiter.granted == 3
    assert closed == [True]
