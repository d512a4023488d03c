"""RetryPolicy, a frozen value turned into one ``backoff`` decorator for every attempt."""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
import backoff

from ._errors import VlensError

__all__ = ["RetryPolicy", "Retryable"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class Retryable(Exception):
    """Internal signal: ``error`` may be retried after ``wait`` seconds.

    ``remaining`` is the time left before the call's deadline when the attempt failed (None: no
    deadline); a wait that would outlast it ends the call instead.
    """

    def __init__(self, error: VlensError, *, wait: float, remaining: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait
        self.remaining = remaining

    @property
    def gives_up(self) -> bool:
        """True when the wait would outlast the deadline (or it has passed): no retry."""
        return self.remaining is not None and self.wait >= self.remaining


def _seconds(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A finite number of seconds >= 0 (or None where allowed, then > 0: a zero deadline
    would refuse every call)."""
    name = f"RetryPolicy.{attribute.name}"
    optional = attribute.name == "deadline"
    if value is None and optional:
        return
    wanted = f"{name} must be a finite number of seconds {'> 0 or None' if optional else '>= 0'}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{wanted}, got {value!r}")
    if not math.isfinite(value) or value < 0 or (optional and value == 0):
        raise ValueError(f"{wanted}, got {value!r}")


def _attempts(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    wanted = f"RetryPolicy.max_attempts must be an integer >= 1, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(wanted)
    if value < 1:
        raise ValueError(wanted)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a call is retried. Which failures are retryable depends on the operation (see docs).

    Every numeric field is checked when given (``TypeError``/``ValueError`` naming it).

    Attributes:
        max_attempts: attempts in all, including the first (1 disables retries).
        base_delay: the first backoff step in seconds; steps double, with full jitter.
        max_delay: the cap on one backoff step.
        retry_after_cap: the longest ``Retry-After`` honoured; a longer one is cut to this.
            After a ``Retry-After`` the wait is that (capped) plus a jittered backoff step, so
            that callers refused together do not all come back at the same instant.
        deadline: seconds for the whole call, attempts and waits included (``None``: no
            bound). A wait that would outlast it ends the call at once instead.
    """

    max_attempts: int = attrs.field(default=3, validator=_attempts)
    base_delay: float = attrs.field(default=0.25, validator=_seconds)
    max_delay: float = attrs.field(default=8.0, validator=_seconds)
    retry_after_cap: float = attrs.field(default=30.0, validator=_seconds)
    deadline: float | None = attrs.field(default=60.0, validator=_seconds)

    @classmethod
    def interactive(cls) -> RetryPolicy:
        """For a request handler, where a person waits: the whole call ends within 5 s.

        Two attempts, short backoff steps (0.1 s, at most 1 s), a ``Retry-After`` honoured up
        to 2 s (a longer one is cut to 2 s; if that answer is a 429 again, the handler gets
        the ``RateLimitedError`` and can answer "try again later"). Pass it per call
        (``retry=``) or to ``with_options`` for a handler's client.
        """
        return cls(max_attempts=2, base_delay=0.1, max_delay=1.0, retry_after_cap=2.0, deadline=5.0)

    @classmethod
    def batch(cls) -> RetryPolicy:
        """For jobs and workers, where nobody waits: the defaults (3 attempts, backoff from
        0.25 s up to 8 s, ``Retry-After`` honoured up to 30 s, 60 s for the whole call)."""
        return cls()

    @classmethod
    def no_wait(cls, max_attempts: int = 3) -> RetryPolicy:
        """A policy that retries without sleeping: for tests."""
        return cls(max_attempts=max_attempts, base_delay=0.0, max_delay=0.0, retry_after_cap=0.0)

    def wait_before(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after the ``attempt``-th failed attempt: full jitter on an exponential
        step, plus ``Retry-After`` (capped) when the server sent one."""
        step = min(self.max_delay, self.base_delay * 2 ** min(attempt - 1, 64))
        delay = random.uniform(0, step)
        if retry_after is not None:
            delay += min(retry_after, self.retry_after_cap)
        return delay

    def retrying(self, attempt: F) -> F:
        """``attempt`` run under this policy: retried while it raises :class:`Retryable`.

        The first attempt runs in the same loop as the others; when retries end, the last
        :class:`Retryable` is raised for the caller to unwrap.
        """
        decorate: Callable[[F], F] = _decorator(self.max_attempts)
        return decorate(attempt)


def _wait(signal: Retryable) -> float:
    return signal.wait


def _give_up(signal: Exception) -> bool:
    """True when the wait would outlast the deadline (or it has passed)."""
    assert isinstance(signal, Retryable)  # the only exception the decorator catches
    return signal.gives_up


@functools.cache
def _decorator(max_attempts: int) -> Callable[[Any], Any]:
    """The backoff decorator for ``max_attempts``, built once. ``backoff.runtime`` waits what
    the signal says (backoff's documented way to follow ``Retry-After``)."""
    return backoff.on_exception(
        backoff.runtime,
        Retryable,
        # backoff calls each callable keyword argument with no arguments on every call and
        # passes the result on (its documented rule); ``value=_wait`` would make that call
        # raise and catch a TypeError per call (about 0.9 us) before falling back.
        value=lambda: _wait,
        max_tries=max_attempts,
        giveup=_give_up,
        jitter=None,
        logger=None,
    )
