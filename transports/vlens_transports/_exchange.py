"""One send as the transport and aiohttp's documented trace signals see it.

The transport's owned session carries a ``TraceConfig`` whose callback receives the send's
:class:`Exchange` through ``trace_request_ctx``: so the send learns when its request is about to
be written (``on_request_headers_sent``). Until then the send's deadline timer ends it as "not
sent", also while it waits in the pool; the callback only records, it never raises (aiohttp's
docs do not say what an exception from a trace callback does to the request).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
from aiohttp.tracing import TraceRequestHeadersSentParams

from . import _timeouts
from ._models import Request

__all__ = ["Exchange", "trace_config"]


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
    trace.on_request_headers_sent.append(_on_headers_sent)
    return trace
