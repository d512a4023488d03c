"""Hostile command lines: each is refused with one line naming the option and exit 2, before
anything is sent or written, never with a traceback."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from vlens_async import VlensError
from vlens_async.cli import EXIT_API, EXIT_INTERRUPTED, EXIT_USAGE, build_parser, main
from vlens_async.cli._demo import CodeSource
from vlens_async.sandbox._http import OUTBOX_PATH

from ..conftest import free_port


def _one_error_line(err: str, *names: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "error:" in lines[0], err
    for name in names:
        assert name in lines[0], (name, err)


@pytest.mark.parametrize(
    ("redis", "job", "named"),
    [("", "j", "--redis"), ("redis://127.0.0.1:1", "", "--job"), ("", "", "--redis")],
)
def test_an_empty_redis_or_job_is_refused_not_run_as_a_lone_worker(
    redis: str, job: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--redis "$UNSET"` is refused: run alone, each worker of the job would text every number."""
    source = tmp_path / "numbers.txt"
    source.write_text("+201001234567\n")
    out = tmp_path / "results.jsonl"
    argv = ["otp", "bulk", str(source), "--out", str(out), "--sandbox"]
    assert main([*argv, "--redis", redis, "--job", job]) == EXIT_USAGE
    _one_error_line(capsys.readouterr().err, named)
    assert not out.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "0", "-1"])
