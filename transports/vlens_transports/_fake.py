"""An in-memory transport that hands every request to a Python callable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ._base import Transport
from ._models import Request, Response

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
    """

    def __init__(self, handler: Handler, *, record: bool = True) -> None:
        self.handler = handler
        self.record = record
        self.requests: list[Request] = []
        self.sent = 0
        self.closed = False

    async def send(self, request: Request) -> Response:
        if self.closed:
            raise RuntimeError("FakeTransport.send() called after aclose()")
        self.sent += 1
        if self.record:
            self.requests.append(request)
        return await self.handler(request)

    async def aclose(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"<FakeTransport requests={self.sent} closed={self.closed}>"
