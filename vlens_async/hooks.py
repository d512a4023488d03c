"""Hooks: your code, told about every call the client makes (for logs, metrics, traces).

Subclass :class:`VlensHooks`, override the methods you need, and pass an instance (or a list
of them, called in order) to the client::

    class SlowCalls(VlensHooks):
        def on_success(self, event: SuccessEvent) -> None:
            if event.elapsed > 1.0:
                log.warning("slow %s: %.1fs", event.operation, event.elapsed)

    VlensClient(api_key, hooks=[SlowCalls(), OpenTelemetryHooks()])

For one call the methods are called in this order, all in the task making the call::

    on_call_start
    on_request, then on_response if an HTTP answer came, then on_retry if one is decided
        (repeated for each attempt)
    on_success or on_error: exactly one, always (also when the call is cancelled)

Events are frozen values that never hold a secret: no body, header, OTP, token or password;
phone numbers and e-mails are masked; errors are :class:`~vlens_async.VlensError` whose
messages are already redacted.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import attrs

from ._errors import VlensError, VlensInputError
from ._redact import mask_contacts_in

__all__ = [
    "CallEvent",
    "CallStartEvent",
    "CompositeHooks",
    "ErrorEvent",
    "Outcome",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "SuccessEvent",
    "VlensHooks",
]

logger = logging.getLogger("vlens_async.hooks")

Outcome = Literal["success", "refused", "unknown", "error", "cancelled"]
"""How a call ended: ``success``; ``refused`` (Vlens answered with an error code: a
:class:`~vlens_async.VlensAPIError`); ``unknown`` (an
:class:`~vlens_async.OutcomeUnknownError`: the effect may have happened); ``error`` (any other
failure: transport, timeout, unreadable response); ``cancelled`` (the caller cancelled)."""


@attrs.frozen(kw_only=True)
class CallEvent:
    """What every event carries (the base of the six event classes).

    Attributes:
        call_id: unique to one call in this process: the key for state kept across its events.
        operation: the SDK's name for the call, e.g. ``"registration.send_phone_otp"``.
        effect: True when the call has a side effect (a text sent, an attempt used).
        request_id: the ``X-Request-Id`` the call sends, the same on every attempt.
        subject: the phone number or e-mail the call is about, masked, or None.
        elapsed: seconds since the call started.
    """

    call_id: int
    operation: str
    effect: bool
    request_id: str
    subject: str | None
    elapsed: float


@attrs.frozen(kw_only=True)
class CallStartEvent(CallEvent):
    """A call starts (its request is built, nothing sent yet)."""


@attrs.frozen(kw_only=True)
class RequestEvent(CallEvent):
    """An attempt's request is about to be sent. ``attempt`` counts from 1."""

    attempt: int


@attrs.frozen(kw_only=True)
class ResponseEvent(CallEvent):
    """An attempt got an HTTP answer, now decoded.

    Attributes:
        attempt: the attempt, from 1.
        status: the HTTP status.
        error_code: the Vlens error code when the answer was a refusal, else None.
        error: the error the answer decoded to, or None when it was a success.
        attempt_elapsed: seconds from this attempt's request to its decoded answer.
    """

    attempt: int
    status: int
    error_code: int | None
    error: VlensError | None
    attempt_elapsed: float


@attrs.frozen(kw_only=True)
class RetryEvent(CallEvent):
    """An attempt failed and another follows after ``wait`` seconds.

    Attributes:
        attempt: the attempt that failed, from 1.
        wait: seconds until the next attempt.
        status: the failed attempt's HTTP status, or None when no answer came.
        error_code: its Vlens error code, or None.
        error_type: its error's class name, e.g. ``"ServerError"``.
        error: its error.
    """

    attempt: int
    wait: float
    status: int | None
    error_code: int | None
    error_type: str
    error: VlensError


@attrs.frozen(kw_only=True)
class SuccessEvent(CallEvent):
    """The call returned its result after ``attempts`` attempts; ``status`` is the last one's."""

    attempts: int
    status: int | None


@attrs.frozen(kw_only=True)
class ErrorEvent(CallEvent):
    """The call ended without a result.

    Attributes:
        attempts: attempts made (0 when none was sent).
        outcome: ``refused``, ``unknown``, ``error`` or ``cancelled`` (see :data:`Outcome`).
        status: the last attempt's HTTP status, or None when it got no answer.
        error_code: the last answer's Vlens error code, or None.
        error_type: the exception's class name, e.g. ``"RateLimitedError"`` (a private
            subclass by its public base: ``"VlensTimeoutError"`` for the deadline).
        error: the error raised to the caller; None when the call was cancelled or failed on
            something other than a VlensError (a bug).
    """

    attempts: int
    outcome: Outcome
    status: int | None
    error_code: int | None
    error_type: str
    error: VlensError | None


