"""The default transport, on an aiohttp ``ClientSession``."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
import warnings
from typing import Any

import aiohttp
from multidict import CIMultiDict

from . import _timeouts
from ._base import Transport
from ._body import ACCEPT_ENCODING, read_body
from ._checks import check_count, check_seconds
from ._errors import (
    ConnectError,
    RemoteDisconnected,
    TransportClosed,
    TransportError,
    TransportLoopMismatch,
    TransportTimeout,
)
from ._exchange import client_timeout, timeout_until
from ._models import Request, Response, Timeout, where

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "AiohttpTransport"]

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024

# Most specific first: the first matching row decides. ConnectionTimeoutError covers both the
# TCP connect and the wait for a pooled connection, so the request was never written.
_ERROR_MAP: tuple[tuple[type[BaseException], type[TransportError], str], ...] = (
    (
        aiohttp.ConnectionTimeoutError,
        ConnectError,
        "no connection within the pool/connect timeout or before the deadline",
    ),
    (aiohttp.SocketTimeoutError, TransportTimeout, "no data within the read timeout"),
    (aiohttp.ClientConnectorError, ConnectError, "could not connect"),
    (aiohttp.ServerFingerprintMismatch, ConnectError, "the server's certificate did not match"),
    (aiohttp.InvalidURL, ConnectError, "the URL cannot be used"),
    (asyncio.TimeoutError, TransportTimeout, "no complete response before the deadline"),
    (aiohttp.ClientError, RemoteDisconnected, "the exchange failed"),
    (OSError, RemoteDisconnected, "the connection failed"),
)


class AiohttpTransport(Transport):
    """Sends requests with aiohttp.

    The ``ClientSession`` is created lazily, on the running event loop, the first time a request
    is sent, and is bound to that loop. A ``session`` passed in is borrowed: it is used as is and
    never closed here, which is also the explicit way to change TLS settings (pass a session
    with your own connector).

    Timeouts are aiohttp's own, one ``ClientTimeout`` per request, for owned and borrowed
    sessions alike: ``Timeout.pool`` is ``connect`` (the wait for a pooled connection plus
    making one), ``Timeout.connect`` is ``sock_connect`` and ``Timeout.read`` is ``sock_read``,
    the longest wait for the next chunk of the response. ``Request.deadline`` bounds everything:
    a send still waiting for its connection at the deadline ends with ``ConnectError`` (not
    sent; unless the event loop was stalled past both timers, then it is reported as maybe
    written), a written one with ``TransportTimeout``.

    Once closed (or used from another event loop) it raises :class:`TransportClosed`, also for
    the sends its closing ends (aiohttp ends them when the session closes; one still waiting for
    a connection is "not sent"), which may be other clients' when the transport is shared.

    The body is decoded here (gzip and deflate, the encodings asked for): ``max_response_bytes``
    limits its decoded size, and memory stays within it whatever the compression ratio.

    Args:
        session: an existing session to borrow instead of creating one.
        limit: the pool's total connection limit (owned session only; 0: no limit).
        limit_per_host: the pool's per-host connection limit (owned session only; 0: none).
        keepalive_timeout: seconds an idle pooled connection is kept (owned session only).
        max_response_bytes: decoded bodies larger than this raise :class:`ResponseTooLarge`.
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
        self._limit = check_count("AiohttpTransport.limit", limit, minimum=0)
        self._limit_per_host = check_count(
            "AiohttpTransport.limit_per_host", limit_per_host, minimum=0
        )
        self._keepalive_timeout = check_seconds(
            "AiohttpTransport.keepalive_timeout", keepalive_timeout
        )
        self._max_response_bytes = check_count(
            "AiohttpTransport.max_response_bytes", max_response_bytes, minimum=1
        )
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}

    def _open(self) -> tuple[aiohttp.ClientSession, asyncio.AbstractEventLoop]:
        """The session to send with, made on first use; refused after close or on another loop."""
        if self._closed:
            raise TransportClosed("AiohttpTransport is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise TransportLoopMismatch(
                "AiohttpTransport is bound to the event loop it was first used on; "
                "create one per event loop"
            )
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._limit,
                    limit_per_host=self._limit_per_host,
                    keepalive_timeout=self._keepalive_timeout,
                ),
                trust_env=False,
            )
        return self._session, loop

    def _client_timeout(self, request: Request) -> aiohttp.ClientTimeout:
        """The request's timeouts and deadline as aiohttp's (see ``_exchange``)."""
        if request.deadline is not None:
            timeout = timeout_until(request.timeout, request.deadline)
            if timeout is None:
                raise ConnectError(f"{where(request)}: the deadline passed before it was sent")
            return timeout
        cached = self._timeouts.get(request.timeout)
        if cached is None:
            cached = self._timeouts[request.timeout] = client_timeout(request.timeout)
        return cached

    async def send(self, request: Request) -> Response:
        session, _ = self._open()
        timeout = self._client_timeout(request)
        headers = CIMultiDict(request.headers)
        headers["Accept-Encoding"] = ACCEPT_ENCODING  # the encodings read_body decodes
        task = asyncio.current_task()
        cancels = _timeouts.cancelling(task)  # those the task carried before this send
        started = time.perf_counter()
        try:
            async with session.request(
                request.method,
                request.url,
                data=request.content,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                auto_decompress=False,
            ) as response:
                content = await read_body(response, self._max_response_bytes)
                return Response(
                    status=response.status,
                    headers=response.headers,
                    content=content,
                    elapsed=time.perf_counter() - started,
                )
        except TransportError:
            raise
        except asyncio.CancelledError:
            # aiohttp's closing cancels the sends waiting for a pooled connection (not the
            # task); the caller's own cancel raises the task's count (Python 3.10 cannot tell
            # them apart during aclose(): it is taken for the closing's).
            if not self._closed or _timeouts.cancelling(task) > cancels:
                raise  # the caller's own cancellation: never turned into an error
            failure: TransportError = TransportClosed(
                f"{where(request)}: the transport was closed before it was sent"
            )
        except Exception as exc:  # noqa: BLE001 - mapped below; CancelledError is not an Exception
            failure = _failure(exc, request, closed=self._closed)
        # Raised without aiohttp's exception as cause or context: its message may quote the
        # exchange (a header with the API key, a status line). This departs from STYLE.md's
        # "chain the original" on purpose; the message names its type. (Python 3.10 can still
        # set a context from deep inside aiohttp here, so it is cleared explicitly.)
        try:
            raise failure
        finally:
            failure.__context__ = None

    async def aclose(self) -> None:
        """Close an owned session (on the event loop it was used on) and end sends in flight."""
        session = self._session
        open_here = self._owns_session and session is not None and not session.closed
        if open_here and self._loop is not asyncio.get_running_loop():
            raise RuntimeError(
                "AiohttpTransport is bound to another event loop: close it on the loop "
                "it was used on, before that loop ends"
            )
        self._closed = True
        self._session = None
        if self._owns_session and session is not None and not session.closed:
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


