"""An in-memory transport that hands every request to a Python callable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from . import _timeouts
from ._base import Transport
from ._errors import ConnectError, TransportClosed, TransportTimeout
from ._models import Request, Response, where

__all__ = ["FakeTransport", "Handler"]

Handler = Callable[[Request], Awaitable[Response]]


class FakeTransport(Transport):
    """Answers requests by awaiting ``handler(request)``; nothing touches the network.

    The handler may return a :class:`Response` or raise a
    :class:`~vlens_transports.TransportError` to simulate a failed exchange. Every request is
    appended to :attr:`requests` before the handler runs, so tests can count attempts; with
    ``record=False`` (long in-memory runs, where that list would grow with every call) only
    :attr:`sent` counts them. ``request.timeout`` reaches the handler as it is, not enforced:
    a handler that simulates slowness decides when that is a timeout (the sandbox does).

    ``request.deadline`` is enforced as :class:`AiohttpTransport` does: a request whose deadline
    has passed is not sent (:class:`~vlens_transports.ConnectError`, the handler is not called,
    nothing is recorded); a handler still running when it passes is cancelled, and the send
    raises :class:`~vlens_transports.TransportTimeout` (the handler had the request).
    That takes an ``asyncio.timeout`` per send, about a tenth of an in-memory call; a handler
    that ends by ``request.deadline`` itself (the sandbox's, which waits only while it
    simulates latency) is run without one when made with ``handler_keeps_deadline=True``.
    """

    def __init__(
        self, handler: Handler, *, record: bool = True, handler_keeps_deadline: bool = False
    ) -> None:
        self.handler = handler
        self.record = record
        self.handler_keeps_deadline = handler_keeps_deadline
        self.requests: list[Request] = []
        self.sent = 0
        self.closed = False

    async def send(self, request: Request) -> Response:
        if self.closed:
            raise TransportClosed("FakeTransport.send() called after aclose()")
        deadline = request.deadline
        if deadline is not None and deadline <= time.monotonic():
            raise ConnectError(f"{where(request)}: the deadline passed before it was sent")
        self.sent += 1
        if self.record:
            self.requests.append(request)
        if deadline is None or self.handler_keeps_deadline:
            return await self.handler(request)
        timer = _timeouts.timeout_at(_timeouts.loop_time(asyncio.get_running_loop(), deadline))
        try:
            async with timer:
                return await self.handler(request)
        except asyncio.TimeoutError:  # the builtin TimeoutError from Python 3.11
            if not _timeouts.expired(timer):
                raise  # the handler's own TimeoutError
        raise TransportTimeout(f"{where(request)}: no response before the deadline")

    async def aclose(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"<FakeTransport requests={self.sent} closed={self.closed}>"
