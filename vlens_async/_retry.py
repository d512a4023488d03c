"""RetryPolicy, a frozen value turned into a ``backoff`` decorator."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import attrs
import backoff

from ._errors import VlensError

__all__ = ["RetryPolicy", "Retryable"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class Retryable(Exception):
    """Internal signal: ``error`` may be retried. Carries what the wait generator needs."""

    def __init__(self, error: VlensError, *, retry_after: float | None, remaining: float | None):
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.remaining = remaining


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must not be negative, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a call is retried. Which failures are retryable depends on the operation (see docs).

    Attributes:
        max_attempts: attempts in all, including the first (1 disables retries).
        base_delay: the first backoff step in seconds; steps double, with full jitter.
        max_delay: the cap on one backoff step.
        retry_after_cap: the longest ``Retry-After`` honoured; a longer one is cut to this.
            A wait that would outlast the deadline ends the call at once instead.
        deadline: seconds for the whole call, attempts and waits included (``None``: no bound).
    """

    max_attempts: int = attrs.field(default=3)
    base_delay: float = attrs.field(default=0.25, validator=_non_negative)
    max_delay: float = attrs.field(default=8.0, validator=_non_negative)
    retry_after_cap: float = attrs.field(default=30.0, validator=_non_negative)
    deadline: float | None = attrs.field(default=60.0, validator=_non_negative)

    @max_attempts.validator
    def _at_least_one(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be at least 1, got {value!r}")

    @classmethod
    def no_wait(cls, max_attempts: int = 3) -> RetryPolicy:
        """A policy that retries without sleeping: for tests."""
        return cls(max_attempts=max_attempts, base_delay=0.0, max_delay=0.0, retry_after_cap=0.0)

    def wait_before(self, step: int, signal: Retryable) -> float:
        """Seconds to wait after the ``step``-th failed attempt: full jitter on an exponential
        step, at least ``Retry-After`` (capped), never past the deadline."""
        delay = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (step - 1)))
        if signal.retry_after is not None:
            delay = max(delay, min(signal.retry_after, self.retry_after_cap))
        if signal.remaining is not None:
            delay = min(delay, max(signal.remaining, 0.0))
        return delay

    def _waits(self, first_step: int = 1) -> Generator[float, Retryable, None]:
        step = first_step - 1
        signal = yield 0.0  # backoff primes the generator with send(None)
        while True:
            step += 1
            signal = yield self.wait_before(step, signal)

    def give_up(self, signal: Exception) -> bool:
        """True when no retry can fit: the deadline has passed or Retry-After outlasts it."""
        assert isinstance(signal, Retryable)  # the only exception the decorator catches
        remaining = signal.remaining
        if remaining is None:
            return False
        if remaining <= 0:
            return True
        wait = signal.retry_after
        return wait is not None and min(wait, self.retry_after_cap) >= remaining

    def decorate_retries(self, attempt: F) -> F | None:
        """Wrap ``attempt`` for the attempts after the first (None if there are none).

        The first attempt runs undecorated, so that a call that succeeds pays nothing for the
        retry machinery; after a retryable failure the caller waits ``wait_before(1, ...)`` and
        hands over to this backoff loop, whose steps continue from the second.
        """
        if self.max_attempts < 2:
            return None
        decorator = backoff.on_exception(
            # backoff sends each caught exception into the generator, typed as None in its stubs
            self._waits,  # type: ignore[arg-type]
            Retryable,
            max_tries=self.max_attempts - 1,
            jitter=None,
            giveup=self.give_up,
            logger=None,
            first_step=2,
        )
        return decorator(attempt)