def test_demo_timeout_must_be_finite_seconds_above_zero(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vlens demo --timeout nan` is a usage error naming the option (it was a traceback)."""
    with pytest.raises(SystemExit) as exited:
        main(["demo", f"--timeout={value}"])
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "argument --timeout" in err
    assert "Traceback" not in err


_NOT_AN_OUTBOX = [
    web.Response(text="<html>Welcome</html>", content_type="text/html"),
    web.Response(text="{not json", content_type="application/json"),
    web.json_response([1, 2]),
    web.json_response({"messages": {"code": 1}}),
    web.json_response({"messages": [{"requestId": 5}]}),
    web.json_response({"messages": ["+201001234567"]}),
]


@pytest.mark.parametrize("index", range(len(_NOT_AN_OUTBOX)))
async def test_demo_reads_no_code_from_a_server_whose_outbox_is_not_one(
    index: int, serve: Callable[[web.Application], Awaitable[str]]
) -> None:
    """A server answering the sandbox outbox route with HTML, bad JSON or another shape has
    no outbox: the demo says it cannot read the code (an aiohttp or KeyError escaped)."""

    async def outbox(request: web.Request) -> web.Response:
        return _NOT_AN_OUTBOX[index]

    app = web.Application()
    app.router.add_get(OUTBOX_PATH, outbox)
    codes = CodeSource(remote=(await serve(app), "key"))
    with pytest.raises(VlensError, match="cannot read the code"):
        await codes.code_for("+201001234567", uuid.uuid4())


async def test_demo_reads_no_code_from_an_unreachable_server() -> None:
    """Nothing listening where the outbox should be: the same clear error, no aiohttp error."""
    codes = CodeSource(remote=(f"http://127.0.0.1:{free_port()}", "key"))
    with pytest.raises(VlensError, match="cannot read the code"):
        await codes.code_for("+201001234567", None)


class _ClosedTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_demo_prompt_at_end_of_input_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-D at the demo's code prompt: a one-line error, not an EOFError traceback."""
    monkeypatch.setattr(sys, "stdin", _ClosedTerminal(""))
    with pytest.raises(VlensError, match="no code"):
        await CodeSource(remote=None).code_for("+201001234567", None)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--api-key", ""),
        ("--api-key", " "),
        ("--api-key", "a\nb"),
        ("--tenancy", ""),
        ("--tenancy", "a\rb"),
        ("--tenancy", "a\x1bb"),
    ],
)
def test_sandbox_refuses_keys_and_tenancies_no_client_can_send(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty API key or tenancy, or one with a control character, is a usage error naming
    the option: every client refuses to send such a header, so the sandbox would answer none."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["sandbox", option, value])  # main() would serve forever
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"argument {option}" in err
    assert "Traceback" not in err


def test_sandbox_that_cannot_listen_names_host_and_port(capsys: pytest.CaptureFixture[str]) -> None:
    """A port already taken, or a host that is no address here: one line naming the options."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert main(["sandbox", "--port", port]) == EXIT_USAGE
    _one_error_line(capsys.readouterr().err, "--host", "--port", f"127.0.0.1:{port}")
    assert main(["sandbox", "--host", "999.1.1.1", "--port", str(free_port())]) == EXIT_USAGE
    _one_error_line(capsys.readouterr().err, "--host", "999.1.1.1")


def test_an_interrupt_while_loading_the_commands_is_exit_130() -> None:
    """Ctrl-C while the commands' modules load (a tenth of a second at start): "interrupted"
    and 130, as later on, not a KeyboardInterrupt traceback."""
    script = (
        "import sys\n"
        "from vlens_async import cli\n"
        "def interrupted():\n"
        "    raise KeyboardInterrupt\n"
        "cli.build_parser = interrupted\n"
        "sys.exit(cli.main(['otp', 'send', '+201001234567', '--sandbox']))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == EXIT_INTERRUPTED, run.stderr
    assert run.stderr.strip() == "vlens: interrupted"


def test_a_stray_nul_in_a_utf8_input_is_one_invalid_entry_not_utf16(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One NUL byte in a UTF-8 file makes its line invalid; the file is not called UTF-16
    ("save it as UTF-8", when it is)."""
    source = tmp_path / "numbers.txt"
    source.write_bytes(b"+201001234567\n+2010012\x0034568\n")
    out = tmp_path / "results.jsonl"
    assert main(["otp", "bulk", str(source), "--out", str(out), "--sandbox"]) == EXIT_API
    assert "UTF-16" not in capsys.readouterr().err
    finals = [json.loads(line) for line in out.read_text().splitlines()]
    statuses = [line["status"] for line in finals if line["status"] != "pending"]
    assert sorted(statuses) == ["invalid", "sent"]


def test_utf16_without_a_byte_order_mark_is_still_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A UTF-16 file without a BOM (every other byte NUL) keeps its clear refusal."""
    source = tmp_path / "numbers.txt"
    source.write_bytes("+201001234567\n+201001234568\n".encode("utf-16-le"))
    out = tmp_path / "results.jsonl"
    assert main(["otp", "bulk", str(source), "--out", str(out), "--sandbox"]) == EXIT_USAGE
    _one_error_line(capsys.readouterr().err, "UTF-16", "INPUT")
    assert not out.exists()


@pytest.mark.parametrize("match", ["registraton.send_phone_otp", "Register/StepVerifyPhon", "x"])
def test_sandbox_fault_for_no_operation_is_refused(
    match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fault whose MATCH names no operation nor path end (a typo) would never fire: refused
    naming the option, not served as if scheduled."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["sandbox", "--fault", f"{match}:status=503"])
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "argument --fault" in err
    assert match in err


@pytest.mark.parametrize(
    "match", ["*", "registration.send_phone_otp", "Register/StepVerifyPhone", "Login"]
)
def test_sandbox_fault_for_an_operation_or_path_end_is_accepted(match: str) -> None:
    """Operation names, path ends and * stay accepted."""
    args = build_parser().parse_args(["sandbox", "--fault", f"{match}:status=503"])
    assert len(args.faults) == 1


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_out_that_is_not_a_regular_file_is_refused(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out on a named pipe (nobody reading: the results sat in its buffer and were lost, or
    the run hung once it filled) or a device is refused before anything is sent."""
    source = tmp_path / "numbers.txt"
    source.write_text("+201001234567\n")
    if kind == "fifo":
        out = tmp_path / "results.jsonl"
        os.mkfifo(out)
    else:
        out = Path(os.devnull)
    assert main(["otp", "bulk", str(source), "--out", str(out), "--sandbox"]) == EXIT_USAGE
    _one_error_line(capsys.readouterr().err, "--out", "regular file")
