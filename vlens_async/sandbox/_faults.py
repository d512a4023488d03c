"""Scheduled failures: what the sandbox does instead of (or after) answering normally."""

from __future__ import annotations

import enum
import random
from typing import TYPE_CHECKING, TypedDict

import attrs

from ._settings import check_count, check_seconds

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Fault", "FaultKind", "Faults", "Schedule", "check_fault"]


class Schedule(TypedDict, total=False):
    """When a fault fires: ``times`` (None: always), ``probability``, ``seed``."""

    times: int | None
    probability: float
    seed: int | None


class FaultKind(enum.Enum):
    """What goes wrong. Each kind says whether the request is processed (its effect happens)."""

    LATENCY = "latency"  # processed, answered after a delay
    STATUS = "status"  # not processed: an HTTP error status with an HTML, empty or envelope body
    RATE_LIMIT = "rate_limit"  # not processed: 429 with Retry-After
    MALFORMED_JSON = "malformed_json"  # processed, the body is not valid JSON
    DROP_AFTER_PROCESSING = "drop_after_processing"  # processed, then the connection drops
    REFUSE = "refuse"  # not processed: connection refused (503 over HTTP, see Faults.refuse)
    TRUNCATED_BODY = "truncated_body"  # processed, the body is cut short and the connection drops
    OVERSIZED_BODY = "oversized_body"  # processed, the body is larger than any client accepts


@attrs.frozen(kw_only=True)
class Fault:
    """One scheduled fault. Create them through :class:`Faults`' methods."""

    kind: FaultKind
    match: str | None = None
    status: int = 500
    body: str = "html"
    delay: float = 0.0
    retry_after: float | None = None
    size: int = 2 * 1024 * 1024

    def __attrs_post_init__(self) -> None:
        """Refuse what would fail, or be ignored, only inside a later call."""
        if self.match is not None and not isinstance(self.match, str):
            raise TypeError(f"match must be an operation name or a path end, not {self.match!r}")
        check_fault(self)

    @property
    def processed(self) -> bool:
        """Whether the request's effect happens before the fault shows."""
        return self.kind not in (FaultKind.STATUS, FaultKind.RATE_LIMIT, FaultKind.REFUSE)

    def matches(self, path: str, operation: str) -> bool:
        if self.match is None:
            return True
        return self.match == operation or path.rstrip("/").endswith(self.match.strip("/"))


EMPTY_BODY_STATUSES = (204, 304)  # an HTTP server sends no body with these


def check_fault(fault: Fault) -> None:
    """Refuse a fault that no wire can carry out as its kind says (ValueError naming why)."""
    if type(fault.status) is not int:
        raise TypeError(f"status must be an int, not {type(fault.status).__name__}")
    if fault.kind is FaultKind.STATUS:
        if not 200 <= fault.status <= 599:  # a 1xx is no final answer: the client waits on
            raise ValueError(f"status must be from 200 to 599, not {fault.status}")
        if fault.status in EMPTY_BODY_STATUSES and fault.body != "empty":
            raise ValueError(f"a {fault.status} answer has no body: give body=empty")
    check_seconds("latency", fault.delay, positive=False)
    if fault.retry_after is not None:
        check_seconds("retry_after", fault.retry_after, positive=False)
    check_count("size", fault.size)


@attrs.define
class _Schedule:
    fault: Fault
    remaining: int | None
    probability: float
    rng: random.Random
    fired: int = 0


