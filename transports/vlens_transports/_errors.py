"""Transport failures, classified by whether the request could have reached the server.

::

    TransportError                 may_have_reached_server = True (the safe assumption)
    ├── ConnectError               False: not sent (refused, DNS, TLS, pool wait, deadline)
    ├── TransportTimeout           True: the request may have been written, no answer in time
    ├── RemoteDisconnected         True: the exchange broke after the request may have been sent
    ├── ResponseTooLarge           True: the server answered with a body over the limit
    ├── DecodingError              True: the server answered with a body that cannot be decoded
    └── TransportClosed            per send: the transport was closed
        └── TransportLoopMismatch  False: used from an event loop other than its own

Messages are built from safe facts only (the exception type, method, URL path, status): never
from a foreign exception's text, which may quote headers such as an API key.
"""

from __future__ import annotations

__all__ = [
    "ConnectError",
    "DecodingError",
    "RemoteDisconnected",
    "ResponseTooLarge",
    "TransportClosed",
    "TransportError",
    "TransportLoopMismatch",
    "TransportTimeout",
]


class TransportError(Exception):
    """The HTTP exchange failed below the level of an HTTP response."""

    may_have_reached_server: bool = True


class ConnectError(TransportError):
    """The request was never written, so it certainly did not reach the server.

    No connection could be made, or the wait for one (the pool, the connect, or the call's
    deadline passing first) ran out before any byte of the request was sent: safe to repeat.
    """

    may_have_reached_server = False


class TransportTimeout(TransportError):
    """The request may have been written, but no complete response arrived in time."""


class RemoteDisconnected(TransportError):
    """The connection broke after the request may have been sent."""


class ResponseTooLarge(TransportError):
    """The server answered, but with a body larger than the transport accepts (decoded size)."""

    def __init__(self, status: int, limit: int) -> None:
        super().__init__(f"response body exceeds the limit of {limit} bytes (HTTP {status})")
        self.status = status
        self.limit = limit


class DecodingError(TransportError):
    """The server answered, but its body's ``Content-Encoding`` could not be decoded."""

    def __init__(self, status: int, encoding: str) -> None:
        super().__init__(f"response body could not be decoded as {encoding!r} (HTTP {status})")
        self.status = status
        self.encoding = encoding


class TransportClosed(TransportError, RuntimeError):
    """The transport was closed: it sends nothing more (create a new one). Also a
    ``RuntimeError``, as a misuse.

    Attributes:
        may_have_reached_server: False for a send refused or ended before its request was
            written; True for one cut short after it may have been written.
    """

    def __init__(self, message: str, *, may_have_reached_server: bool = False) -> None:
        super().__init__(message)
        self.may_have_reached_server = may_have_reached_server


class TransportLoopMismatch(TransportClosed):
    """The transport was used from an event loop other than the one it was first used on;
    nothing was sent (its connections belong to that loop: create one per event loop)."""
