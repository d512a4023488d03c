"""``vlens otp send``: one OTP, in process, over HTTP to a served sandbox, and its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from vlens_async.cli import EXIT_API, EXIT_OK, EXIT_USAGE, main
from vlens_async.sandbox import Sandbox

from .conftest import UNMASKED_PHONE, run_vlens, served_sandbox

PHONE = "+201001234567"


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VLENS_API_KEY", "VLENS_BASE_URL", "VLENS_TENANCY_NAME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> list[Sandbox]:
    """The sandboxes ``--sandbox`` creates, kept so a test can look inside them."""
    made: list[Sandbox] = []

    def make() -> Sandbox:
        made.append(Sandbox())
        return made[-1]

    monkeypatch.setattr("vlens_async.cli._send.Sandbox", make)
    return made


def test_sends_one_otp_in_process_and_prints_its_request_id(
    capsys: pytest.CaptureFixture[str], sandboxes: list[Sandbox]
) -> None:
    """Exit 0; the line names the masked number and the request id the sandbox issued."""
    assert main(["otp", "send", "+20 100 123 4567", "--sandbox"]) == EXIT_OK
    out = capsys.readouterr().out
    (sandbox,) = sandboxes
    (message,) = sandbox.outbox.to(PHONE)
    assert out.startswith("OTP sent to +20*******567: ")
    assert f"request id {message.request_id}" in out
    assert "expires in 300 s" in out
    assert not UNMASKED_PHONE.search(out)
    assert message.code not in out  # the code goes to the phone, not to the terminal


def test_json_output_carries_provider_and_request_id(
    capsys: pytest.CaptureFixture[str], sandboxes: list[Sandbox]
) -> None:
    """--json prints one object; --provider reaches the wire (the sandbox records it)."""
    argv = ["otp", "send", PHONE, "--sandbox", "--provider", "vodafone", "--json"]
    assert main(argv) == EXIT_OK
    printed = json.loads(capsys.readouterr().out)
    (message,) = sandboxes[0].outbox.to(PHONE)
    assert printed == {
        "phone_number": PHONE,
        "status": "sent",
        "request_id": str(message.request_id),
        "provider": "vodafone",
        "expires_in_seconds": 300,
    }
    assert uuid.UUID(printed["request_id"]) == message.request_id
    assert message.provider == 2


def test_lost_answer_is_reported_as_outcome_unknown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops after the sandbox sent the SMS: exit 1, 'unknown', sent once."""
    sandbox = Sandbox()
    sandbox.faults.drop_after_processing("Register/StepVerifyPhone")
    monkeypatch.setattr("vlens_async.cli._send.Sandbox", lambda: sandbox)
    assert main(["otp", "send", PHONE, "--sandbox", "--json"]) == EXIT_API
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "unknown"
    assert "outcome" in printed["error"].lower()
    assert len(sandbox.outbox.to(PHONE)) == 1  # the person got the code; nothing was resent


@pytest.mark.usefixtures("no_credentials")
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["otp", "send", "0100 123 4567"], "PHONE"),
        (["otp", "send", PHONE, "--provider", "pigeon"], "--provider"),
        (["otp", "send", PHONE], "VLENS_API_KEY"),
    ],
)
def test_bad_input_exits_2_before_any_call(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad number or provider is refused before credentials are even looked at."""
    assert main(argv) == EXIT_USAGE
    assert fragment in capsys.readouterr().err


def test_sends_over_http_to_a_served_sandbox() -> None:
    """With VLENS_* set, the command calls the server, which texts the number once."""
    with served_sandbox() as served:
        result = run_vlens("otp", "send", PHONE, "--json", base_url=served.url)
        out, _ = served.stop()
    assert result.returncode == EXIT_OK, result.stderr
    printed = json.loads(result.stdout)
    assert printed["status"] == "sent"
    uuid.UUID(printed["request_id"])
    assert out.count(f"SMS to {PHONE}:") == 1


def test_a_closed_stdout_after_the_send_still_reports_the_request_id() -> None:
    """stdout closed by its reader (``| head -c0``): the code was sent, so the exit code is 0
    and the line with the request id goes to stderr; no traceback, no "Exception ignored"
    at exit (it was "vlens: error: Broken pipe", exit 2, the request id lost)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has left: a write raises BrokenPipeError
    try:
        result = subprocess.run(
            [sys.executable, "-m", "vlens_async", "otp", "send", PHONE, "--sandbox"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == EXIT_OK, result.stderr
    assert "request id" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr
