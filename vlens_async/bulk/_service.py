"""``client.bulk``: many calls at once, each with its own outcome, streamed as they finish."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import AuthenticationError, RateLimitedError, VlensError, VlensInputError
from .._models import SmsProvider
from .._ratelimit import DEFAULT_RATE_LIMITS, Limiter, RateLimit, RateLimiter
from .._retry import RetryPolicy
from .._validation import check_email, check_phone, check_provider
from ._engine import Attempted, attempt, dispatch, is_refusal, is_transient
from ._outcome import BulkOutcome, BulkStatus, status_of
from ._seen import NumberSet

if TYPE_CHECKING:
    from .._client import VlensClient

__all__ = ["DEFAULT", "BulkService", "RateLimits"]

T = TypeVar("T")
RateLimits = Limiter | Sequence[RateLimit | str] | None


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
"""Sentinel: Vlens' published limits (10/s and 60/min). ``None`` means unlimited."""


def _limiter(rate_limits: RateLimits) -> Limiter | None:
    """A limiter as given (any with the ``Limiter`` interface, e.g. Redis), or one built from
    the windows given."""
    if rate_limits is DEFAULT:
        return RateLimiter(DEFAULT_RATE_LIMITS)
    if isinstance(rate_limits, Sequence):
        return RateLimiter(rate_limits)
    return rate_limits


def _no_fallback(error: VlensError | None) -> bool:
    """Only a refusal proves nothing was sent; rate limits and bad keys are not the provider's."""
    from .._errors import VlensAPIError

    return not isinstance(error, VlensAPIError) or isinstance(
        error, RateLimitedError | AuthenticationError
    )


class BulkService:
    """``client.bulk``: bounded-concurrency, rate-limited dispatch of many calls.

    Each method returns an async iterator of :class:`BulkOutcome`, one per input, in completion
    order. Inputs are pulled lazily. Leave the loop early (or cancel) and the calls in flight are
    cancelled; wrap in ``contextlib.aclosing()`` to make that happen at once, deterministically.
    """

    def __init__(self, client: VlensClient) -> None:
        self._client = client

    def _single_shot(self) -> VlensClient:
        # Retries happen in the dispatcher, where each attempt takes a rate-limit permit.
        policy = RetryPolicy(max_attempts=1, deadline=self._client.retry.deadline)
        return self._client.with_options(retry=policy)

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
    ) -> AsyncGenerator[BulkOutcome, None]:
        """Send a registration OTP to each number, once per normalised number per run.

        A refusal (429/4003, 503, no connection) is retried on the same provider, slowing the
        whole run down for rate limits. Only an API refusal that proves nothing was sent moves
        the number to the next of ``fallback_providers``; an unknown outcome
        (``OutcomeUnknownError``) is reported, never retried nor moved. ``failed`` means
        "certainly not sent".

        ``on_send(input, number)`` (a function or a coroutine function) runs inside the
        rate-limit permit, right before each request is handed to the client: a journal
        written there (and flushed) names only numbers whose request may have been written,
        so a crashed run can tell "never sent" from "maybe sent". A ``VlensError`` it raises
        ends that number ``failed``, nothing sent (a way to stop a run cleanly); any other
        exception ends the whole run.
        """
        providers = [check_provider("sms_provider", sms_provider)] + [
            check_provider("fallback_providers", p) for p in fallback_providers
        ]
        registration = self._single_shot().registration
        limiter = _limiter(rate_limits)
        seen = NumberSet()

        def intake(raw: str) -> BulkOutcome | None:
            try:
                number = check_phone("phone_number", raw)
            except VlensInputError as error:
                return BulkOutcome(input=raw, status=BulkStatus.INVALID, error=error)
            if not seen.add(number):
                return BulkOutcome(input=raw, phone_number=number, status=BulkStatus.DUPLICATE)
            return None

        async def send(raw: str) -> BulkOutcome:
            number = check_phone("phone_number", raw)
            before = None if on_send is None else functools.partial(on_send, raw, number)
            used, outcome = 0, Attempted(None, None, 0)
            for provider in providers:
                send_once = functools.partial(registration.send_phone_otp, number, provider)
                outcome = await attempt(send_once, limiter, max_attempts, before=before)
                used += outcome.attempts
                if outcome.error is None or _no_fallback(outcome.error):
                    break
            return _outcome(raw, number, outcome, used, provider, BulkStatus.SENT)

        return dispatch(numbers, intake, send, concurrency=concurrency, finalize=seen.close)

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

        def key(value: str) -> str:
            if isinstance(value, str) and "@" in value:
                return check_email("email", value)
            return check_phone("phone_number", value)

        async def check(client: VlensClient, value: str) -> Any:
            if "@" in key(value):
                return await client.registration.check_existence(email=value)
            return await client.registration.check_existence(phone_number=value)

        return self.run(
            values,
            check,
            key=key,
            concurrency=concurrency,
            rate_limits=rate_limits,
            max_attempts=max_attempts,
            retryable=is_transient,
        )

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

        ``call`` gets a copy of the client that makes one attempt per call, so that every
        attempt passes the rate limiter; the dispatcher retries the errors ``retryable`` accepts
        (by default refusals only, which is safe for effect calls). ``key`` normalises an item
        (raising VlensInputError for bad input) and drops repeats; without it every item runs.
        """
        limiter = _limiter(rate_limits)
        client = self._single_shot()
        seen: set[str] = set()

        def intake(item: T) -> BulkOutcome | None:
            if key is None:
                return None
            try:
                normal = key(item)
            except VlensInputError as error:
                return BulkOutcome(input=item, status=BulkStatus.INVALID, error=error)
            if normal in seen:
                return BulkOutcome(input=item, phone_number=normal, status=BulkStatus.DUPLICATE)
            seen.add(normal)
            return None

        async def one(item: T) -> BulkOutcome:
            normal = key(item) if key is not None else None
            outcome = await attempt(
                functools.partial(call, client, item), limiter, max_attempts, retryable
            )
            return _outcome(item, normal, outcome, outcome.attempts, None, BulkStatus.OK)

        return dispatch(items, intake, one, concurrency=concurrency)


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
