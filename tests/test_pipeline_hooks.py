"""Hooks wired into the call pipeline: events of real calls, in order, through a client; the
OpenTelemetry hooks end to end over the sandbox; VLENS_LOG at import (issue 15 item 6)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from vlens_async import (
    InvalidRequestError,
    OutcomeUnknownError,
    RequestEvent,
    ResponseEvent,
    RetryPolicy,
    VlensClient,
    VlensHooks,
)
from vlens_async.sandbox import Sandbox
from vlens_async.testing import envelope_response
from vlens_transports import FakeTransport, Request, Response

from ._hooks_recorder import Recorder
from .conftest import make_client
from .test_otel import Telemetry, telemetry  # noqa: F401 - the fixture, shared

PHONE = "+201001234567"
EMAIL = "mona@example.com"


def answers(*responses: Response | type[BaseException]) -> Any:
    steps = list(responses)

    async def handler(request: Request) -> Response:
        step = steps.pop(0) if steps else envelope_response({"exists": True})
        if isinstance(step, type):
            raise step()
        return step

    return handler


async def test_a_retried_call_reports_each_attempt_in_order() -> None:
    """start, request/response/retry for the 503, request/response for the 200, success."""
    recorder = Recorder()
    client, transport = make_client(answers(Response(status=503)), hooks=recorder)
    async with client:
        await client.registration.check_existence(email=EMAIL)
    assert recorder.kinds() == [
        "CallStart",
        "Request",
        "Response",
        "Retry",
        "Request",
        "Response",
        "Success",
    ]
    sent = transport.requests[0].headers["X-Request-Id"]
    assert {event.request_id for event in recorder.events} == {sent}
    assert [e.status for e in recorder.events if isinstance(e, ResponseEvent)] == [503, 200]
    assert recorder.events[-1].attempts == 2
    assert recorder.events[3].wait >= 0
    assert recorder.events[0].subject == "m***@example.com"


async def test_an_unknown_outcome_is_reported_as_such() -> None:
    """An effect answered 500 ends with one on_error, outcome unknown, no retry event."""
    recorder = Recorder()
    client, _ = make_client(answers(Response(status=500)), hooks=recorder)
    async with client:
        with pytest.raises(OutcomeUnknownError):
            await client.registration.send_phone_otp(PHONE)
    assert recorder.kinds() == ["CallStart", "Request", "Response", "Error"]
    error = recorder.events[-1]
    assert (error.outcome, error.status, error.attempts) == ("unknown", 500, 1)
    assert PHONE not in repr(recorder.events)


async def test_a_cancelled_call_ends_with_on_error_cancelled() -> None:
    """Cancelling the caller's task reports outcome cancelled, once."""
    recorder = Recorder()
    entered = asyncio.Event()

    async def hang(request: Request) -> Response:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    client, _ = make_client(hang, hooks=recorder)
    async with client:
        task = asyncio.ensure_future(client.registration.check_existence(email=EMAIL))
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert recorder.kinds() == ["CallStart", "Request", "Error"]
    assert recorder.events[-1].outcome == "cancelled"


async def test_copies_keep_the_hooks_and_lists_combine() -> None:
    """with_options copies report to the client's hooks; a list calls each hook in order."""
    first, second = Recorder(), Recorder()
    client, _ = make_client(answers(), hooks=[first, second])
    async with client:
        await client.with_options(retry=None).registration.check_existence(email=EMAIL)
    assert first.kinds() == second.kinds() == ["CallStart", "Request", "Response", "Success"]


async def test_a_raising_hook_does_not_break_a_call(caplog: pytest.LogCaptureFixture) -> None:
    """A hook that raises is logged; the call returns its result."""

    class Broken(VlensHooks):
        def on_request(self, event: RequestEvent) -> None:
            raise RuntimeError("boom")

    client, _ = make_client(answers(), hooks=Broken())
    async with client:
        result = await client.registration.check_existence(email=EMAIL)
    assert result.exists is True
    assert any("boom" in record.getMessage() for record in caplog.records)


async def test_opentelemetry_end_to_end_over_the_sandbox(telemetry: Telemetry) -> None:  # noqa: F811
    """One span per call through a sandbox client: attempts, status, error code, outcome and
    the request id that went on the wire."""
    sandbox = Sandbox()
    sandbox.faults.rate_limit(retry_after=0, match="StepVerifyPhone", times=1)
    recording = FakeTransport(sandbox.handle)  # sandbox.client() keeps no request record
    async with VlensClient(
        sandbox.api_keys[0],
        base_url="https://sandbox.vlens.test",
        transport=recording,
        retry=RetryPolicy.no_wait(),
        hooks=telemetry.hooks,
    ) as vlens:
        sent = await vlens.registration.send_phone_otp(PHONE)
        with pytest.raises(InvalidRequestError) as refused:
            await vlens.registration.validate_phone_otp(
                PHONE, sent.phone_number_otp_request_id or uuid.uuid4(), "000000"
            )
    assert isinstance(vlens.transport, FakeTransport)
    ids = [request.headers["X-Request-Id"] for request in vlens.transport.requests]
    assert ids[0] == ids[1] != ids[2]
    first, second = telemetry.finished()
    assert first.name == "registration.send_phone_otp"
    assert first.attributes is not None
    assert first.attributes["vlens.attempts"] == 2
    assert first.attributes["vlens.outcome"] == "success"
    assert first.attributes["http.response.status_code"] == 200
    assert first.attributes["vlens.request_id"] == ids[0]
    assert first.status.is_ok
    assert len(first.events) == 1
    assert first.events[0].name == "vlens.retry"
    assert second.attributes is not None
    assert second.attributes["vlens.outcome"] == "refused"
    assert second.attributes["vlens.request_id"] == ids[2] == refused.value.request_id
    assert second.attributes["vlens.error_code"] == refused.value.code
    assert second.attributes["error.type"] == "InvalidRequestError"
    assert not second.status.is_ok
    durations = telemetry.points()["vlens.client.call.duration"]
    assert sum(point.count for _, point in durations) == 2


def test_vlens_log_is_configured_by_the_import_alone() -> None:
    """VLENS_LOG=debug and a bare `import vlens_async` put one handler on its logger."""
    code = "import logging, vlens_async; print(len(logging.getLogger('vlens_async').handlers))"
    env = {**os.environ, "VLENS_LOG": "debug"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "1"
