"""Hooks: the events a call reports, in order, masked, and hooks that raise never break it."""

from __future__ import annotations

import asyncio
import logging

import attrs
import pytest

from vlens_async import (
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    VlensConnectionError,
    VlensInputError,
    VlensTimeoutError,
)
from vlens_async._observe import CallObserver, observe
from vlens_async.hooks import (
    CallStartEvent,
    CompositeHooks,
    ErrorEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    SuccessEvent,
    VlensHooks,
    combine_hooks,
)

from ._hooks_recorder import Recorder

PHONE = "+201001234567"
MASKED_PHONE = "+20*******567"


class _DeadlineExceeded(VlensTimeoutError):
    """Like the pipeline's private class of the same name: named by its public base."""


class Broken(VlensHooks):
    """Raises from every hook, with a phone number in the message."""

    def on_call_start(self, event: CallStartEvent) -> None:
        raise RuntimeError(f"cannot export call for {PHONE}")

    def on_success(self, event: SuccessEvent) -> None:
        raise KeyError("missing")


def start(hooks: VlensHooks, subject: str | None = PHONE, effect: bool = False) -> CallObserver:
    call = observe(
        hooks, "registration.send_phone_otp", effect=effect, request_id="req-1", subject=subject
    )
    assert call is not None
    return call


def test_no_hooks_no_observer() -> None:
    """Without hooks the pipeline gets None and builds no event at all."""
    assert observe(None, "op", effect=False, request_id="r", subject=PHONE) is None


def test_hooks_that_override_nothing_are_not_observed() -> None:
    """A bare VlensHooks (or a list of them) costs a call nothing: no observer is made."""
    bare = combine_hooks([VlensHooks(), VlensHooks()])
    assert bare is not None
    assert observe(bare, "op", effect=False, request_id="r", subject=PHONE) is None


def test_only_overridden_hooks_get_events() -> None:
    """A class overriding on_success alone is given the success, with the attempt count."""

    class Successes(VlensHooks):
        def __init__(self) -> None:
            self.events: list[SuccessEvent] = []

        def on_success(self, event: SuccessEvent) -> None:
            self.events.append(event)

    hooks = Successes()
    call = start(hooks)
    call.request(1)
    call.response(200)
    call.request(2)
    call.response(200)
    call.success()
    [event] = hooks.events
    assert (event.attempts, event.status) == (2, 200)


def test_success_on_the_first_attempt() -> None:
    """start, request, response, success: one call id, request id and masked subject."""
    recorder = Recorder()
    call = start(recorder)
    call.request(1)
    call.response(200)
    call.success()
    assert recorder.kinds() == ["CallStart", "Request", "Response", "Success"]
    first, request, response, success = recorder.events
    assert isinstance(first, CallStartEvent)
    assert {(e.call_id, e.request_id, e.subject) for e in recorder.events} == {
        (first.call_id, "req-1", MASKED_PHONE)
    }
    assert isinstance(request, RequestEvent)
    assert request.attempt == 1
    assert isinstance(response, ResponseEvent)
    assert (response.status, response.error, response.error_code) == (200, None, None)
    assert isinstance(success, SuccessEvent)
    assert (success.attempts, success.status, success.operation) == (
        1,
        200,
        "registration.send_phone_otp",
    )
    assert 0 <= request.elapsed <= response.elapsed <= success.elapsed
    assert 0 <= response.attempt_elapsed <= response.elapsed


def test_retry_then_success() -> None:
    """A refused attempt reports its status, code and wait, then the next attempt succeeds."""
    recorder = Recorder()
    call = start(recorder)
    refused = RateLimitedError(4003, "slow down", http_status=200, retry_after=1.0)
    call.request(1)
    call.response(200, refused)
    call.retry(1.0, refused)
    call.request(2)
    call.response(200)
    call.success()
    assert recorder.kinds() == [
        "CallStart",
        "Request",
        "Response",
        "Retry",
        "Request",
        "Response",
        "Success",
    ]
    response, retry = recorder.events[2], recorder.events[3]
    assert isinstance(response, ResponseEvent)
    assert response.error_code == 4003
    assert response.error is refused
    assert isinstance(retry, RetryEvent)
    assert (retry.attempt, retry.wait, retry.status, retry.error_code) == (1, 1.0, 200, 4003)
    assert retry.error_type == "RateLimitedError"
    success = recorder.events[-1]
    assert isinstance(success, SuccessEvent)
    assert success.attempts == 2


def test_a_transport_failure_has_no_status() -> None:
    """An attempt without an answer reports no status, even after an answered attempt."""
    recorder = Recorder()
    call = start(recorder)
    call.request(1)
    call.response(503, ServerError(503, None, http_status=503))
    call.retry(0.5, ServerError(503, None, http_status=503))
    call.request(2)
    broken = VlensConnectionError("connection refused")
    call.retry(0.5, broken)
    call.request(3)
    call.failure(broken)
    retry = recorder.events[-3]
    assert isinstance(retry, RetryEvent)
    assert (retry.attempt, retry.status, retry.error_code, retry.error) == (2, None, None, broken)
    error = recorder.events[-1]
    assert isinstance(error, ErrorEvent)
    assert (error.attempts, error.status, error.outcome, error.error) == (3, None, "error", broken)