def _failure(exc: Exception, request: Request, *, closed: bool) -> TransportError:
    """The one TransportError an aiohttp/asyncio failure of this send becomes."""
    for source, target, what in _ERROR_MAP:
        if isinstance(exc, source):
            if closed:  # the transport's closing ended it
                sent = target is not ConnectError
                message = "during the exchange" if sent else "before it was sent"
                message = f"{where(request)}: the transport was closed {message}"
                return TransportClosed(message, may_have_reached_server=sent)
            return target(f"{where(request)}: {what} ({_describe(exc)})")
    raise exc  # not a failure of the exchange (a programming error): let it through untouched


def _describe(exc: BaseException) -> str:
    """Safe facts of a foreign exception: its type, the OS's words for an OS error's errno, the
    TLS library's for a failed TLS handshake.

    Never an exception's own text: aiohttp's OSErrors carry sentences of their own, some quoting
    the whole URL and its query ("Can not write request body for <url>").
    """
    name = type(exc).__name__
    detail: object = None
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cause = exc.certificate_error
        detail = getattr(cause, "verify_message", None) or type(cause).__name__
    elif isinstance(exc, OSError) and exc.errno is not None:
        source = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc.__cause__
        # A TLS error's errno is the TLS library's code, not the OS's: its reason names it.
        tls = isinstance(exc, ssl.SSLError) or isinstance(source, ssl.SSLError)
        detail = getattr(source, "reason", None) if tls else os.strerror(exc.errno)
    return f"{name}: {detail}" if isinstance(detail, str) and detail else name
