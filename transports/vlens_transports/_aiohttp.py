"""The default transport, on an aiohttp ``ClientSession``."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
import warnings
from collections.abc import Coroutine, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from ._base import Transport
from ._errors import (
    ConnectError,
    RemoteDisconnected,
    ResponseTooLarge,
    TransportError,
    TransportTimeout,
)
from ._loops import forks, task_on
from ._models import Request, Response, Timeout, response_of
from ._watchdog import CAN_UNCANCEL, Deadline, Watchdog

__all__ = ["AiohttpTransport"]

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024

# Most specific first: the first matching row decides. ConnectionTimeoutError covers both the
# TCP connect and the wait for a pooled connection, so the request was never written.
_ERROR_MAP: tuple[tuple[type[BaseException], type[TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, ConnectError),
    (aiohttp.SocketTimeoutError, TransportTimeout),
    (aiohttp.ClientConnectorError, ConnectError),
    (aiohttp.ServerFingerprintMismatch, ConnectError),
    (aiohttp.InvalidURL, ConnectError),
    (TimeoutError, TransportTimeout),
    (aiohttp.ClientError, RemoteDisconnected),
    (OSError, RemoteDisconnected),
)


_READ_TIMEOUT = "vlens-transports: the read timeout passed"
"""The message read-timeout cancels carry, so that they are told from any other cancel."""


class _Exchange(Deadline):
    """One send's read timeout: its clock starts when the connection is handed over."""

    __slots__ = ("read", "watchdog")

    def __init__(
        self, task: asyncio.Task[Any] | None, read: float, watchdog: Watchdog[_Exchange]
    ) -> None:
        super().__init__(None, task)
        self.read = read
        self.watchdog = watchdog


_EXCHANGE: contextvars.ContextVar[_Exchange | None] = contextvars.ContextVar(
    "vlens_transports_exchange", default=None
)


class _ClockedRequest(aiohttp.ClientRequest):
    """Starts the send's read clock at the moment aiohttp writes the request.

    That is the one moment the read timeout may start from: earlier, the wait for a pooled
    connection would count, and a request never sent could be reported as one that may have
    reached the server. aiohttp calls ``send`` right after it has the connection.
    """

    def send(self, conn: Any) -> Coroutine[Any, Any, aiohttp.ClientResponse]:
        exchange = _EXCHANGE.get()
        if exchange is not None:
            watchdog = exchange.watchdog
            if exchange.deadline is not None:  # aiohttp repeats a send on a new connection
                watchdog.remove(exchange)  # (the old one was closed): its clock starts anew
            exchange.deadline = time.monotonic() + exchange.read
            watchdog.add(exchange)
        return super().send(conn)


def _raise_mapped(exc: Exception, request: Request) -> NoReturn:
    """Translate an aiohttp/asyncio failure into exactly one TransportError, chained."""
    for source, target in _ERROR_MAP:
        if isinstance(exc, source):
            detail = str(exc) or type(exc).__name__
            raise target(f"{request.method} {request.url}: {detail}") from exc
    raise exc


