"""``client.bulk``: many calls at once, each with its own outcome, streamed as they finish."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import (
    AuthenticationError,
    RateLimitedError,
    VlensAPIError,
    VlensError,
    VlensInputError,
)
from .._models import SmsProvider
from .._ratelimit import DEFAULT_RATE_LIMITS, Limiter, RateLimit, RateLimiter
from .._retry import RetryPolicy
from .._validation import check_email, check_phone, check_provider
from ._attempt import Attempted, Halt, Tries, attempt, call_back, is_refusal, is_transient
from ._engine import dispatch
from ._outcome import BulkOutcome, BulkStatus, status_of
from ._seen import NumberSet, TextSet

if TYPE_CHECKING:
    from .._client import VlensClient
    from ..services.registration import RegistrationService

__all__ = ["DEFAULT", "BulkService", "RateLimits"]

T = TypeVar("T")
RateLimits = Limiter | Sequence[RateLimit | str] | None


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
"""Sentinel: the client's rate limiter, or when it has none Vlens' published limits (10/s and
60/min). ``None`` means unlimited."""


def _limiter(rate_limits: RateLimits, client: VlensClient) -> Limiter | None:
    """A limiter as given (any with the ``Limiter`` interface, e.g. Redis), one built from the
    windows given, or by default the client's (else Vlens' published limits)."""
    if rate_limits is DEFAULT:
        if client.rate_limiter is not None:
            return client.rate_limiter
        return RateLimiter(DEFAULT_RATE_LIMITS)
    if isinstance(rate_limits, Sequence):
        return RateLimiter(rate_limits)
    return rate_limits


def _no_fallback(error: VlensError | None) -> bool:
    """Only a refusal proves nothing was sent; rate limits and bad keys are not the provider's."""
    return not isinstance(error, VlensAPIError) or isinstance(
        error, RateLimitedError | AuthenticationError
    )


def _check_inputs(name: str, items: object) -> None:
    """Refuse one string (it would be iterated character by character) or a non-iterable."""
    if isinstance(items, str | bytes | bytearray | memoryview):
        problem = f"expected an iterable of inputs, got one {type(items).__name__}; "
        raise VlensInputError(name, problem + "wrap a single input in a list")
    if not isinstance(items, Iterable | AsyncIterable):
        raise VlensInputError(name, f"expected an iterable of inputs, got {type(items).__name__}")


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise VlensInputError(name, f"expected a whole number of at least 1, got {value!r}")
    return value