class Faults:
    """The fault schedule. ``match`` is an SDK operation name or the end of a path.

    ``times`` limits how many matching calls fail (``None``: no limit); ``probability`` makes
    each matching call fail by chance, drawn from a generator seeded with ``seed``.

    Example::

        sandbox.faults.drop_after_processing("registration.send_phone_otp", times=1)
        sandbox.faults.status(502, match="Register", body="html", probability=0.1, seed=7)
    """

    def __init__(self) -> None:
        self._schedules: list[_Schedule] = []

    def add(
        self,
        fault: Fault,
        *,
        times: int | None = 1,
        probability: float = 1.0,
        seed: int | None = None,
    ) -> Fault:
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise TypeError(f"times must be an int or None, not {type(times).__name__}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for no limit)")
        if not 0.0 < probability <= 1.0:
            raise ValueError("probability must be in (0, 1]")
        self._schedules.append(_Schedule(fault, times, probability, random.Random(seed)))
        return fault

    def latency(
        self, seconds: float, match: str | None = None, **schedule: Unpack[Schedule]
    ) -> Fault:
        """Answer normally, but only after ``seconds`` of real time."""
        return self.add(Fault(kind=FaultKind.LATENCY, match=match, delay=seconds), **schedule)

    def status(
        self,
        status: int,
        match: str | None = None,
        *,
        body: str = "html",
        **schedule: Unpack[Schedule],
    ) -> Fault:
        """Answer ``status`` without processing; ``body`` is "html", "empty" or "envelope"."""
        if body not in ("html", "empty", "envelope"):
            raise ValueError("body must be 'html', 'empty' or 'envelope'")
        fault = Fault(kind=FaultKind.STATUS, match=match, status=status, body=body)
        return self.add(fault, **schedule)

    def rate_limit(
        self,
        retry_after: float | None = 1.0,
        match: str | None = None,
        **schedule: Unpack[Schedule],
    ) -> Fault:
        """Answer 429 with ``Retry-After`` (seconds), without processing."""
        fault = Fault(kind=FaultKind.RATE_LIMIT, match=match, status=429, retry_after=retry_after)
        return self.add(fault, **schedule)

    def malformed_json(self, match: str | None = None, **schedule: Unpack[Schedule]) -> Fault:
        """Process the request, then answer 200 with a body that is not valid JSON."""
        return self.add(Fault(kind=FaultKind.MALFORMED_JSON, match=match), **schedule)

    def drop_after_processing(
        self, match: str | None = None, **schedule: Unpack[Schedule]
    ) -> Fault:
        """Process the request (the SMS is sent), then drop the connection without answering."""
        fault = Fault(kind=FaultKind.DROP_AFTER_PROCESSING, match=match)
        return self.add(fault, **schedule)

    def refuse(self, match: str | None = None, **schedule: Unpack[Schedule]) -> Fault:
        """Refuse before processing: in memory, a refused connection; over HTTP, where an accepted
        connection cannot be refused, a 503 with an empty body. Both mean "certainly not processed".
        """
        return self.add(Fault(kind=FaultKind.REFUSE, match=match, status=503), **schedule)

    def truncated_body(self, match: str | None = None, **schedule: Unpack[Schedule]) -> Fault:
        """Process the request, then send half of the body and drop the connection."""
        return self.add(Fault(kind=FaultKind.TRUNCATED_BODY, match=match), **schedule)

    def oversized_body(
        self, match: str | None = None, *, size: int = 2 * 1024 * 1024, **schedule: Unpack[Schedule]
    ) -> Fault:
        """Process the request, then answer with a ``size``-byte body."""
        fault = Fault(kind=FaultKind.OVERSIZED_BODY, match=match, size=size)
        return self.add(fault, **schedule)

    def draw(self, path: str, operation: str) -> Fault | None:
        """The fault for this call, if one fires (consuming one of its ``times``)."""
        for schedule in list(self._schedules):
            if not schedule.fault.matches(path, operation):
                continue
            if schedule.probability < 1.0 and schedule.rng.random() >= schedule.probability:
                continue
            schedule.fired += 1
            if schedule.remaining is not None:
                schedule.remaining -= 1
                if schedule.remaining == 0:
                    self._schedules.remove(schedule)
            return schedule.fault
        return None

    def clear(self) -> None:
        self._schedules.clear()

    @property
    def pending(self) -> int:
        """How many schedules are still active."""
        return len(self._schedules)
