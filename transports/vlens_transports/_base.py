"""The :class:`Transport` interface: one async method, plus closing."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import TypeVar

from ._models import Request, Response

__all__ = ["Transport"]

_T = TypeVar("_T", bound="Transport")


class Transport(abc.ABC):
    """Sends a :class:`Request` and returns the fully read :class:`Response`.

    Implementations raise only :class:`~vlens_transports.TransportError` subclasses for
    failures of the exchange; HTTP error statuses are ordinary responses.
    """

    @abc.abstractmethod
    async def send(self, request: Request) -> Response:
        """Send ``request`` and return its response."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release resources. Idempotent."""

    async def __aenter__(self: _T) -> _T:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