@pytest.mark.parametrize(
    ("error", "outcome", "error_type", "kept"),
    [
        (RateLimitedError(429, None, http_status=429), "refused", "RateLimitedError", True),
        (OutcomeUnknownError("op", "HTTP 500"), "unknown", "OutcomeUnknownError", True),
        (VlensTimeoutError("read timed out"), "error", "VlensTimeoutError", True),
        (asyncio.CancelledError(), "cancelled", "CancelledError", False),
        (TypeError("a bug"), "error", "TypeError", False),
        (_DeadlineExceeded("deadline passed"), "error", "VlensTimeoutError", True),
    ],
)
def test_how_a_call_ends(
    error: BaseException, outcome: str, error_type: str, *, kept: bool
) -> None:
    """The error event names the outcome and the error class; only VlensErrors are kept."""
    recorder = Recorder()
    call = start(recorder, effect=True)
    call.request(1)
    call.failure(error)
    event = recorder.events[-1]
    assert isinstance(event, ErrorEvent)
    assert (event.outcome, event.error_type, event.attempts) == (outcome, error_type, 1)
    assert event.error is (error if kept else None)


def test_unknown_outcome_keeps_the_last_answer() -> None:
    """An effect answered 500 ends unknown, with the 500 and its Vlens code on the event."""
    recorder = Recorder()
    call = start(recorder, effect=True)
    call.request(1)
    call.response(500, ServerError(5000, "internal", http_status=500))
    call.failure(OutcomeUnknownError("registration.send_phone_otp", "HTTP 500"))
    event = recorder.events[-1]
    assert isinstance(event, ErrorEvent)
    assert (event.outcome, event.status, event.error_code, event.effect) == (
        "unknown",
        500,
        5000,
        True,
    )


@pytest.mark.parametrize(
    ("subject", "shown"),
    [(PHONE, MASKED_PHONE), ("someone@example.com", "s***@example.com"), (None, None)],
)
def test_subject_is_masked(subject: str | None, shown: str | None) -> None:
    """Events carry the phone number or e-mail masked, never as given."""
    recorder = Recorder()
    start(recorder, subject=subject).success()
    event = recorder.events[0]
    assert isinstance(event, CallStartEvent)
    assert event.subject == shown


def test_events_show_no_personal_data() -> None:
    """No event's repr holds the phone number, even inside an error message."""
    recorder = Recorder()
    call = start(recorder)
    call.request(1)
    refused = RateLimitedError(4003, f"too many texts to {PHONE}", http_status=200)
    call.response(200, refused)
    call.failure(refused)
    assert recorder.events
    for event in recorder.events:
        assert "1001234567" not in repr(event)


def test_each_call_has_its_own_id() -> None:
    """Two calls with the same request id are still told apart by call_id."""
    recorder = Recorder()
    start(recorder).success()
    start(recorder).success()
    starts = [e for e in recorder.events if isinstance(e, CallStartEvent)]
    assert len({e.call_id for e in starts}) == 2


def test_events_are_frozen() -> None:
    """Hooks cannot change what the next hook sees."""
    recorder = Recorder()
    start(recorder).success()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        recorder.events[0].operation = "other"


def test_a_raising_hook_is_logged_masked_and_the_next_hook_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hook's exception is swallowed, logged as a warning with the phone masked."""
    recorder = Recorder()
    hooks = combine_hooks([Broken(), recorder])
    assert hooks is not None
    with caplog.at_level(logging.WARNING, logger="vlens_async"):
        call = start(hooks)
        call.request(1)
        call.response(200)
        call.success()
    assert recorder.kinds()[-1] == "Success"
    assert len(recorder.events) == 4
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "Broken.on_call_start raised RuntimeError" in messages[0]
    assert MASKED_PHONE in messages[0]
    assert PHONE not in messages[0]
    assert "test_hooks.py" in messages[0]
    assert "Broken.on_success raised KeyError" in messages[1]
    assert all(record.name == "vlens_async.hooks" for record in caplog.records)
    assert all(record.exc_info is None for record in caplog.records)


def test_a_single_raising_hook_does_not_break_the_call(caplog: pytest.LogCaptureFixture) -> None:
    """Without a composite around it, a raising hook is still contained."""
    with caplog.at_level(logging.WARNING, logger="vlens_async"):
        start(Broken()).success()
    assert len(caplog.records) == 2


def test_a_cancellation_inside_a_hook_is_not_swallowed() -> None:
    """Only Exceptions are contained: a hook may still be cancelled with its task."""

    class Cancelled(VlensHooks):
        def on_request(self, event: RequestEvent) -> None:
            raise asyncio.CancelledError

    call = start(Cancelled())
    with pytest.raises(asyncio.CancelledError):
        call.request(1)


def test_a_misspelt_hook_fails_at_class_creation() -> None:
    """``on_retries`` would never be called: the class statement says so."""
    with pytest.raises(TypeError, match=r"on_retries, which is not a hook; the hooks are"):

        class Typo(VlensHooks):
            def on_retries(self, event: RetryEvent) -> None: ...


def test_combine_hooks() -> None:
    """None, one hooks object, or a list becomes what the client keeps."""
    one, two = Recorder(), Recorder()
    assert combine_hooks(None) is None
    assert combine_hooks([]) is None
    assert combine_hooks(one) is one
    assert combine_hooks([one]) is one
    both = combine_hooks((one, two))
    assert isinstance(both, CompositeHooks)
    assert both.hooks == (one, two)


@pytest.mark.parametrize(
    ("hooks", "field"),
    [(print, "hooks"), ("on_request", "hooks"), ([Recorder(), print], r"hooks\[1\]")],
)
def test_combine_hooks_names_a_bad_value(hooks: object, field: str) -> None:
    """Anything but VlensHooks is refused with the field named, before any call."""
    with pytest.raises(VlensInputError, match=rf"^{field}: expected a VlensHooks instance"):
        combine_hooks(hooks)  # type: ignore[arg-type]
