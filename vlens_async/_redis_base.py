"""What the Redis limiter and ledger share: the connection, and failures as clear errors."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from ._ratelimit import RateLimiterUnavailableError

try:
    from redis.asyncio import ConnectionPool, Redis
    from redis.exceptions import RedisError
except ImportError as error:  # pragma: no cover - only without the extra
    raise ImportError(
        'vlens_async.redis needs the redis extra: pip install "vlens-async[redis]"'
    ) from error

__all__ = ["Redis", "budget_key", "close", "connect", "reaching", "shown", "stop", "where"]

_SCHEMES = ("redis", "rediss", "unix")


def where(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL, without user or password.

    Raises:
        ValueError: the URL is not a ``redis://``, ``rediss://`` or ``unix://`` URL.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in _SCHEMES:
        raise ValueError("url: expected redis://host:port/db, rediss://... or unix://path")
    _check_arguments(url, parts.password or "")
    if parts.scheme == "unix":
        return parts.path
    database = parts.path.strip("/")
    if database and not (database.isascii() and database.isdigit()):  # redis-py: "/abc" is db 0
        raise ValueError(
            "url: the database after the port must be a number, e.g. redis://host:6379/0"
        )
    return f"{parts.hostname or 'localhost'}:{port or 6379}"


def _check_arguments(url: str, password: str) -> None:
    """Let redis-py read the URL's query arguments now (``?socket_timeout=abc`` would fail at
    the first call); its words name the argument, never the URL or the password."""
    try:
        ConnectionPool.from_url(url)  # connects nothing
    except ValueError as exc:
        problem = str(exc)
        if url in problem or (password and password in problem):  # pragma: no cover
            problem = "an argument after '?' cannot be read"
        raise ValueError(f"url: {problem}") from None


def shown(url: str) -> str:
    """``url`` for a message: scheme, host, port and database; no user, password or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{where(url)}" + ("" if parts.scheme == "unix" else parts.path)


def connect(url: str, timeout: float) -> Redis:
    """A client for ``url`` (no connection is made yet) that gives up after ``timeout`` s."""
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


async def stop(task: asyncio.Task[None] | None, within: float) -> None:
    """Cancel ``task`` and wait for its end, ``within`` seconds at most: a close never hangs,
    not even on a task still inside a Redis call that does not end at once."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait({task}, timeout=within)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: an error here is not reported as never retrieved


async def close(client: Redis, within: float) -> None:
    """Close ``client``'s connections, ``within`` seconds at most (then they are dropped)."""
    with contextlib.suppress(asyncio.TimeoutError, RedisError, OSError):
        await asyncio.wait_for(client.aclose(), within)


@contextmanager
def reaching(url: str) -> Iterator[None]:
    """Turn Redis and socket failures into :class:`RateLimiterUnavailableError`."""
    try:
        yield
    except (RedisError, OSError) as error:
        problem = f"{type(error).__name__}: {error}"
        password = urlsplit(url).password
        if password:  # redis-py's messages name host and port; make sure no password follows
            problem = problem.replace(password, "***")
        raise RateLimiterUnavailableError(where(url), problem) from None


def budget_key(api_key: str) -> str:
    """The Redis name of one API key's budget: a hash of the key, never the key itself."""
    return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:32]
