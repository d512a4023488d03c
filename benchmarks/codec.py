"""Scenario 4: the codec's cost per call, against the json module alone (the floor)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from vlens_async import Codec, RegistrationState
from vlens_async._requests import PhoneOtpBody

from ._report import Row, ScenarioResult, Settings, micros
from .server import ENVELOPE

__all__ = ["codec"]


def _seconds_per_call(function: Callable[[], object], budget: float, repeats: int = 5) -> float:
    """The best of ``repeats`` timings, each of about ``budget`` seconds, per call."""
    number = 1
    while True:  # grow the loop until one timing takes a tenth of the budget
        started = time.perf_counter()
        for _ in range(number):
            function()
        elapsed = time.perf_counter() - started
        if elapsed >= budget / 10:
            break
        number *= 2
    number = max(1, int(number * budget / elapsed))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - started) / number)
    return best


def codec(settings: Settings) -> ScenarioResult:
    """Scenario 4: decode the StepVerifyPhone envelope and encode a PhoneOtpBody."""
    budget = 0.02 if settings.quick else 0.2
    the_codec = Codec()
    body = PhoneOtpBody(phone_number="+201001234567")
    payload = {"phoneNumber": "+201001234567"}
    decode = _seconds_per_call(lambda: the_codec.decode(200, ENVELOPE, RegistrationState), budget)
    loads = _seconds_per_call(lambda: json.loads(ENVELOPE), budget)
    encode = _seconds_per_call(lambda: the_codec.encode(body), budget)
    dumps = _seconds_per_call(
        lambda: json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(), budget
    )
    rows = [
        Row(
            "Codec.decode(200, envelope, RegistrationState)",
            micros(decode),
            f"decode/json.loads = {decode / loads:.1f}x",
        ),
        Row("json.loads(envelope) (floor)", micros(loads)),
        Row(
            "Codec.encode(PhoneOtpBody(...))",
            micros(encode),
            f"encode/json.dumps = {encode / dumps:.1f}x",
        ),
        Row("json.dumps(dict).encode() (floor)", micros(dumps)),
    ]
    figures: dict[str, float] = {
        "decode_us": decode * 1e6,
        "json_loads_us": loads * 1e6,
        "decode_vs_json_loads": decode / loads,
        "encode_us": encode * 1e6,
        "json_dumps_us": dumps * 1e6,
        "encode_vs_json_dumps": encode / dumps,
    }
    return ScenarioResult(
        name="codec", title="4. Codec, per call (best of 5)", figures=figures, rows=rows
    )
