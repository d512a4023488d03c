"""The one path every call takes: request -> transport (with retries, deadline) -> decode.

Services describe an :class:`Operation` and hand a body to :meth:`Caller.call`; nothing else in
the SDK touches the transport. What a failed attempt becomes is decided in ``_outcomes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

from vlens_transports import (
    ConnectError,
    Request,
    Response,
    Timeout,
    Transport,
    TransportError,
)

from ._codec import Codec
from ._errors import (
    ClientClosedError,
    OutcomeUnknownError,
    RateLimitedError,
    VlensAPIError,
    VlensError,
)
from ._observe import observe
from ._operation import CallOptions, CallState, Lifecycle, Operation, parse_retry_after
from ._outcomes import Verdict, fail_closed, from_transport, judge, reason_of
from ._ratelimit import Limiter
from ._redact import mask_contact, redact_error, secrets_of
from ._responses import captured, envelope_code, raw_response, server_request_id
from ._retry import Retryable, RetryPolicy
from .hooks import VlensHooks

__all__ = ["CallOptions", "Caller", "Lifecycle", "Operation", "parse_retry_after"]

if sys.version_info >= (3, 11):
    from asyncio import timeout_at
else:  # pragma: no cover - Python 3.10 only
    from async_timeout import timeout_at

T = TypeVar("T")
logger = logging.getLogger("vlens_async")


class Caller:
    """Builds requests and runs them through the retry loop. Shared by a client's services.

    ``hooks`` are told about every call; ``rate_limiter`` grants each attempt's send (held
    with ``async with`` until its answer is back) and hears of every 429 or Vlens 4003.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        base_url: str,
        headers: Mapping[str, str],
        timeout: Timeout,
        retry: RetryPolicy,
        codec: Codec,
        lifecycle: Lifecycle | None = None,
        hooks: VlensHooks | None = None,
        rate_limiter: Limiter | None = None,
    ) -> None:
        self.lifecycle = lifecycle or Lifecycle()
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.timeout = timeout
        self.retry = retry
        self.codec = codec
        self.hooks = hooks
        self.rate_limiter = rate_limiter
        self._attempts = retry.retrying(self._attempt)

    async def call(
        self,
        operation: Operation[T],
        body: object,
        *,
        token: str | None = None,
        subject: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        options: CallOptions | None = None,
    ) -> T:
        """Send ``body`` to ``operation`` and return its decoded result, or raise a VlensError.

        ``subject`` (a phone number or e-mail) is only logged, masked. ``options`` override
        the client's timeout, retry policy or request id for this call.
        """
        self.lifecycle.enter()
        call = self._start(operation, body, token, subject, extra_headers, options)
        # The retry loop depends on max_attempts alone (waits and deadline ride on each signal):
        # a per-call policy such as RetryPolicy.interactive() reuses the client's when they agree.
        same_loop = call.retry.max_attempts == self.retry.max_attempts
        attempts = self._attempts if same_loop else call.retry.retrying(self._attempt)
        events = call.events
        try:
            try:
                result: T = await attempts(call)
            except Retryable as signal:  # no retry left: the last attempt's error is the answer
                raise signal.error from signal.error.__cause__
        except BaseException as exc:
            if isinstance(exc, VlensError):
                _stamp(exc, call.request_id)
            if events is not None:
                events.failure(exc)
            raise
        if events is not None:
            events.success()
        return result

    def _start(
        self,
        operation: Operation[T],
        body: object,
        token: str | None,
        subject: str | None,
        extra_headers: Mapping[str, str] | None,
        options: CallOptions | None,
    ) -> CallState[T]:
        """The call's state: its request (same headers and request id on every attempt)."""
        retry, timeout, request_id = self.retry, self.timeout, None
        if options is not None:
            retry = options.retry or retry
            timeout = options.timeout or timeout
            request_id = options.request_id
        # 128 random bits as hex: a formatted UUID4 costs 1.6 us more on every call.
        headers = {**self.headers, "X-Request-Id": request_id or secrets.token_hex(16)}
        if extra_headers:
            headers.update(extra_headers)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        deadline = retry.deadline
        request = Request(
            method="POST",
            url=self.base_url + operation.path,
            headers=MappingProxyType(headers),  # built here, kept by nobody else: no copy
            content=self.codec.encode(body),
            timeout=timeout,
            deadline=None if deadline is None else time.monotonic() + deadline,
        )
        call = CallState(operation, request, body, token, subject, retry)
        call.events = observe(
            self.hooks,
            operation.name,
            effect=operation.effect,
            request_id=call.request_id,
            subject=subject,
        )
        return call

    async def _attempt(self, call: CallState[T]) -> T:
        """One attempt: send, decode, or raise what the failure becomes (see ``_outcomes``)."""
        if self.lifecycle.state == "closed":  # closed while the call waited to retry
            raise ClientClosedError(operation=call.operation.name)
        call.attempts += 1
        if call.events is not None:
            call.events.request(call.attempts)
        started = time.perf_counter()
        response: Response | None = None
        outcome = "error"
        try:
            try:
                response = await self._send(call.request)
            except TransportError as exc:
                raise from_transport(
                    call.operation.name, exc, effect=call.operation.effect
                ) from exc
            outcome = str(response.status)
            # Read on any status: a 4003 "too many" may ride on HTTP 200.
            header = response.headers.get("retry-after")
            result: T = self.codec.decode(
                response.status,
                response.content,
                call.operation.result,
                operation=call.operation.name,
                retry_after=None if header is None else parse_retry_after(header),
            )
            self._succeeded(call, response)
        except VlensError as failure:
            if response is None:
                outcome = type(failure).__name__
            self._fail(call, failure, response)
        finally:
            if logger.isEnabledFor(logging.DEBUG):
                _log_attempt(call, outcome, started)
        return result

    async def _send(self, request: Request) -> Response:
        """The transport's send, under the rate limiter's permit when there is one."""
        limiter = self.rate_limiter
        if limiter is None:
            return await self.transport.send(request)
        async with contextlib.AsyncExitStack() as permit:  # held until the answer is back
            await _take_permit(permit, limiter, request.deadline)
            return await self.transport.send(request)

    def _succeeded(self, call: CallState[Any], response: Response) -> None:
        """Tell the hooks, the limiter and a capture_response() block of a good answer."""
        if call.events is not None:
            call.events.response(response.status)
        if self.rate_limiter is not None:
            self.rate_limiter.succeeded()
        holder = captured()
        if holder is not None:
            holder.response = raw_response(
                response.status, response.headers, response.content, self._secrets(call)
            )

    def _secrets(self, call: CallState[Any]) -> list[str]:
        return secrets_of(call.body, self.headers.get("ApiKey"), call.token)

    def _fail(
        self, call: CallState[Any], failure: VlensError, response: Response | None
    ) -> NoReturn:
        """Raise what a failed attempt becomes: a retry signal, the error, or outcome unknown."""
        secrets = self._secrets(call)
        redact_error(failure, secrets)
        failure.request_id = call.request_id
        if response is not None:
            self._answered(call, failure, response, secrets)
        operation = call.operation
        verdict = judge(failure, effect=operation.effect)
        if self.lifecycle.state == "closed" and verdict is not Verdict.FINAL:
            fail_closed(operation.name, failure, verdict)  # aclose() ran during the attempt
        if verdict is Verdict.RETRY and call.attempts < call.retry.max_attempts:
            deadline = call.request.deadline
            signal = Retryable(
                failure,
                wait=call.retry.wait_before(call.attempts, getattr(failure, "retry_after", None)),
                remaining=None if deadline is None else deadline - time.monotonic(),
            )
            if call.events is not None and not signal.gives_up:
                call.events.retry(signal.wait, failure)
            raise signal
        if verdict is Verdict.UNKNOWN:
            reason = reason_of(failure)
            raise OutcomeUnknownError(operation.name, reason, error=failure) from failure
        raise failure  # final, or retryable with no attempt left

    def _answered(
        self, call: CallState[Any], failure: VlensError, response: Response, secrets: list[str]
    ) -> None:
        """Keep the answer on the error; tell the hooks, the limiter and a capture block."""
        raw = raw_response(response.status, response.headers, response.content, secrets)
        failure.response = raw
        failure.server_request_id = server_request_id(raw.headers)  # redacted: a proxy may echo
        if isinstance(failure, VlensAPIError):
            failure.vlens_code = envelope_code(response.content)
        if call.events is not None:
            call.events.response(response.status, failure)
        if self.rate_limiter is not None and isinstance(failure, RateLimitedError):
            self.rate_limiter.slow_down(failure.retry_after)
        holder = captured()
        if holder is not None:
            holder.response = raw


