"""OpenTelemetryHooks: one client span per call and the call metrics, with no secret in them."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from vlens_async import (
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    VlensTimeoutError,
)
from vlens_async._observe import CallObserver, observe
from vlens_async.hooks import VlensHooks, combine_hooks
from vlens_async.otel import OpenTelemetryHooks

PHONE = "+201001234567"
OPERATION = "registration.send_phone_otp"


@attrs.define
class Telemetry:
    """The hooks under test and what they exported."""

    hooks: OpenTelemetryHooks
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Each metric's data points: (attributes, the point)."""
        data = self.metrics.get_metrics_data()
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = [
                        (dict(point.attributes or {}), point) for point in metric.data.data_points
                    ]
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    hooks = OpenTelemetryHooks(tracer_provider=tracer_provider, meter_provider=meter_provider)
    yield Telemetry(hooks, spans, reader, tracer_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def start(hooks: VlensHooks, *, effect: bool = True, request_id: str = "req-1") -> CallObserver:
    call = observe(hooks, OPERATION, effect=effect, request_id=request_id, subject=PHONE)
    assert call is not None
    return call


def success_first_try(hooks: VlensHooks) -> None:
    call = start(hooks)
    call.request(1)
    call.response(200)
    call.success()


def retry_then_success(hooks: VlensHooks) -> None:
    call = start(hooks, effect=False)
    busy = ServerError(503, None, http_status=503, operation=OPERATION)
    call.request(1)
    call.response(503, busy)
    call.retry(0.25, busy)
    call.request(2)
    call.response(200)
    call.success()


def refused_after_retries(hooks: VlensHooks) -> None:
    call = start(hooks)
    for attempt in (1, 2, 3):
        limited = RateLimitedError(
            4003, f"too many texts to {PHONE}", http_status=200, operation=OPERATION
        )
        call.request(attempt)
        call.response(200, limited)
        if attempt < 3:
            call.retry(2.0, limited)
    call.failure(limited)


def outcome_unknown(hooks: VlensHooks) -> None:
    call = start(hooks)
    call.request(1)
    call.response(500, ServerError(5000, "internal error", http_status=500, operation=OPERATION))
    call.failure(OutcomeUnknownError(OPERATION, "HTTP 500"))


def test_success_first_try(telemetry: Telemetry) -> None:
    """One CLIENT span named after the operation, status unset, with the call's attributes."""
    success_first_try(telemetry.hooks)
    [span] = telemetry.finished()
    assert span.name == OPERATION
    assert span.kind is trace.SpanKind.CLIENT
    assert span.status.status_code is trace.StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "vlens.operation": OPERATION,
        "vlens.effect": True,
        "vlens.request_id": "req-1",
        "vlens.outcome": "success",
        "vlens.attempts": 1,
        "http.response.status_code": 200,
    }
    assert span.events == ()
    points = telemetry.points()
    [(labels, duration)] = points["vlens.client.call.duration"]
    assert labels == {"vlens.operation": OPERATION, "vlens.outcome": "success"}
    assert isinstance(duration, HistogramDataPoint)
    assert duration.count == 1
    assert duration.explicit_bounds[:2] == (0.005, 0.01)  # seconds, not milliseconds
    assert "vlens.client.call.errors" not in points
    assert "vlens.client.call.retries" not in points


def test_retry_then_success(telemetry: Telemetry) -> None:
    """The retry is a span event; the retries counter counts it under the call's outcome."""
    retry_then_success(telemetry.hooks)
    [span] = telemetry.finished()
    assert span.status.status_code is trace.StatusCode.UNSET
    assert span.attributes is not None
    assert span.attributes["vlens.attempts"] == 2
    assert span.attributes["http.response.status_code"] == 200
    [event] = span.events
    assert event.name == "vlens.retry"
    assert dict(event.attributes or {}) == {
        "vlens.attempt": 1,
        "vlens.retry.wait": 0.25,
        "error.type": "ServerError",
        "http.response.status_code": 503,
    }
    [(labels, retries)] = telemetry.points()["vlens.client.call.retries"]
    assert labels == {"vlens.operation": OPERATION, "vlens.outcome": "success"}
    assert retries.value == 1


