"""The counting limiter shared by the client and bulk rate-limit tests."""

from __future__ import annotations


class CountingLimiter:
    """The limiter protocol, recording what the pipeline asks of it.

    ``held_while_sleeping`` and ``held_when_sending`` are filled by the tests' own sleep and
    on_send callbacks, with ``held`` at that moment.
    """

    def __init__(self) -> None:
        self.entered = self.exited = self.acquired = self.successes = 0
        self.held = 0
        self.slow_downs: list[float | None] = []
        self.held_while_sleeping: list[int] = []
        self.held_when_sending: list[int] = []

    async def acquire(self) -> None:
        self.acquired += 1

    async def __aenter__(self) -> None:
        self.entered += 1
        self.held += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self.exited += 1
        self.held -= 1

    def slow_down(self, retry_after: float | None) -> float:
        self.slow_downs.append(retry_after)
        return retry_after or 0.0

    def succeeded(self) -> None:
        self.successes += 1