async def _take_permit(
    permit: contextlib.AsyncExitStack, limiter: Limiter, deadline: float | None
) -> None:
    """Enter ``limiter`` on ``permit``, waiting no longer than the call's deadline: a handler
    under ``RetryPolicy.interactive()`` must not queue for minutes behind a busy budget."""
    if deadline is None:
        await permit.enter_async_context(limiter)
        return
    loop = asyncio.get_running_loop()
    try:
        async with timeout_at(loop.time() + deadline - time.monotonic()):
            await permit.enter_async_context(limiter)
    except asyncio.TimeoutError:
        raise ConnectError("no rate-limit permit before the call's deadline") from None


def _stamp(error: VlensError, request_id: str) -> None:
    """Give the error raised to the caller (and the one it wraps) the call's request id."""
    for each in (error, getattr(error, "error", None)):
        if isinstance(each, VlensError) and each.request_id is None:
            each.request_id = request_id
            if isinstance(each, OutcomeUnknownError) and each.error is not None:
                each.server_request_id = each.error.server_request_id


def _log_attempt(call: CallState[Any], outcome: str, started: float) -> None:
    logger.debug(
        "%s attempt=%d status=%s elapsed=%.1fms request_id=%s subject=%s",
        call.operation.name,
        call.attempts,
        outcome,
        (time.perf_counter() - started) * 1000,
        call.request_id,
        mask_contact(call.subject),
    )
