"""pytest plugin (entry point ``pytest11``): the ``vlens_sandbox`` and ``vlens_client`` fixtures.

``vlens_client`` is an async fixture and needs pytest-asyncio. The plugin imports it lazily:
a project with pytest but without pytest-asyncio still loads, and gets a clear message only
when it asks for ``vlens_client``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from .._client import VlensClient
from ..sandbox import Sandbox

__all__ = ["vlens_client", "vlens_sandbox"]


@pytest.fixture
def vlens_sandbox() -> Sandbox:
    """A fresh simulated Vlens for each test (frozen clock, seeded for reproducible codes)."""
    return Sandbox(seed=0)


def _register_client_fixture() -> Callable[..., Any]:
    try:
        import pytest_asyncio
    except ImportError:
        return _client_without_asyncio

    @pytest_asyncio.fixture(name="vlens_client")
    async def client(vlens_sandbox: Sandbox) -> AsyncIterator[VlensClient]:
        """A VlensClient over ``vlens_sandbox``, closed after the test."""
        async with vlens_sandbox.client() as client:
            yield client

    return client


@pytest.fixture(name="vlens_client")
def _client_without_asyncio(vlens_sandbox: Sandbox) -> VlensClient:
    """Stands in for ``vlens_client`` when pytest-asyncio is missing, and says so."""
    pytest.fail("the vlens_client fixture needs pytest-asyncio: pip install pytest-asyncio")


vlens_client = _register_client_fixture()
