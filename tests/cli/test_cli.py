"""The vlens command: the demo in a subprocess, the sandbox served and called, exit codes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from vlens_async.cli import EXIT_API, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, main

from ..conftest import free_port
from .conftest import UNMASKED_PHONE, ServedSandbox, run_vlens, served_sandbox


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[ServedSandbox]:
    """One served sandbox shared by the tests that only call it."""
    with served_sandbox() as served:
        yield served


def test_demo_runs_the_whole_journey_in_process() -> None:
    """`vlens demo` exits 0 after all 13 steps and shows no unmasked phone number."""
    result = run_vlens("demo")
    assert result.returncode == EXIT_OK, result.stderr
    assert "[13/13] Duplicate check again" in result.stdout
    assert "registered" in result.stdout.splitlines()[-2]
    assert not UNMASKED_PHONE.search(result.stdout)


def test_demo_against_the_served_sandbox(sandbox_server: ServedSandbox) -> None:
    """`vlens demo --base-url` runs the journey over HTTP, reading codes from the served sandbox."""
    result = run_vlens("demo", "--base-url", sandbox_server.url, "--api-key", "sandbox-key")
    assert result.returncode == EXIT_OK, result.stderr
    assert "[13/13]" in result.stdout


def test_served_sandbox_prints_each_message() -> None:
    """`vlens sandbox` prints every SMS and e-mail it sends, so a developer can read the code."""
    with served_sandbox() as served:
        demo = run_vlens("demo", "--base-url", served.url, "--api-key", "sandbox-key")
        assert demo.returncode == EXIT_OK, demo.stderr
        out, err = served.stop()
    assert re.search(r"SMS to \+20\d{10}: code \d{6} \(registration", out)
    assert "E-mail to demo." in out
    assert "registration.send_phone_otp" in err  # each call is logged, contacts masked
    assert not UNMASKED_PHONE.search(err)


def test_wrong_api_key_exits_1(sandbox_server: ServedSandbox) -> None:
    """A 401 from the server is a one-line error and exit code 1."""
    result = run_vlens("demo", "--base-url", sandbox_server.url, "--api-key", "not-the-key")
    assert result.returncode == EXIT_API
    assert result.stderr.strip().count("\n") == 0
    assert "[401]" in result.stderr


def test_unreachable_server_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening: a one-line 'cannot reach' error and exit code 3."""
    url = f"http://127.0.0.1:{free_port()}"
    code = main(["demo", "--base-url", url, "--api-key", "k", "--timeout", "5"])
    assert code == EXIT_UNREACHABLE
    assert "cannot reach the server" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["demo", "--base-url", "ftp://example.com", "--api-key", "k"], "base_url"),
        (["demo", "--base-url", "http://127.0.0.1:1"], "VLENS_API_KEY"),
        (["demo", "--base-url", "http://10.1.2.3", "--api-key", "k"], "plain http"),
    ],
)
def test_bad_arguments_exit_2(
    argv: list[str],
    fragment: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bad configuration is refused before any call, naming what is wrong, with exit code 2."""
    monkeypatch.delenv("VLENS_API_KEY", raising=False)
    assert main(argv) == EXIT_USAGE
    assert fragment in capsys.readouterr().err


def test_unknown_option_exits_2() -> None:
    """argparse's usage errors keep exit code 2."""
    result = run_vlens("demo", "--bogus")
    assert result.returncode == EXIT_USAGE
    assert "unrecognized arguments: --bogus" in result.stderr
