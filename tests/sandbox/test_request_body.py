"""How the sandbox reads request bodies: any encoding json.loads accepts, nothing cached."""

from __future__ import annotations

import json

import pytest

from vlens_async.sandbox import Sandbox, _core
from vlens_transports import Request

URL = "https://sandbox.vlens.test/api/DigitalIdentity/CheckExistenceOfEmailOrPhone"
HEADERS = {"ApiKey": "sandbox-key", "Content-Type": "application/json", "TenancyName": "sandbox"}
BODY = {"phoneNumber": "+201001234567"}


@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"],
)
async def test_bodies_in_every_json_encoding_parse(encoding: str) -> None:
    """What json.loads(bytes) detects parses: BOMs, and UTF-16/32 without one (whose ASCII-range
    text is valid UTF-8 full of NULs, so decoding as UTF-8 first would answer 400)."""
    content = json.dumps(BODY).encode(encoding)
    response = await Sandbox().handle(
        Request(method="POST", url=URL, headers=HEADERS, content=content)
    )
    assert response.status == 200, response.content


def test_route_is_cached_and_bodies_are_not() -> None:
    """URLs repeat and are cached; bodies (up to 1 MiB each over HTTP) are never kept."""
    assert hasattr(_core._route, "cache_info")
    assert not hasattr(_core._text, "cache_info")


async def test_bytearray_body_is_parsed() -> None:
    """A bytearray body (not hashable) is read like bytes."""
    content = bytearray(json.dumps(BODY).encode())
    response = await Sandbox().handle(
        Request(method="POST", url=URL, headers=HEADERS, content=content)  # type: ignore[arg-type]
    )
    assert response.status == 200, response.content