class AiohttpTransport(Transport):
    """Sends requests with aiohttp.

    The ``ClientSession`` is created lazily, on the running event loop, the first time a request
    is sent. A ``session`` passed in is borrowed: it is used as is and never closed here, which
    is also the explicit way to change TLS settings (pass a session with your own connector).

    ``Timeout.read`` bounds the whole response: from the moment aiohttp starts writing the
    request until its body is read in full, so a server that trickles bytes cannot stretch it.
    The transport enforces it with one timer per read span (a client uses one) instead of
    aiohttp's ``sock_read``, which re-arms a timer on every chunk (under load that cost more
    than anything else the SDK did). A borrowed session, which the transport cannot make tell
    it when a request is written, and Python 3.10, where a task cannot tell the transport's
    cancel from a caller's, keep aiohttp's ``sock_read``: the same limit, per chunk.

    Args:
        session: an existing session to borrow instead of creating one.
        limit: the pool's total connection limit (owned session only).
        limit_per_host: the pool's per-host connection limit (owned session only).
        keepalive_timeout: seconds an idle pooled connection is kept (owned session only).
        max_response_bytes: bodies larger than this raise :class:`ResponseTooLarge`.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        limit: int = 100,
        limit_per_host: int = 0,
        keepalive_timeout: float = 15.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if max_response_bytes <= 0:
            raise ValueError("max_response_bytes must be positive")
        self._session = session
        self._owns_session = session is None
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._keepalive_timeout = keepalive_timeout
        self._max_response_bytes = max_response_bytes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0  # the thread the loop was first used in
        self._forks = 0  # and the process: forks counted then
        # Python 3.10 cannot tell the watchdog's cancel from a caller's in the same iteration,
        # and a borrowed session cannot say when a request is written: aiohttp times those.
        self._times_reads = self._owns_session and CAN_UNCANCEL
        self._closed = False
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._last_timeout: Timeout | None = None
        self._last_headers: Mapping[str, str] | None = None
        self._last_headers_copy: dict[str, str] = {}
        self._last_prepared_headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
        self._last_client_timeout: aiohttp.ClientTimeout | None = None
        # One per read span: a watchdog needs its deadlines to fall due in the order added.
        self._read_watchdogs: dict[float, Watchdog[_Exchange]] = {}
        self._last_read_watchdog: Watchdog[_Exchange] | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("AiohttpTransport is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop, self._thread, self._forks = loop, threading.get_ident(), forks()
        elif self._loop is not loop:
            raise RuntimeError(
                "AiohttpTransport is bound to another event loop; create one per loop"
            )
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                limit_per_host=self._limit_per_host,
                keepalive_timeout=self._keepalive_timeout,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                trust_env=False,
                request_class=_ClockedRequest,
            )
        return self._session

    def _client_timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(timeout)
        if cached is None:
            cached = aiohttp.ClientTimeout(
                total=None,
                connect=timeout.pool,
                sock_connect=timeout.connect,
                # An owned session's requests are timed by the transport's own watchdog.
                sock_read=None if self._times_reads else timeout.read,
            )
            self._timeouts[timeout] = cached
        return cached

    def _read_watchdog(self, read: float | None) -> Watchdog[_Exchange] | None:
        """The watchdog timing reads of ``read`` seconds (None: aiohttp times them, or nobody)."""
        if read is None or not self._times_reads:
            return None
        watchdog = self._read_watchdogs.get(read)
        if watchdog is None:
            watchdog = self._read_watchdogs[read] = Watchdog(_READ_TIMEOUT)
        return watchdog

    def _prepare_headers(self, headers: Mapping[str, str]) -> None:
        """Keep ``headers`` as the multidict aiohttp works with, for the requests that follow.

        A client sends the same header map with every request, and aiohttp copies any other
        mapping into a ``CIMultiDict`` on every request (twice the work for a read-only
        ``MappingProxyType``). The map is compared by identity, then by value, so a change
        made to it through a dict it proxies is still seen.
        """
        self._last_prepared_headers = CIMultiDictProxy(CIMultiDict(headers))
        self._last_headers_copy = dict(headers)
        self._last_headers = headers

    async def send(self, request: Request) -> Response:
        session = self._session
        task = None if session is None else task_on(self._loop, self._thread, self._forks)
        if session is None or task is None:  # not proven on this loop: ask the usual way
            loop = asyncio.get_running_loop()
            if session is None or self._loop is not loop:
                session = self._get_session()  # opens it, or says why it cannot be used here
            task = asyncio.current_task(loop)
        headers = request.headers
        if headers is not self._last_headers or headers != self._last_headers_copy:
            self._prepare_headers(headers)
        timeout = request.timeout
        if timeout is not self._last_timeout:  # a client sends with one Timeout: skip hashing it
            self._last_client_timeout = self._client_timeout(timeout)
            self._last_read_watchdog = self._read_watchdog(timeout.read)
            self._last_timeout = timeout
        watchdog = self._last_read_watchdog
        exchange = None
        if watchdog is not None:
            assert timeout.read is not None
            exchange = _Exchange(task, timeout.read, watchdog)
        token = _EXCHANGE.set(exchange)
        started = time.perf_counter()
        try:
            async with session.request(
                request.method,
                request.url,
                data=request.content,
                headers=self._last_prepared_headers,
                timeout=self._last_client_timeout,
                allow_redirects=False,
            ) as response:
                declared = response.content_length
                if declared is not None and declared <= self._max_response_bytes:
                    # aiohttp stops at Content-Length, which is within the limit: one read.
                    content = await response.read()
                else:
                    content = await self._read_body(response, declared)
                # The names lower-cased into a map of our own, as Response would copy them.
                headers = {name.lower(): value for name, value in response.headers.items()}
                return response_of(
                    response.status,
                    MappingProxyType(headers),
                    content,
                    time.perf_counter() - started,
                )
        except TransportError:
            raise
        except asyncio.CancelledError as exc:
            if exchange is None or not exchange.watchdog.cancelled(exc, exchange):
                raise  # the caller's own cancellation: never turned into an error
            raise TransportTimeout(
                f"{request.method} {request.url}: no complete response within the read "
                f"timeout of {exchange.read}s"
            ) from None
        except Exception as exc:  # noqa: BLE001 - mapped below, CancelledError is not an Exception
            _raise_mapped(exc, request)
        finally:
            _EXCHANGE.reset(token)
            if exchange is not None:
                exchange.watchdog.remove(exchange)

    async def _read_body(self, response: aiohttp.ClientResponse, declared: int | None) -> bytes:
        """The body when its length is not declared, or is declared over the limit."""
        limit = self._max_response_bytes
        # HEAD, 1xx, 204 and 304 answers have no body whatever Content-Length says (RFC 9110 8.6).
        has_body = response.method != "HEAD" and response.status not in (204, 304)
        if has_body and response.status >= 200 and declared is not None and declared > limit:
            raise ResponseTooLarge(response.status, limit)
        if declared is not None:
            return await response.read()  # an answer without a body: aiohttp reads nothing
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(response.status, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        session = getattr(self, "_session", None)
        if getattr(self, "_owns_session", False) and session is not None and not session.closed:
            _warn(
                f"unclosed {self!r}: call 'await transport.aclose()'",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._session else "unopened")
        owner = "owned" if self._owns_session else "borrowed"
        return f"<AiohttpTransport {state} {owner} session>"