class BulkService:
    """``client.bulk``: bounded-concurrency, rate-limited dispatch of many calls.

    Each method returns an async iterator of :class:`BulkOutcome`, one per input, in completion
    order. Inputs are pulled lazily. Leave the loop early (or cancel) and the calls in flight are
    cancelled; wrap in ``contextlib.aclosing()`` to make that happen at once, deterministically.

    Every attempt takes one permit of the run's limiter (by default the client's); a refused
    attempt is tried again after the wait the client's ``RetryPolicy`` gives (a jittered,
    doubling step, plus a capped ``Retry-After``), outside the permit. Once the API key is
    refused (``AuthenticationError``) no further request is made: the remaining inputs end
    ``failed`` with that error.

    Args:
        client: the client whose calls are made (through a copy that makes one attempt a call
            and takes no permit of its own).
        sleep: how the waits between attempts are slept (tests pass a fake clock's).
    """

    def __init__(
        self, client: VlensClient, *, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    ) -> None:
        self._client = client
        self._sleep = sleep

    def _single_shot(self) -> VlensClient:
        # Retries happen in the dispatcher, where each attempt takes one permit: the copy makes
        # one attempt a call and takes no permit itself.
        policy = RetryPolicy(max_attempts=1, deadline=self._client.retry.deadline)
        return self._client.with_options(retry=policy, rate_limiter=None)

    def _tries(
        self,
        rate_limits: RateLimits,
        max_attempts: object,
        retryable: Callable[[VlensError], bool],
        halt: Halt,
    ) -> Tries:
        return Tries(
            limiter=_limiter(rate_limits, self._client),
            max_attempts=_check_count("max_attempts", max_attempts),
            retryable=retryable,
            policy=self._client.retry,
            sleep=self._sleep,
            halt=halt,
        )

    def send_phone_otps(
        self,
        numbers: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 32,
        rate_limits: RateLimits = DEFAULT,
        sms_provider: SmsProvider | int | str | None = None,
        fallback_providers: Sequence[SmsProvider | int | str] = (),
        max_attempts: int = 5,
        on_send: Callable[[str, str], object] | None = None,
        on_retry: Callable[[str, str, VlensError], object] | None = None,
    ) -> AsyncGenerator[BulkOutcome, None]:
        """Send a registration OTP to each number, once per normalised number per run.

        A refusal (429/4003, 503, no connection) is retried on the same provider after a wait,
        slowing the whole run down for rate limits. Only an API refusal that proves nothing was
        sent moves the number to the next of ``fallback_providers``; an unknown outcome
        (``OutcomeUnknownError``) is reported, never retried nor moved. ``failed`` means
        "certainly not sent".

        ``on_send(input, number)`` (a function or a coroutine function) runs inside the
        rate-limit permit, right before each request is handed to the client: a journal
        written there (and flushed) names only numbers whose request may have been written,
        so a crashed run can tell "never sent" from "maybe sent". A ``VlensError`` it raises
        ends that number ``failed``, nothing sent (a way to stop a run cleanly); any other
        exception ends the whole run. ``on_retry(input, number, error)`` (the same kinds)
        runs after an attempt that was refused (nothing sent) when the number will be tried
        again, on the same or the next provider: a journal can clear its mark there.

        ``concurrency`` (requests in flight at most) should not exceed the transport's
        connection pool (``AiohttpTransport(limit=...)``, 100 by default): a request waiting
        for a pooled connection has passed ``on_send`` but is not written yet.
        """
        _check_inputs("numbers", numbers)
        providers = [check_provider("sms_provider", sms_provider)] + [
            check_provider("fallback_providers", p) for p in fallback_providers
        ]
        tries = self._tries(rate_limits, max_attempts, is_refusal, Halt(AuthenticationError))
        registration = self._single_shot().registration
        sender = _Sender(registration, providers, tries, on_send, on_retry)
        return dispatch(
            numbers,
            sender.intake,
            sender.send,
            concurrency=_check_count("concurrency", concurrency),
            finalize=sender.seen.close,
        )

    def check_existence(
        self,
        values: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 32,
        rate_limits: RateLimits = DEFAULT,
        max_attempts: int = 5,
    ) -> AsyncGenerator[BulkOutcome, None]:
        """Check many phone numbers or e-mails (one argument each) for existing accounts.

        ``outcome.result`` is the :class:`ExistenceResult`; ``outcome.phone_number`` holds the
        normalised phone number or e-mail. A read: every transient failure is retried.
        """
        _check_inputs("values", values)
        tries = self._tries(rate_limits, max_attempts, is_transient, Halt(AuthenticationError))
        return self._run(values, _check_one, _existence_key, concurrency, tries)

    def run(
        self,
        items: Iterable[T] | AsyncIterable[T],
        call: Callable[[VlensClient, T], Awaitable[Any]],
        *,
        key: Callable[[T], str] | None = None,
        concurrency: int = 32,
        rate_limits: RateLimits = DEFAULT,
        max_attempts: int = 5,
        retryable: Callable[[VlensError], bool] = is_refusal,
    ) -> AsyncGenerator[BulkOutcome, None]:
        """Run ``call(client, item)`` for many items: the generic form of the helpers above.

        ``call`` gets a copy of the client that makes one attempt per call and takes no permit,
        so that every attempt passes the run's limiter once; the dispatcher retries the errors
        ``retryable`` accepts (by default refusals only, which is safe for effect calls).
        ``key`` normalises an item (raising VlensInputError for bad input) and drops repeats;
        without it every item runs. An ``AuthenticationError`` does not stop the run here
        (``call`` may carry a token of its own per item).
        """
        _check_inputs("items", items)
        tries = self._tries(rate_limits, max_attempts, retryable, Halt())
        return self._run(items, call, key, concurrency, tries)

    def _run(
        self,
        items: Iterable[T] | AsyncIterable[T],
        call: Callable[[VlensClient, T], Awaitable[Any]],
        key: Callable[[T], str] | None,
        concurrency: object,
        tries: Tries,
    ) -> AsyncGenerator[BulkOutcome, None]:
        client = self._single_shot()
        seen = TextSet()  # exact, in bounded memory: a run may see millions of keys

        def intake(item: T) -> BulkOutcome | None:
            if key is None:
                return _halted(item, None, tries.halt)
            try:
                normal = key(item)
            except VlensInputError as error:
                return BulkOutcome(input=item, status=BulkStatus.INVALID, error=error)
            if not seen.add(normal):
                return BulkOutcome(input=item, phone_number=normal, status=BulkStatus.DUPLICATE)
            return _halted(item, normal, tries.halt)

        async def one(item: T) -> BulkOutcome:
            normal = key(item) if key is not None else None
            outcome = await attempt(functools.partial(call, client, item), tries)
            return _outcome(item, normal, outcome, outcome.attempts, None, BulkStatus.OK)

        return dispatch(
            items,
            intake,
            one,
            concurrency=_check_count("concurrency", concurrency),
            finalize=seen.close,
        )


