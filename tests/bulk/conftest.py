"""Helpers for the bulk suite: a fake time source, a recording limiter and sandbox, numbers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from typing import Any

from vlens_async import RetryPolicy, VlensClient
from vlens_async.bulk import RateLimit, RateLimiter
from vlens_async.sandbox import Exchange, FaultKind, Sandbox, SandboxClock
from vlens_transports import FakeTransport, Handler, Request

API_KEY = "sandbox-key"
HANG_GUARD = 10.0


def number(index: int) -> str:
    """The ``index``-th distinct Egyptian mobile number in E.164 form."""
    return f"+2010{index:08d}"


def phone_of(request: Request) -> str:
    """The ``phoneNumber`` a request's JSON body carries."""
    value = json.loads(request.content)["phoneNumber"]
    assert isinstance(value, str)
    return value


def provider_of(request: Request) -> int | None:
    """The ``smsProviders`` a request's JSON body carries (None when absent)."""
    value = json.loads(request.content).get("smsProviders")
    assert value is None or isinstance(value, int)
    return value


class FakeTime:
    """A clock that only moves when someone sleeps on it: sleeping advances it at once."""

    def __init__(self, clock: SandboxClock | None = None) -> None:
        self.clock = clock or SandboxClock(start=0.0)
        self.slept: list[float] = []

    def now(self) -> float:
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(max(seconds, 0.0))
        await asyncio.sleep(0)  # let the other tasks see the new time, as a real sleep would


class RecordingLimiter(RateLimiter):
    """A limiter on a :class:`FakeTime` that records when each permit was granted, and pauses."""

    def __init__(self, limits: Iterable[RateLimit | str], time: FakeTime) -> None:
        super().__init__(limits, clock=time.now, sleep=time.sleep)
        self.time = time
        self.grants: list[float] = []
        self.pauses: list[tuple[int, float]] = []  # (permits granted before it, pause ends at)

    async def acquire(self) -> None:
        await super().acquire()
        self.grants.append(self.time.now())

    def slow_down(self, retry_after: float | None) -> float:
        pause = super().slow_down(retry_after)
        self.pauses.append((len(self.grants), self.time.now() + pause))
        return pause


class RecordingSandbox(Sandbox):
    """A sandbox that notes, per request, the number sent to, the sandbox time and any fault."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sends: list[tuple[str, float]] = []
        self.dropped: list[str] = []
        self.faults_by_phone: dict[str, list[FaultKind | None]] = {}

    async def process(self, request: Request) -> Exchange:
        exchange = await super().process(request)
        if request.url.endswith("Register/StepVerifyPhone"):
            phone = phone_of(request)
            self.sends.append((phone, self.clock.now()))
            fault = exchange.fault
            self.faults_by_phone.setdefault(phone, []).append(None if fault is None else fault.kind)
            if fault is not None and fault.kind is FaultKind.DROP_AFTER_PROCESSING:
                self.dropped.append(phone)
        return exchange


def fake_client(handler: Handler) -> VlensClient:
    """A client over ``FakeTransport(handler)`` with the sandbox key and zero-wait retries."""
    return VlensClient(API_KEY, transport=FakeTransport(handler), retry=RetryPolicy.no_wait())


def assert_windows(times: Sequence[float], limits: Iterable[RateLimit]) -> None:
    """``times`` never decrease and no window of any limit holds more than its count."""
    assert list(times) == sorted(times)
    for limit in limits:
        for i in range(limit.count, len(times)):
            gap = times[i] - times[i - limit.count]
            assert gap >= limit.seconds - 1e-9, (str(limit), i, gap)
