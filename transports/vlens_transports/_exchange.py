"""One send as the transport and aiohttp's documented trace signals see it.

The transport's owned session carries a ``TraceConfig`` whose callbacks receive the send's
:class:`Exchange` through ``trace_request_ctx``: so the send learns when its request is about to
be written (``on_request_headers_sent``) and when a queued send gets its connection
(``on_connection_queued_end``).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
from aiohttp.tracing import TraceConnectionQueuedEndParams, TraceRequestHeadersSentParams

from . import _timeouts
from ._models import Request

__all__ = ["Exchange", "LateForTheDeadline", "trace_config"]


class LateForTheDeadline(Exception):
    """Raised from the connection-obtained trace signal: the deadline passed while queued."""


class Exchange:
    """One send, as the transport and aiohttp's trace signals see it.

    ``written`` turns True when aiohttp is about to write the request's headers (its documented
    ``on_request_headers_sent`` signal); None means "cannot be known" (a borrowed session).
    """

    __slots__ = (
        "cancels",
        "closing",
        "deadline",
        "loop",
        "read",
        "reading",
        "task",
        "timer",
        "written",
    )

    def __init__(self, request: Request, loop: asyncio.AbstractEventLoop, traced: bool) -> None:
        self.loop = loop
        self.deadline = _timeouts.loop_time(loop, request.deadline)
        self.read = request.timeout.read if traced else None  # else aiohttp's sock_read
        self.written: bool | None = False if traced else None
        self.reading = False  # the timer is set to the read limit (not the deadline)
        self.closing = False
        self.task = asyncio.current_task(loop)
        self.cancels = _timeouts.cancelling(self.task)  # those it carried before this send
        self.timer: _timeouts.Timeout | None = None

    def connection_obtained(self) -> None:
        """A queued send got its connection: give it up if its deadline passed meanwhile.

        The deadline's timer may be due yet not have run: the connection freed by the send
        ahead (ended by the same deadline) wakes this one first, which would then write a
        request already late. Raising here, before anything is written, makes it not sent.
        """
        if self.deadline is not None and self.loop.time() >= self.deadline:
            raise LateForTheDeadline

    def headers_sent(self) -> None:
        """From now on the request may reach the server: ``read`` bounds the rest."""
        self.written = True
        timer = self.timer
        if self.read is not None and timer is not None and not _timeouts.expired(timer):
            until = self.loop.time() + self.read
            if self.deadline is None or until < self.deadline:
                _timeouts.reschedule(timer, until)
                self.reading = True

    def close(self) -> None:
        """End the send now (the transport is closing); the send says what became of it."""
        self.closing = True
        if self.timer is not None:
            _timeouts.expire_from_elsewhere(self.timer)

    def may_have_been_written(self) -> bool:
        return self.written is not False

    def cancelled_by_closing(self) -> bool:
        """Whether a CancelledError ending this send came from the transport's closing (aiohttp
        cancels sends waiting for the pool), not from the caller (Python 3.10 cannot tell a
        cancel during aclose() from the caller's; it is taken for the closing's)."""
        return self.closing and _timeouts.cancelling(self.task) <= self.cancels


async def _on_connection_queued_end(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: TraceConnectionQueuedEndParams,
) -> None:
    exchange = context.trace_request_ctx
    if isinstance(exchange, Exchange):
        exchange.connection_obtained()


async def _on_headers_sent(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: TraceRequestHeadersSentParams,
) -> None:
    exchange = context.trace_request_ctx
    if isinstance(exchange, Exchange):
        exchange.headers_sent()


def trace_config() -> aiohttp.TraceConfig:
    """The trace configuration an owned session is made with."""
    trace = aiohttp.TraceConfig()
    trace.on_connection_queued_end.append(_on_connection_queued_end)
    trace.on_request_headers_sent.append(_on_headers_sent)
    return trace