def _existence_key(value: str) -> str:
    if isinstance(value, str) and "@" in value:
        return check_email("email", value)
    return check_phone("phone_number", value)


async def _check_one(client: VlensClient, value: str) -> Any:
    if "@" in _existence_key(value):
        return await client.registration.check_existence(email=value)
    return await client.registration.check_existence(phone_number=value)


def _halted(raw: Any, normal: str | None, halt: Halt) -> BulkOutcome | None:
    """An input pulled after the run was halted: failed with the halting error, nothing sent."""
    if halt.error is None:
        return None
    return _outcome(raw, normal, Attempted(None, halt.error, 0), 0, None, BulkStatus.SENT)


class _Sender:
    """One ``send_phone_otps`` run: the numbers seen, the providers in order, the tries."""

    def __init__(
        self,
        registration: RegistrationService,
        providers: list[SmsProvider | None],
        tries: Tries,
        on_send: Callable[[str, str], object] | None,
        on_retry: Callable[[str, str, VlensError], object] | None,
    ) -> None:
        self.registration, self.providers, self.tries = registration, providers, tries
        self.on_send, self.on_retry = on_send, on_retry
        self.seen = NumberSet()

    def intake(self, raw: str) -> BulkOutcome | None:
        """Answer at once for a bad, repeated, or (the run halted) refused number."""
        try:
            number = check_phone("phone_number", raw)
        except VlensInputError as error:
            return BulkOutcome(input=raw, status=BulkStatus.INVALID, error=error)
        if not self.seen.add(number):
            return BulkOutcome(input=raw, phone_number=number, status=BulkStatus.DUPLICATE)
        return _halted(raw, number, self.tries.halt)

    async def send(self, raw: str) -> BulkOutcome:
        """Send to one number: each provider in turn while a refusal proves nothing was sent."""
        number = check_phone("phone_number", raw)
        on_send, on_retry = self.on_send, self.on_retry
        before = None if on_send is None else functools.partial(on_send, raw, number)
        retrying = None if on_retry is None else functools.partial(on_retry, raw, number)
        used, outcome, provider = 0, Attempted(None, None, 0), self.providers[0]
        for index, provider in enumerate(self.providers, 1):
            send_once = functools.partial(self.registration.send_phone_otp, number, provider)
            outcome = await attempt(send_once, self.tries, before, retrying)
            used += outcome.attempts
            if outcome.error is None or _no_fallback(outcome.error) or index == len(self.providers):
                break
            if retrying is not None:  # the next provider is tried: this one refused
                await call_back(functools.partial(retrying, outcome.error))
        return _outcome(raw, number, outcome, used, provider, BulkStatus.SENT)


def _outcome(
    raw: Any,
    normal: str | None,
    outcome: Attempted,
    attempts: int,
    provider: SmsProvider | None,
    success: BulkStatus,
) -> BulkOutcome:
    value = outcome.value
    return BulkOutcome(
        input=raw,
        phone_number=normal,
        status=status_of(outcome.error, success),
        request_id=getattr(value, "phone_number_otp_request_id", None),
        provider=provider,
        attempts=attempts,
        error=outcome.error,
        result=value,
    )