def test_refused_after_retries(telemetry: Telemetry) -> None:
    """A final refusal: status ERROR, error.type, the Vlens code, errors and retries counted."""
    refused_after_retries(telemetry.hooks)
    [span] = telemetry.finished()
    assert span.status.status_code is trace.StatusCode.ERROR
    assert span.attributes is not None
    assert {key: span.attributes[key] for key in span.attributes if key != "vlens.request_id"} == {
        "vlens.operation": OPERATION,
        "vlens.effect": True,
        "vlens.outcome": "refused",
        "error.type": "RateLimitedError",
        "vlens.attempts": 3,
        "http.response.status_code": 200,
        "vlens.error_code": 4003,
    }
    assert len(span.events) == 2
    points = telemetry.points()
    failed = {"vlens.operation": OPERATION, "vlens.outcome": "refused"}
    assert points["vlens.client.call.errors"][0][0] == {**failed, "error.type": "RateLimitedError"}
    assert points["vlens.client.call.errors"][0][1].value == 1
    assert points["vlens.client.call.retries"][0][0] == failed
    assert points["vlens.client.call.retries"][0][1].value == 2
    assert points["vlens.client.call.duration"][0][0]["vlens.outcome"] == "refused"


def test_outcome_unknown(telemetry: Telemetry) -> None:
    """An effect answered 500 ends unknown, with the 500 and the Vlens code on the span."""
    outcome_unknown(telemetry.hooks)
    [span] = telemetry.finished()
    assert span.status.status_code is trace.StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["vlens.outcome"] == "unknown"
    assert span.attributes["error.type"] == "OutcomeUnknownError"
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["vlens.error_code"] == 5000
    assert span.status.description == "OutcomeUnknownError"


@pytest.mark.parametrize(
    ("error", "outcome", "error_type"),
    [
        (asyncio.CancelledError(), "cancelled", "CancelledError"),
        (VlensTimeoutError("no answer"), "error", "VlensTimeoutError"),
    ],
)
def test_failure_without_an_answer(
    telemetry: Telemetry, error: BaseException, outcome: str, error_type: str
) -> None:
    """A call that ends without any HTTP answer still ends its span, with no status code."""
    call = start(telemetry.hooks)
    call.request(1)
    call.failure(error)
    [span] = telemetry.finished()
    assert span.status.status_code is trace.StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["vlens.outcome"] == outcome
    assert span.attributes["error.type"] == error_type
    assert "http.response.status_code" not in span.attributes


def test_the_span_is_current_during_the_call(telemetry: Telemetry) -> None:
    """A span started during the call (an instrumented transport's) is its child."""
    call = start(telemetry.hooks)
    http = telemetry.tracer_provider.get_tracer("transport").start_span("POST")
    http.end()
    call.success()
    assert trace.get_current_span() is trace.INVALID_SPAN  # the context is restored
    child, parent = telemetry.finished()
    assert child.parent is not None
    assert parent.context is not None
    assert child.parent.span_id == parent.context.span_id


def test_concurrent_calls_get_their_own_spans(telemetry: Telemetry) -> None:
    """Calls interleaved on one loop end the right spans, each with its own request id."""

    async def one_call(request_id: str) -> None:
        call = start(telemetry.hooks, request_id=request_id)
        call.request(1)
        await asyncio.sleep(0)
        call.response(200)
        call.success()

    async def main() -> None:
        await asyncio.gather(*(one_call(f"req-{n}") for n in range(5)))

    asyncio.run(main())
    spans = telemetry.finished()
    assert sorted(str((span.attributes or {})["vlens.request_id"]) for span in spans) == [
        f"req-{n}" for n in range(5)
    ]
    assert all(span.parent is None for span in spans)


def test_no_secret_or_personal_data_in_any_attribute(telemetry: Telemetry) -> None:
    """Across every scenario, no attribute or description holds the phone, masked or not."""
    for scenario in (success_first_try, retry_then_success, refused_after_retries):
        scenario(telemetry.hooks)
    outcome_unknown(telemetry.hooks)
    exported: list[object] = []
    for span in telemetry.finished():
        exported += [span.name, span.status.description, *(span.attributes or {}).values()]
        for event in span.events:
            exported += [*(event.attributes or {}).values()]
    for points in telemetry.points().values():
        for labels, _ in points:
            exported += [*labels.values()]
    assert len(exported) > 40
    text = " ".join(map(str, exported))
    for personal in (PHONE, "1001234567", "+20*******567", "567 "):
        assert personal not in text


def test_combined_with_a_raising_hook(telemetry: Telemetry) -> None:
    """A user's broken hook next to OpenTelemetryHooks does not cost the span."""

    class Broken(VlensHooks):
        def on_call_start(self, event: object) -> None:
            raise RuntimeError("boom")

    hooks = combine_hooks([Broken(), telemetry.hooks])
    assert hooks is not None
    success_first_try(hooks)
    assert len(telemetry.finished()) == 1


def test_without_the_extra_the_import_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing vlens_async.otel without OpenTelemetry says which extra to install."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # None makes the import fail
    monkeypatch.delitem(sys.modules, "vlens_async.otel")
    with pytest.raises(ImportError, match=r"pip install 'vlens-async\[otel\]'"):
        importlib.import_module("vlens_async.otel")
