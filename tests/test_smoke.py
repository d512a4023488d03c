"""The smallest end-to-end check: a call goes out with the right headers and comes back typed."""

from __future__ import annotations

from vlens_async import ExistenceResult

from .conftest import API_KEY, answer, make_client


async def test_existence_check_round_trip() -> None:
    """check_existence sends ApiKey and decodes {"exists": true}."""
    client, transport = make_client(answer({"exists": True}))
    async with client:
        result = await client.registration.check_existence(email="someone@example.com")
    assert result == ExistenceResult(exists=True)
    assert transport.requests[0].headers["ApiKey"] == API_KEY
