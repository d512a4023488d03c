"""The hooks recorder shared by the hooks tests: every event a call reports, in order."""

from __future__ import annotations

from typing import Any

from vlens_async.hooks import (
    CallStartEvent,
    ErrorEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    SuccessEvent,
    VlensHooks,
)


class Recorder(VlensHooks):
    """Keeps every event it is given, in order."""

    def __init__(self) -> None:
        # Any: the tests read each event's own fields after checking its kind.
        self.events: list[Any] = []

    def on_call_start(self, event: CallStartEvent) -> None:
        self.events.append(event)

    def on_request(self, event: RequestEvent) -> None:
        self.events.append(event)

    def on_response(self, event: ResponseEvent) -> None:
        self.events.append(event)

    def on_retry(self, event: RetryEvent) -> None:
        self.events.append(event)

    def on_success(self, event: SuccessEvent) -> None:
        self.events.append(event)

    def on_error(self, event: ErrorEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        """The events' kinds in order: "CallStart", "Request", ... ("Event" left off)."""
        return [type(event).__name__.removesuffix("Event") for event in self.events]
