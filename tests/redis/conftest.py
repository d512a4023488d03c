"""A real Redis for the Redis tests: one server per test session, never a mock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .processes import Processes
from .server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """``redis-server`` on a free loopback port for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL."""
    return redis_server.url


@pytest.fixture
def name() -> str:
    """A budget or job name no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test's own, with a password, which the test may stop."""
    server = RedisServer(tmp_path, password="s3cret-redis-pass")
    yield server
    server.stop()


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Starts the test's subprocesses; at its end, those still running are killed and all
    are waited for."""
    with Processes() as started:
        yield started
