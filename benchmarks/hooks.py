"""The added cost of hooks per call: ``python -m benchmarks.hooks`` (needs opentelemetry-sdk).

Drives the events of 10,000 synthetic calls through the observer the pipeline uses, with no
hooks, with a no-op :class:`VlensHooks`, and with :class:`OpenTelemetryHooks` exporting to the
OpenTelemetry SDK's in-memory exporters; for scale, also times a sandbox call in memory.
"""

from __future__ import annotations

import asyncio
import functools
import time
import timeit
from collections.abc import Callable

from opentelemetry import context, metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from vlens_async import ServerError
from vlens_async._observe import observe
from vlens_async.hooks import (
    CallStartEvent,
    ErrorEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    SuccessEvent,
    VlensHooks,
)
from vlens_async.otel import OpenTelemetryHooks
from vlens_async.sandbox import Sandbox

CALLS = 10_000
REPEATS = 5
PHONE = "+201001234567"
BUSY = ServerError(503, None, http_status=503)


def first_try(hooks: VlensHooks | None) -> None:
    """A call's events when it succeeds at once, as the pipeline reports them."""
    call = observe(
        hooks, "registration.check_existence", effect=False, request_id="r", subject=PHONE
    )
    if call is not None:
        call.request(1)
    if call is not None:
        call.response(200)
    if call is not None:
        call.success()


def after_a_retry(hooks: VlensHooks | None) -> None:
    """A call's events when the first attempt is answered 503 and the second succeeds."""
    call = observe(
        hooks, "registration.check_existence", effect=False, request_id="r", subject=PHONE
    )
    if call is not None:
        call.request(1)
        call.response(503, BUSY)
        call.retry(0.0, BUSY)
        call.request(2)
        call.response(200)
        call.success()


def per_call(function: Callable[[], object], reset: Callable[[], object] = lambda: None) -> float:
    """Best of REPEATS timings of CALLS calls, in microseconds per call.

    CPU time of this process, not wall time: on a shared machine other processes then
    distort the figure less.
    """
    best = float("inf")
    for _ in range(REPEATS):
        reset()
        best = min(best, timeit.timeit(function, number=CALLS, timer=time.process_time))
    return best / CALLS * 1e6


def sandbox_call() -> float:
    """Microseconds per ``check_existence`` through the sandbox in memory (for scale)."""

    async def run() -> float:
        async with Sandbox().client() as vlens:
            await vlens.registration.check_existence(phone_number=PHONE)
            started = time.process_time()
            for _ in range(CALLS // 5):
                await vlens.registration.check_existence(phone_number=PHONE)
            return (time.process_time() - started) / (CALLS // 5) * 1e6

    return asyncio.run(run())


class Everything(VlensHooks):
    """Overrides every hook with nothing: the cost of building and delivering each event."""

    def on_call_start(self, event: CallStartEvent) -> None:
        pass

    def on_request(self, event: RequestEvent) -> None:
        pass

    def on_response(self, event: ResponseEvent) -> None:
        pass

    def on_retry(self, event: RetryEvent) -> None:
        pass

    def on_success(self, event: SuccessEvent) -> None:
        pass

    def on_error(self, event: ErrorEvent) -> None:
        pass


def floor(tracer: trace.Tracer, histogram: metrics.Histogram) -> Callable[[], None]:
    """The same span and duration written with the OpenTelemetry API directly."""

    def call() -> None:
        span = tracer.start_span("registration.check_existence", kind=trace.SpanKind.CLIENT)
        token = context.attach(trace.set_span_in_context(span))
        context.detach(token)
        span.set_attributes({"vlens.outcome": "success", "vlens.attempts": 1})
        histogram.record(0.001, {"vlens.operation": "registration.check_existence"})
        span.end()

    return call


def main() -> None:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    otel = OpenTelemetryHooks(tracer_provider=tracer_provider, meter_provider=meter_provider)
    rows: list[tuple[str, VlensHooks | None]] = [
        ("no hooks", None),
        ("VlensHooks() (overrides nothing)", VlensHooks()),
        ("every hook overridden, doing nothing", Everything()),
        ("OpenTelemetryHooks (in-memory SDK exporters)", otel),
    ]
    print(f"{CALLS} calls, best of {REPEATS}, microseconds of CPU time per call:")
    print("| hooks | first_try | after_a_retry |")
    print("|---|---|---|")
    for name, hooks in rows:
        first = per_call(functools.partial(first_try, hooks), spans.clear)
        retried = per_call(functools.partial(after_a_retry, hooks), spans.clear)
        print(f"| {name} | {first:.2f} | {retried:.2f} |")
    tracer = tracer_provider.get_tracer("floor")
    histogram = meter_provider.get_meter("floor").create_histogram("floor", unit="s")
    direct = per_call(floor(tracer, histogram), spans.clear)
    print(f"| floor: one span and one record, OpenTelemetry API directly | {direct:.2f} | |")
    print(f"\nFor scale, one sandbox check_existence in memory: {sandbox_call():.1f} us")
    tracer_provider.shutdown()
    meter_provider.shutdown()


if __name__ == "__main__":
    main()
