"""Fault specs (``vlens sandbox --fault``): the grammar read into the fault schedule it names."""

from __future__ import annotations

import pytest

from vlens_async import OutcomeUnknownError, RateLimitedError, RetryPolicy
from vlens_async.sandbox import (
    FAULT_SPEC_GRAMMAR,
    Fault,
    FaultKind,
    FaultSpec,
    Sandbox,
    parse_fault_spec,
)

PHONE = "+201001234567"
SEND = "registration.send_phone_otp"

VALID = [
    (
        "registration.send_phone_otp:status=503:times=2",
        FaultSpec(fault=Fault(kind=FaultKind.STATUS, match=SEND, status=503), times=2),
    ),
    (
        "*:latency=0.5:p=0.1",
        FaultSpec(fault=Fault(kind=FaultKind.LATENCY, delay=0.5), probability=0.1),
    ),
    (
        "Register/StepVerifyPhone:status=502:body=envelope:seed=7:probability=0.5",
        FaultSpec(
            fault=Fault(
                kind=FaultKind.STATUS, match="Register/StepVerifyPhone", status=502, body="envelope"
            ),
            probability=0.5,
            seed=7,
        ),
    ),
    (
        "*:rate_limit",
        FaultSpec(fault=Fault(kind=FaultKind.RATE_LIMIT, status=429, retry_after=1.0)),
    ),
    (
        "*:rate-limit=20",
        FaultSpec(fault=Fault(kind=FaultKind.RATE_LIMIT, status=429, retry_after=20.0)),
    ),
    ("*:refuse:times=1", FaultSpec(fault=Fault(kind=FaultKind.REFUSE, status=503), times=1)),
    ("*:malformed_json", FaultSpec(fault=Fault(kind=FaultKind.MALFORMED_JSON))),
    (
        f"{SEND}:drop_after_processing",
        FaultSpec(fault=Fault(kind=FaultKind.DROP_AFTER_PROCESSING, match=SEND)),
    ),
    ("*:truncated_body", FaultSpec(fault=Fault(kind=FaultKind.TRUNCATED_BODY))),
    ("*:oversized_body", FaultSpec(fault=Fault(kind=FaultKind.OVERSIZED_BODY))),
    (
        " *:oversized_body=4096 ",
        FaultSpec(fault=Fault(kind=FaultKind.OVERSIZED_BODY, size=4096)),
    ),
]

INVALID = [
    ("", "expected MATCH:KIND"),
    ("registration.send_phone_otp", "expected MATCH:KIND"),
    (":status=500", "expected MATCH:KIND"),
    ("status=500:times=2", "MATCH first; * for all"),
    ("*:explode", "unknown fault kind 'explode'"),
    ("*:status", "status needs a value"),
    ("*:status=abc", "status must be a whole number"),
    ("*:status=700", "status must be from 200 to 599, not 700"),
    ("*:latency=-1", "latency must be a finite number of seconds"),
    ("*:latency=nan", "latency must be a finite number of seconds"),
    ("*:latency=soon", "latency must be a number of seconds"),
    ("*:refuse=3", "refuse takes no value"),
    ("*:status=500:times=0", "times must be at least 1, not 0"),
    ("*:status=500:times=two", "times must be a whole number"),
    ("*:status=500:p=0", "p must be more than 0 and at most 1"),
    ("*:status=500:p=1.5", "p must be more than 0 and at most 1"),
    ("*:status=500:p=often", "p must be a number"),
    ("*:status=500:body=xml", "body must be html, empty or envelope"),
    ("*:latency=1:body=html", "body= goes with a status fault only"),
    ("*:status=500:colour=red", "OPTION one of times, p, seed, body"),
    ("*:status=500:times", "OPTION one of times, p, seed, body"),
    ("*:status=500:times=1:times=2", "times is given twice"),
    ("*:oversized_body=0", "oversized_body must be at least 1"),
]


@pytest.mark.parametrize(("spec", "expected"), VALID, ids=[spec for spec, _ in VALID])
def test_valid_specs_read_into_the_fault_they_name(spec: str, expected: FaultSpec) -> None:
    """Each kind, option and default of the grammar gives the Fault and schedule it says."""
    assert parse_fault_spec(spec) == expected


@pytest.mark.parametrize(("spec", "problem"), INVALID, ids=[spec or "empty" for spec, _ in INVALID])
def test_invalid_specs_say_what_is_wrong(spec: str, problem: str) -> None:
    """A bad spec is a ValueError quoting the spec and naming the part that is wrong."""
    with pytest.raises(ValueError, match="fault ") as caught:
        parse_fault_spec(spec)
    assert repr(spec) in str(caught.value)
    assert problem in str(caught.value)


def test_every_fault_kind_is_in_the_grammar() -> None:
    """The documented grammar names every kind the schedule can do, so none is out of reach."""
    needs_value = {FaultKind.STATUS: "=500", FaultKind.LATENCY: "=1"}
    for kind in FaultKind:
        assert kind.value in FAULT_SPEC_GRAMMAR
        spec = parse_fault_spec(f"*:{kind.value}{needs_value.get(kind, '')}")
        assert spec.fault.kind is kind


async def test_a_spec_schedules_a_fault_that_fires_as_written() -> None:
    """``status=503:times=2`` fails two sends unprocessed; the third attempt goes through."""
    sandbox = Sandbox(seed=1)
    parse_fault_spec(f"{SEND}:status=503:times=2").add_to(sandbox.faults)
    async with sandbox.client(retry=RetryPolicy.no_wait(max_attempts=3)) as vlens:
        sent = await vlens.registration.send_phone_otp(PHONE)
    assert sent.phone_number_otp_request_id is not None
    assert sandbox.requests_seen == 3
    assert len(sandbox.outbox) == 1
    assert sandbox.faults.pending == 0


async def test_a_spec_without_times_keeps_firing() -> None:
    """Without ``times`` a fault fires on every matching call, and only on matching ones."""
    sandbox = Sandbox(seed=1)
    parse_fault_spec(f"{SEND}:rate_limit=0").add_to(sandbox.faults)
    async with sandbox.client(retry=RetryPolicy.no_wait(max_attempts=2)) as vlens:
        for _ in range(3):
            with pytest.raises(RateLimitedError):
                await vlens.registration.send_phone_otp(PHONE)
        assert (await vlens.registration.check_existence(PHONE)).exists is False
    assert sandbox.faults.pending == 1


async def test_a_processed_fault_from_a_spec_is_an_unknown_outcome() -> None:
    """``drop_after_processing`` sends the SMS, then the caller gets OutcomeUnknownError."""
    sandbox = Sandbox(seed=1)
    parse_fault_spec(f"{SEND}:drop_after_processing:times=1").add_to(sandbox.faults)
    async with sandbox.client() as vlens:
        with pytest.raises(OutcomeUnknownError):
            await vlens.registration.send_phone_otp(PHONE)
    assert len(sandbox.outbox.to(PHONE)) == 1
