"""Helpers for the bulk suite: a fake time source, a recording limiter and sandbox, numbers."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from vlens_async import RetryPolicy, VlensClient
from vlens_async.bulk import RateLimit, RateLimiter
from vlens_async.cli import main
from vlens_async.sandbox import Exchange, FaultKind, Sandbox, SandboxClock
from vlens_transports import FakeTransport, Handler, Request

from ..conftest import free_port

API_KEY = "sandbox-key"
HANG_GUARD = 10.0


def number(index: int) -> str:
    """The ``index``-th distinct Egyptian mobile number in E.164 form."""
    return f"+2010{index:08d}"


def numbers_file(tmp_path: Path, count: int) -> tuple[list[str], Path]:
    """The first ``count`` numbers, and a text file in ``tmp_path`` listing them one a line."""
    numbers = [number(i) for i in range(count)]
    source = tmp_path / "numbers.txt"
    source.write_text("".join(f"{n}\n" for n in numbers))
    return numbers, source


def phone_of(request: Request) -> str:
    """The ``phoneNumber`` a request's JSON body carries."""
    value = json.loads(request.content)["phoneNumber"]
    assert isinstance(value, str)
    return value


def provider_of(request: Request) -> int | None:
    """The ``smsProviders`` a request's JSON body carries (None when absent)."""
    value = json.loads(request.content).get("smsProviders")
    assert value is None or isinstance(value, int)
    return value


class FakeTime:
    """A clock that only moves when someone sleeps on it: sleeping advances it at once."""

    def __init__(self, clock: SandboxClock | None = None) -> None:
        self.clock = clock or SandboxClock(start=0.0)
        self.slept: list[float] = []

    def now(self) -> float:
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(max(seconds, 0.0))
        await asyncio.sleep(0)  # let the other tasks see the new time, as a real sleep would


class RecordingLimiter(RateLimiter):
    """A limiter on a :class:`FakeTime` that records when each permit was granted, and pauses."""

    def __init__(self, limits: Iterable[RateLimit | str], time: FakeTime) -> None:
        super().__init__(limits, clock=time.now, sleep=time.sleep)
        self.time = time
        self.grants: list[float] = []
        self.pauses: list[tuple[int, float]] = []  # (permits granted before it, pause ends at)

    async def acquire(self) -> None:
        await super().acquire()
        self.grants.append(self.time.now())

    async def __aenter__(self) -> None:
        await super().__aenter__()
        self.grants.append(self.time.now())

    def slow_down(self, retry_after: float | None) -> float:
        pause = super().slow_down(retry_after)
        self.pauses.append((len(self.grants), self.time.now() + pause))
        return pause


class RecordingSandbox(Sandbox):
    """A sandbox that notes, per request, the number sent to, the sandbox time and any fault."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sends: list[tuple[str, float]] = []
        self.dropped: list[str] = []
        self.faults_by_phone: dict[str, list[FaultKind | None]] = {}

    async def process(self, request: Request) -> Exchange:
        exchange = await super().process(request)
        if request.url.endswith("Register/StepVerifyPhone"):
            phone = phone_of(request)
            self.sends.append((phone, self.clock.now()))
            fault = exchange.fault
            self.faults_by_phone.setdefault(phone, []).append(None if fault is None else fault.kind)
            if fault is not None and fault.kind is FaultKind.DROP_AFTER_PROCESSING:
                self.dropped.append(phone)
        return exchange


def fake_client(handler: Handler) -> VlensClient:
    """A client over ``FakeTransport(handler)`` with the sandbox key and zero-wait retries."""
    return VlensClient(API_KEY, transport=FakeTransport(handler), retry=RetryPolicy.no_wait())


def assert_windows(times: Sequence[float], limits: Iterable[RateLimit]) -> None:
    """``times`` never decrease and no window of any limit holds more than its count."""
    assert list(times) == sorted(times)
    for limit in limits:
        for i in range(limit.count, len(times)):
            gap = times[i] - times[i - limit.count]
            assert gap >= limit.seconds - 1e-9, (str(limit), i, gap)


@contextlib.contextmanager
def served_sandbox(*extra: str, script: str | None = None) -> Iterator[int]:
    """A sandbox served by a subprocess on a free loopback port; yields the port.

    By default ``vlens sandbox`` without its resend cooldown, so that the outbox shows every
    code sent (with the cooldown a second send to a number would be refused, never texted, and a
    test counting texts could not see it); ``script`` names a Python file run instead with
    ``--port`` (for a served sandbox with faults scheduled).
    """
    port = free_port()
    command = [sys.executable, "-m", "vlens_async", "sandbox", "--seed", "1"]
    if "--resend-cooldown" not in extra:
        command += ["--resend-cooldown", "0"]
    if script is not None:
        command = [sys.executable, script]
    server = subprocess.Popen(
        [*command, "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    try:
        banner = server.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner, banner
        yield port
    finally:
        server.terminate()
        server.communicate(timeout=10)


def outbox(port: int) -> Counter[str]:
    """SMS per recipient, from the served sandbox's GET /_sandbox/outbox."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/_sandbox/outbox", headers={"ApiKey": API_KEY})
        response = connection.getresponse()
        assert response.status == 200
        messages = json.loads(response.read())["messages"]
    finally:
        connection.close()
    return Counter(m["recipient"] for m in messages if m["channel"] == "sms")


def bulk_env(port: int | None = None, **extra: str) -> dict[str, str]:
    """The environment for ``vlens otp bulk`` in a subprocess (against ``port`` if given)."""
    env = {**os.environ, "PYTHONWARNINGS": "error::ResourceWarning", "VLENS_API_KEY": API_KEY}
    if port is not None:
        env["VLENS_BASE_URL"] = f"http://127.0.0.1:{port}"
    return {**env, **extra}


def bulk_command(*args: str) -> list[str]:
    """``python -m vlens_async otp bulk ARGS``."""
    return [sys.executable, "-m", "vlens_async", "otp", "bulk", *args]


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main(["otp", "bulk", *ARGS])`` in this process: exit code, stdout and stderr."""
    code = main(["otp", "bulk", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_bulk(
    *args: str, port: int | None = None, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``vlens otp bulk ARGS`` in a subprocess to completion (hang guard: HANG_GUARD * 3).

    ``port`` and ``env`` are given to :func:`bulk_env`; ``stdin`` is the text fed to it.
    """
    return subprocess.run(
        bulk_command(*args),
        input=stdin,
        env=bulk_env(port, **env),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD * 3,
        check=False,
    )


def records(path: Path) -> list[dict[str, Any]]:
    """The JSON records of a results file (a line cut short by a crash is not one)."""
    found: list[dict[str, Any]] = []
    if not path.exists():
        return found
    for line in path.read_bytes().splitlines():
        with contextlib.suppress(ValueError):
            found.append(json.loads(line))
    return found


def finals(path: Path) -> list[dict[str, Any]]:
    """The outcome records of a results file (not the write-ahead "pending" lines)."""
    return [r for r in records(path) if r.get("status") != "pending"]


def wait_for(condition: Callable[[], bool], what: str, *, process: Any = None) -> None:
    """Poll ``condition`` until true (hang guard: HANG_GUARD * 3 seconds)."""
    give_up = time.monotonic() + HANG_GUARD * 3
    while not condition():
        assert process is None or process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < give_up, f"hang guard: {what}"
        time.sleep(0.02)
