"""OpenTelemetry for vlens-async: one client span per call, and call metrics.

Needs the ``otel`` extra (``pip install 'vlens-async[otel]'``, the OpenTelemetry API only; your
application brings the SDK and exporters)::

    from vlens_async.otel import OpenTelemetryHooks

    vlens = VlensClient(api_key, hooks=OpenTelemetryHooks())   # the global providers
    vlens = VlensClient(api_key, hooks=[my_hooks, OpenTelemetryHooks(tracer_provider=tp)])
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import Token

try:
    from opentelemetry import context, metrics, trace
    from opentelemetry.util.types import AttributeValue
except ImportError as exc:  # the extra is not installed
    raise ImportError(
        "vlens_async.otel needs the OpenTelemetry API: pip install 'vlens-async[otel]'"
    ) from exc

from ._version import __version__
from .hooks import CallStartEvent, ErrorEvent, RetryEvent, SuccessEvent, VlensHooks

__all__ = ["OpenTelemetryHooks"]

# The semantic conventions' advice for HTTP client durations, stretched to the default
# 60 s deadline: the SDK's default buckets are meant for milliseconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60)

Attributes = dict[str, AttributeValue]


class OpenTelemetryHooks(VlensHooks):
    """Hooks that trace and measure every call through the OpenTelemetry API.

    Span: one per call, kind CLIENT, named after the operation (``registration.send_phone_otp``)
    and current while the call runs, so that the spans of an instrumented HTTP transport nest
    under it. Attributes: ``vlens.operation``, ``vlens.effect``, ``vlens.request_id``,
    ``vlens.attempts``, ``vlens.outcome`` (see :data:`~vlens_async.hooks.Outcome`),
    ``http.response.status_code`` and ``vlens.error_code`` (of the last answer, when there is
    one), ``error.type`` (the exception's class name) on failure, when the status is ERROR.
    Each retry adds a ``vlens.retry`` event (attempt, wait, error type, status).

    Metrics, each with ``vlens.operation`` and ``vlens.outcome`` (plus ``error.type`` on
    failures): ``vlens.client.call.duration`` (histogram, seconds, whole call including
    waits), ``vlens.client.call.errors`` (calls that ended without a result) and
    ``vlens.client.call.retries`` (retries, counted when their call ends).

    No attribute holds a secret or a phone number or e-mail, masked or not; the ERROR
    status's description is the error's class name, never its message.

    Args:
        tracer_provider: where spans go; by default the global one.
        meter_provider: where metrics go; by default the global one.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer("vlens_async", __version__, tracer_provider)
        meter = metrics.get_meter("vlens_async", __version__, meter_provider)
        self._duration = meter.create_histogram(
            "vlens.client.call.duration",
            unit="s",
            description="Duration of Vlens calls, all attempts and waits included.",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self._errors = meter.create_counter(
            "vlens.client.call.errors", unit="{call}", description="Vlens calls that failed."
        )
        self._retries = meter.create_counter(
            "vlens.client.call.retries", unit="{retry}", description="Retries of Vlens calls."
        )
        # call_id -> (span, context token): the calls in progress
        self._calls: dict[int, tuple[trace.Span, Token[context.Context]]] = {}

    def on_call_start(self, event: CallStartEvent) -> None:
        """Start the call's span and make it current."""
        span = self._tracer.start_span(
            event.operation,
            kind=trace.SpanKind.CLIENT,
            attributes={
                "vlens.operation": event.operation,
                "vlens.effect": event.effect,
                "vlens.request_id": event.request_id,
            },
        )
        token = context.attach(trace.set_span_in_context(span))
        self._calls[event.call_id] = (span, token)

    def on_retry(self, event: RetryEvent) -> None:
        """Add a ``vlens.retry`` event to the call's span."""
        call = self._calls.get(event.call_id)
        if call is None:
            return
        attributes: Attributes = {
            "vlens.attempt": event.attempt,
            "vlens.retry.wait": event.wait,
            "error.type": event.error_type,
        }
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        call[0].add_event("vlens.retry", attributes)

    def on_success(self, event: SuccessEvent) -> None:
        """Record the call's metrics and end its span."""
        self._end(event, {"vlens.outcome": "success"}, event.status, None, None)

    def on_error(self, event: ErrorEvent) -> None:
        """Record the call's metrics and end its span with status ERROR."""
        labels: Attributes = {"vlens.outcome": event.outcome, "error.type": event.error_type}
        # Not str(error): a server's message may name the person, even masked.
        self._end(event, labels, event.status, event.error_code, event.error_type)

    def _end(
        self,
        event: SuccessEvent | ErrorEvent,
        labels: Attributes,
        status: int | None,
        error_code: int | None,
        failure: str | None,
    ) -> None:
        labels["vlens.operation"] = event.operation
        self._duration.record(event.elapsed, labels)
        if failure is not None:
            self._errors.add(1, labels)
        if event.attempts > 1:
            self._retries.add(event.attempts - 1, _without_error_type(labels))
        call = self._calls.pop(event.call_id, None)
        if call is None:
            return
        span, token = call
        context.detach(token)
        span.set_attributes({**labels, "vlens.attempts": event.attempts})
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error_code is not None:
            span.set_attribute("vlens.error_code", error_code)
        if failure is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, failure))
        span.end()


def _without_error_type(labels: Mapping[str, AttributeValue]) -> Attributes:
    """Retries are counted by how their call ended, not by its error class."""
    return {key: value for key, value in labels.items() if key != "error.type"}
