"""HTTP transports for vlens-async: values, the :class:`Transport` interface, and two adapters.

This package knows nothing about Vlens: no envelope, no API key, no retries.
"""

from ._aiohttp import DEFAULT_MAX_RESPONSE_BYTES, AiohttpTransport
from ._base import Transport
from ._errors import (
    ConnectError,
    DecodingError,
    RemoteDisconnected,
    ResponseTooLarge,
    TransportClosed,
    TransportError,
    TransportLoopMismatch,
    TransportTimeout,
)
from ._fake import FakeTransport, Handler
from ._models import Request, Response, Timeout

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AiohttpTransport",
    "ConnectError",
    "DecodingError",
    "FakeTransport",
    "Handler",
    "RemoteDisconnected",
    "Request",
    "Response",
    "ResponseTooLarge",
    "Timeout",
    "Transport",
    "TransportClosed",
    "TransportError",
    "TransportLoopMismatch",
    "TransportTimeout",
]
