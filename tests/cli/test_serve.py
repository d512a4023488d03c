"""`vlens sandbox` options: checked when read, and the served sandbox behaves as they say."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from vlens_async import (
    InvalidRequestError,
    RateLimitedError,
    RetryPolicy,
    VlensClient,
    VlensError,
)
from vlens_async.cli import EXIT_USAGE, build_parser, main
from vlens_async.cli._serve import build_sandbox
from vlens_async.sandbox import FaultKind, Sandbox, create_app

from .conftest import run_vlens, served_sandbox

PHONE = "+201001234567"
Serve = Callable[[web.Application], Awaitable[str]]
Start = Callable[..., Awaitable[tuple[Sandbox, VlensClient]]]


def sandbox_from(*flags: str) -> Sandbox:
    """The Sandbox ``vlens sandbox FLAGS`` would serve."""
    return build_sandbox(build_parser().parse_args(["sandbox", *flags]))


@pytest.fixture
async def served(serve: Serve) -> AsyncIterator[Start]:
    """Serves ``sandbox_from(flags)`` on loopback; gives it and a client without retries."""
    clients: list[VlensClient] = []

    async def start(*flags: str) -> tuple[Sandbox, VlensClient]:
        sandbox = sandbox_from(*flags)
        url = await serve(create_app(sandbox))
        client = VlensClient("sandbox-key", base_url=url, retry=RetryPolicy.no_wait(1))
        clients.append(client)
        return sandbox, client

    yield start
    for client in clients:
        await client.aclose()


def test_every_flag_reaches_the_sandbox() -> None:
    """Each option sets the Sandbox parameter it names; faults are scheduled in order."""
    sandbox = sandbox_from(
        *("--rate", "10/s", "--rate", "600/m", "--rate", "100/10s"),
        *("--otp-length", "4", "--otp-ttl", "90", "--resend-cooldown", "0"),
        *("--max-attempts", "2", "--fixed-otp", "4321"),
        *("--fault", "*:latency=0.5:p=0.1", "--fault", "Register:refuse:times=1"),
    )
    assert sandbox.rate_limits == ((10, 1.0), (600, 60.0), (100, 10.0))
    state = sandbox.state
    assert (state.otp_length, state.otp_ttl, state.resend_cooldown) == (4, 90.0, 0.0)
    assert (state.max_attempts, state.fixed_otp) == (2, "4321")
    assert sandbox.faults.pending == 2


def test_defaults_are_the_sandbox_defaults() -> None:
    """Without options the served sandbox is the library's default: no limits, no faults."""
    served, library = sandbox_from(), Sandbox()
    assert served.rate_limits == library.rate_limits == ()
    for name in ("otp_length", "otp_ttl", "resend_cooldown", "max_attempts", "fixed_otp"):
        assert getattr(served.state, name) == getattr(library.state, name), name
    assert served.faults.pending == 0


async def test_fixed_otp_signs_up_without_reading_the_outbox(served: Start) -> None:
    """--fixed-otp with --otp-length 4: the browser types 4321, and the sign-up completes."""
    _, client = await served("--otp-length", "4", "--fixed-otp", "4321", "--otp-ttl", "120")
    sent = await client.registration.send_phone_otp(PHONE)
    assert sent.phone_otp_expire_in_seconds == 120
    request_id = sent.phone_number_otp_request_id
    assert request_id is not None
    checked = await client.registration.validate_phone_otp(PHONE, request_id, "4321")
    assert checked.is_phone_number_confirmed is True
    done = await client.registration.complete(
        phone_number=PHONE, phone_otp_request_id=request_id, phone_otp="4321", password="pa55word"
    )
    assert done.access_token is not None


async def test_rate_flag_answers_429_with_retry_after(served: Start) -> None:
    """--rate 2/h: the third call within the hour is refused with 429 and a Retry-After."""
    _, client = await served("--rate", "2/h")
    for _ in range(2):
        await client.registration.check_existence(PHONE)
    with pytest.raises(RateLimitedError) as refused:
        await client.registration.check_existence(PHONE)
    assert refused.value.retry_after is not None
    assert refused.value.retry_after > 0


async def test_resend_cooldown_flag(served: Start) -> None:
    """--resend-cooldown 0 lets a second code go at once; the default 30 s refuses it."""
    _, relaxed = await served("--resend-cooldown", "0")
    for _ in range(2):
        await relaxed.registration.send_phone_otp(PHONE)
    _, strict = await served()
    await strict.registration.send_phone_otp(PHONE)
    with pytest.raises(RateLimitedError):
        await strict.registration.send_phone_otp(PHONE)


async def test_max_attempts_flag_locks_after_that_many_wrong_codes(served: Start) -> None:
    """--max-attempts 2: one wrong code leaves one try, the second locks the code (4003)."""
    _, client = await served("--max-attempts", "2", "--fixed-otp", "111111")
    sent = await client.registration.send_phone_otp(PHONE)
    assert sent.phone_number_otp_request_id is not None
    with pytest.raises(InvalidRequestError, match="1 attempt"):
        await client.registration.validate_phone_otp(
            PHONE, sent.phone_number_otp_request_id, "222222"
        )
    with pytest.raises(RateLimitedError):
        await client.registration.validate_phone_otp(
            PHONE, sent.phone_number_otp_request_id, "222222"
        )


