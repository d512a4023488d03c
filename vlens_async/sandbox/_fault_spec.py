"""Fault specs: the ``--fault`` option of ``vlens sandbox``, a fault schedule written as text.

Example::

    parse_fault_spec("registration.send_phone_otp:status=503:times=2").add_to(sandbox.faults)
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from ._faults import Fault, FaultKind, Faults, check_fault

__all__ = ["FAULT_SPEC_GRAMMAR", "FaultSpec", "parse_fault_spec"]

FAULT_SPEC_GRAMMAR = """\
A fault spec is MATCH:KIND[:OPTION=VALUE]...

MATCH   * for every call, an SDK operation name (registration.send_phone_otp)
        or the end of a request path (Register/StepVerifyPhone).
KIND    latency=SECONDS         answer after SECONDS (the request is processed)
        status=CODE             answer HTTP CODE (200-599) unprocessed; body=html|empty|envelope
                                (204 and 304: body=empty, the only body HTTP lets them have)
        rate_limit[=SECONDS]    answer 429 unprocessed, Retry-After SECONDS (default 1)
        refuse                  refuse unprocessed (over HTTP: 503, empty body, connection closed)
        malformed_json          process, then answer 200 with a body that is not JSON
        drop_after_processing   process, then close the connection without an answer
        truncated_body          process, then send half of the body and close the connection
        oversized_body[=BYTES]  process, then answer with a BYTES-long body (default 2 MiB)
OPTION  times=N                 fire on N matching calls, then stop (default: no limit)
        p=P                     fire on each matching call with probability P, 0 < P <= 1
        seed=N                  seed the draws of p, for reproducible runs
        body=html|empty|envelope  the body of a status fault (default html)

Examples: registration.send_phone_otp:status=503:times=2   *:latency=0.5:p=0.1
"""
"""The ``--fault`` grammar of ``vlens sandbox``, shown in its ``--help``."""

_BODIES = ("html", "empty", "envelope")
_OPTIONS = ("times", "p", "seed", "body")


@attrs.frozen(kw_only=True)
class FaultSpec:
    """A parsed fault spec: the fault and when it fires."""

    fault: Fault
    times: int | None = None
    probability: float = 1.0
    seed: int | None = None

    def add_to(self, faults: Faults) -> Fault:
        """Schedule this fault on ``faults``."""
        return faults.add(
            self.fault, times=self.times, probability=self.probability, seed=self.seed
        )


def parse_fault_spec(spec: str) -> FaultSpec:
    """Read a fault spec (:data:`FAULT_SPEC_GRAMMAR`).

    Raises:
        ValueError: the spec and what is wrong with it.
    """
    try:
        return _parse(spec)
    except ValueError as exc:
        raise ValueError(f"fault {spec!r}: {exc}") from None


def _parse(spec: str) -> FaultSpec:
    match, _, rest = spec.strip().partition(":")
    if not match or not rest or "=" in match:
        raise ValueError("expected MATCH:KIND, such as *:status=503 (MATCH first; * for all)")
    kind_text, *option_texts = rest.split(":")
    kind_name, has_value, value = kind_text.partition("=")
    fields = _kind_fields(kind_name.strip().replace("-", "_"), value if has_value else None)
    options = _options(option_texts)
    if "body" in options:
        if fields["kind"] is not FaultKind.STATUS:
            raise ValueError("body= goes with a status fault only")
        if options["body"] not in _BODIES:
            raise ValueError("body must be html, empty or envelope")
        fields["body"] = options["body"]
    fault = Fault(match=None if match.strip() == "*" else match.strip(), **fields)
    check_fault(fault)
    return FaultSpec(
        fault=fault,
        times=None if "times" not in options else _integer("times", options["times"], 1),
        probability=1.0 if "p" not in options else _probability(options["p"]),
        seed=None if "seed" not in options else _integer("seed", options["seed"], 0),
    )


def _kind_fields(kind: str, value: str | None) -> dict[str, Any]:
    """The Fault fields for a KIND[=VALUE] part."""
    try:
        fault_kind = FaultKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {known}") from None
    if fault_kind is FaultKind.LATENCY:
        return {"kind": fault_kind, "delay": _seconds("latency", _required(kind, value))}
    if fault_kind is FaultKind.STATUS:
        return {"kind": fault_kind, "status": _integer("status", _required(kind, value), 200, 599)}
    if fault_kind is FaultKind.RATE_LIMIT:
        after = 1.0 if value is None else _seconds("rate_limit", value)
        return {"kind": fault_kind, "status": 429, "retry_after": after}
    if fault_kind is FaultKind.OVERSIZED_BODY:
        size = 2 * 1024 * 1024 if value is None else _integer("oversized_body", value, 1)
        return {"kind": fault_kind, "size": size}
    if value is not None:
        raise ValueError(f"{kind} takes no value")
    return (
        {"kind": fault_kind, "status": 503}
        if fault_kind is FaultKind.REFUSE
        else {"kind": fault_kind}
    )


def _options(texts: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for text in texts:
        name, has_value, value = text.partition("=")
        name = "p" if name.strip() == "probability" else name.strip()
        if name not in _OPTIONS or not has_value:
            raise ValueError(
                f"expected OPTION=VALUE with OPTION one of {', '.join(_OPTIONS)}, not {text!r}"
            )
        if name in options:
            raise ValueError(f"{name} is given twice")
        options[name] = value.strip()
    return options


def _required(kind: str, value: str | None) -> str:
    if value is None:
        raise ValueError(f"{kind} needs a value, as in {kind}=...")
    return value


def _integer(name: str, text: str, low: int, high: int | None = None) -> int:
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    if number < low or (high is not None and number > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bounds}, not {number}")
    return number


def _seconds(name: str, text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number of seconds, 0 or more")
    return seconds


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"p must be a number, not {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"p must be more than 0 and at most 1, not {text}")
    return value
