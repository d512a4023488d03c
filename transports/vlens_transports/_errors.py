"""Transport failures, classified by whether the request could have reached the server.

::

    TransportError                 may_have_reached_server = True (the safe assumption)
    ├── ConnectError               False: refused, DNS failure, TLS failure, pool timeout
    ├── TransportTimeout           True: the request was sent, no answer in time
    ├── RemoteDisconnected         True: the peer dropped the exchange mid-way
    └── ResponseTooLarge           True: the server answered with a body over the limit
"""

from __future__ import annotations

__all__ = [
    "ConnectError",
    "RemoteDisconnected",
    "ResponseTooLarge",
    "TransportError",
    "TransportTimeout",
]


class TransportError(Exception):
    """The HTTP exchange failed below the level of an HTTP response."""

    may_have_reached_server: bool = True


class ConnectError(TransportError):
    """No connection was made, so the request certainly did not reach the server."""

    may_have_reached_server = False


class TransportTimeout(TransportError):
    """The request was sent but no (complete) response arrived within the read timeout."""


class RemoteDisconnected(TransportError):
    """The connection broke after the request may have been sent."""


class ResponseTooLarge(TransportError):
    """The server answered, but with a body larger than the transport accepts."""

    def __init__(self, status: int, limit: int) -> None:
        super().__init__(f"response body exceeds the limit of {limit} bytes (HTTP {status})")
        self.status = status
        self.limit = limit