async def test_fault_flag_fires_on_the_served_sandbox(served: Start) -> None:
    """--fault '...check_existence:status=503:body=envelope:times=1' fails one call, then not."""
    sandbox, client = await served(
        "--fault", "registration.check_existence:status=503:body=envelope:times=1"
    )
    with pytest.raises(VlensError):
        await client.registration.check_existence(PHONE)
    assert (await client.registration.check_existence(PHONE)).exists is False
    assert sandbox.faults.pending == 0


BAD_OPTIONS = [
    (["--port", "0"], "argument --port: must be from 1 to 65535, not 0"),
    (["--port", "65536"], "argument --port: must be from 1 to 65535, not 65536"),
    (["--port", "http"], "argument --port: expected a whole number, not 'http'"),
    (["--seed", "1.5"], "argument --seed: expected a whole number"),
    (["--rate", "10"], "argument --rate: expected N/PERIOD"),
    (["--rate", "10/day"], "argument --rate: expected N/PERIOD"),
    (["--rate", "0/s"], "argument --rate: a rate needs at least 1 call"),
    (["--rate", "5/0s"], "argument --rate: a rate needs at least 1 call"),
    (["--otp-length", "3"], "argument --otp-length: must be from 4 to 10, not 3"),
    (["--otp-length", "11"], "argument --otp-length: must be from 4 to 10, not 11"),
    (["--otp-ttl", "0"], "argument --otp-ttl: must be a finite number of seconds above 0"),
    (["--otp-ttl", "nan"], "argument --otp-ttl: must be a finite number of seconds"),
    (["--otp-ttl", "soon"], "argument --otp-ttl: expected seconds, not 'soon'"),
    (["--resend-cooldown", "-1"], "argument --resend-cooldown: must be a finite number"),
    (["--max-attempts", "0"], "argument --max-attempts: must be at least 1, not 0"),
    (["--fixed-otp", "12a456"], "argument --fixed-otp: expected a code of digits only"),
    (["--fault", "*:explode"], "argument --fault: fault '*:explode': unknown fault kind"),
    (["--fault", "*:status=500:p=2"], "argument --fault: fault '*:status=500:p=2': p must be"),
]


@pytest.mark.parametrize(
    ("flags", "message"), BAD_OPTIONS, ids=[" ".join(f) for f, _ in BAD_OPTIONS]
)
def test_bad_option_exits_2_naming_it(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad value is refused when read: exit 2, a message naming the option, no traceback."""
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", *flags])
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_fixed_otp_must_match_the_otp_length(capsys: pytest.CaptureFixture[str]) -> None:
    """--fixed-otp is checked against --otp-length before anything is served: exit 2."""
    assert main(["sandbox", "--fixed-otp", "1234"]) == EXIT_USAGE
    assert "--fixed-otp: must have 6 digits (the --otp-length)" in capsys.readouterr().err
    assert main(["sandbox", "--otp-length", "8", "--fixed-otp", "123456"]) == EXIT_USAGE
    assert "must have 8 digits" in capsys.readouterr().err


def test_sandbox_refuses_a_fixed_otp_of_the_wrong_shape() -> None:
    """Sandbox(fixed_otp=...) needs otp_length ASCII digits, and otp_length from 4 to 10."""
    for code in ("12345", "1234567", "12345a", "١٢٣٤٥٦"):
        with pytest.raises(ValueError, match="fixed_otp must be 6 digits"):
            Sandbox(fixed_otp=code)
    with pytest.raises(ValueError, match="otp_length must be from 4 to 10"):
        Sandbox(otp_length=0)


async def test_fixed_otp_covers_every_channel() -> None:
    """Every OTP the sandbox issues, SMS and e-mail, is the fixed code."""
    sandbox = Sandbox(fixed_otp="024680", resend_cooldown=0)
    async with sandbox.client() as vlens:
        await vlens.registration.send_phone_otp(PHONE)
        await vlens.registration.send_phone_otp("+201001234568")
        await vlens.registration.send_email_otp("new@example.com")
    assert [message.code for message in sandbox.outbox] == ["024680"] * 3


def test_help_documents_the_flags_and_the_fault_grammar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`vlens sandbox --help` lists every option, the rate syntax and each fault kind."""
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--rate", "--otp-length", "--otp-ttl", "--resend-cooldown", "--max-attempts"):
        assert flag in out
    assert "--fixed-otp CODE" in out
    assert "--fault SPEC" in out
    assert "100/10s" in out
    for kind in FaultKind:
        assert kind.value in out


def test_served_from_the_command_line() -> None:
    """`vlens sandbox` with the new flags serves them: the banner says so, and a call obeys."""
    flags = ["--fixed-otp", "246810", "--rate", "50/s", "--fault", "*:latency=0:times=1"]
    with served_sandbox(*flags) as served:
        assert "rate limits 50/1s; every OTP is 246810; 1 fault(s) scheduled" in served.banner
        sent = run_vlens("otp", "send", PHONE, base_url=served.url)
        assert sent.returncode == 0, sent.stderr
        out, _ = served.stop()
    assert f"SMS to {PHONE}: code 246810" in out