class VlensHooks:
    """Subclass this and override the methods you need; the others do nothing.

    Hooks are plain functions called inline on the event loop: keep them quick and never
    block (start a task for slow work). A hook that raises does not break the call: the
    exception is logged as a warning on the ``vlens_async.hooks`` logger (message masked, no
    traceback, the hook's file and line) and the call goes on.

    Only the methods a class overrides (in its body, when the class is made) are called, and
    only their events are built: a hook you do not write costs nothing.
    """

    _overridden: frozenset[str] = frozenset()  # the hook points worth building events for

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A misspelt hook would never be called; say so when the class is made.
        unknown = sorted(
            name for name in vars(cls) if name.startswith("on_") and name not in _HOOK_POINTS
        )
        if unknown:
            raise TypeError(
                f"{cls.__qualname__} defines {', '.join(unknown)}, which is not a hook; "
                f"the hooks are {', '.join(_HOOK_POINTS)}"
            )
        cls._overridden = frozenset(
            name for name in _HOOK_POINTS if getattr(cls, name) is not getattr(VlensHooks, name)
        )

    def on_call_start(self, event: CallStartEvent) -> None:
        """A call starts."""

    def on_request(self, event: RequestEvent) -> None:
        """An attempt is about to be sent."""

    def on_response(self, event: ResponseEvent) -> None:
        """An attempt got an HTTP answer."""

    def on_retry(self, event: RetryEvent) -> None:
        """An attempt failed and will be retried after ``event.wait`` seconds."""

    def on_success(self, event: SuccessEvent) -> None:
        """The call returned its result."""

    def on_error(self, event: ErrorEvent) -> None:
        """The call ended with an error (or was cancelled)."""


_HOOK_POINTS = tuple(name for name in vars(VlensHooks) if name.startswith("on_"))

E = TypeVar("E", bound=CallEvent)


class CompositeHooks(VlensHooks):
    """Several hooks called in order, each isolated: one that raises does not stop the next.

    ``VlensClient(hooks=[a, b])`` builds one of these for you.
    """

    def __init__(self, hooks: Sequence[VlensHooks]) -> None:
        self.hooks = tuple(hooks)
        self._overridden = frozenset[str]().union(*(h._overridden for h in self.hooks))

    def _fan_out(self, name: str, event: CallEvent) -> None:
        for hooks in self.hooks:
            deliver(getattr(hooks, name), event)

    def on_call_start(self, event: CallStartEvent) -> None:
        self._fan_out("on_call_start", event)

    def on_request(self, event: RequestEvent) -> None:
        self._fan_out("on_request", event)

    def on_response(self, event: ResponseEvent) -> None:
        self._fan_out("on_response", event)

    def on_retry(self, event: RetryEvent) -> None:
        self._fan_out("on_retry", event)

    def on_success(self, event: SuccessEvent) -> None:
        self._fan_out("on_success", event)

    def on_error(self, event: ErrorEvent) -> None:
        self._fan_out("on_error", event)


def combine_hooks(hooks: VlensHooks | Sequence[VlensHooks] | None) -> VlensHooks | None:
    """The one hooks object a client keeps: None, the hooks given, or a CompositeHooks."""
    if hooks is None or isinstance(hooks, VlensHooks):
        return hooks
    if not isinstance(hooks, (list, tuple)):
        raise VlensInputError("hooks", "expected a VlensHooks instance or a list of them")
    for index, item in enumerate(hooks):
        if not isinstance(item, VlensHooks):
            raise VlensInputError(
                f"hooks[{index}]", f"expected a VlensHooks instance, got {type(item).__name__}"
            )
    if not hooks:
        return None
    return hooks[0] if len(hooks) == 1 else CompositeHooks(hooks)


def implemented(hooks: VlensHooks) -> frozenset[str]:
    """The hook points ``hooks`` overrides: the only events worth building for it."""
    return hooks._overridden


def deliver(hook: Callable[[E], object], event: E) -> None:
    """Call one hook; log (masked) and swallow what it raises, so the call goes on."""
    try:
        hook(event)
    except Exception as exc:  # noqa: BLE001 - a hook's bug must never break the call
        where = traceback.extract_tb(exc.__traceback__)[-1]
        logger.warning(
            "hook %s raised %s: %s (%s:%s); the call goes on",
            getattr(hook, "__qualname__", repr(hook)),
            type(exc).__name__,
            # A hook sees only events, which hold no secret; mask contacts it may have added.
            mask_contacts_in(str(exc)),
            where.filename,
            where.lineno,
        )
