"""Scenario 6: a phone sign-up route under 500 concurrent requests, SDK against raw aiohttp.

Three kinds of process, as in a deployment: ``vlens sandbox`` (no rate limit, every OTP
123456), two uvicorn servers on 127.0.0.1 and this process as the load generator (an aiohttp
client keeping 500 requests in flight). One server runs ``examples/fastapi_signup`` as it is;
the other runs :func:`raw_app`, the same ``POST /signup/start`` route calling Vlens with one
shared ``aiohttp.ClientSession`` (the same POST, the JSON decoded, ``data`` returned). The two
are measured in interleaved rounds so that drift on the machine hits them alike.

``python -m benchmarks.webapp [--quick] [--json PATH]`` runs this scenario alone; it needs the
``examples`` extra (FastAPI, uvicorn).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route's annotations, and
# the names in them are imported inside raw_app (so that importing this module, as
# ``python -m benchmarks`` does, never needs FastAPI), where only eager evaluation sees them.

import asyncio
import contextlib
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import aiohttp
import attrs

from ._common import API_KEY, HEADERS, PATH, TENANCY, percentile, phone, run_concurrently
from ._report import Row, ScenarioResult, Settings, rate

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["APPS", "raw_app", "webapp"]

CONCURRENCY = 500
APPS = {
    "sdk": "FastAPI + SDK (examples/fastapi_signup)",
    "raw": "FastAPI + raw aiohttp, same route",
}
_FACTORIES = {"sdk": "examples.fastapi_signup.app:create_app", "raw": "benchmarks.webapp:raw_app"}
_ROOT = Path(__file__).resolve().parent.parent
_READY_WITHIN = 30.0  # seconds for a server to accept connections on a loaded machine


@attrs.frozen(kw_only=True)
class _Size:
    requests: int
    rounds: int


def raw_app() -> "FastAPI":
    """The sign-up start route calling Vlens with raw aiohttp (for ``uvicorn --factory``).

    It reads the same ``VLENS_*`` variables as the SDK app, keeps one ``ClientSession`` for
    the process (the SDK's pool size, 100), makes the same POST and decodes the JSON.
    """
    from fastapi import Depends, FastAPI, HTTPException, Request

    from examples.fastapi_signup.app import StartBody

    url = os.environ["VLENS_BASE_URL"].rstrip("/") + PATH
    headers = {**HEADERS, "ApiKey": os.environ["VLENS_API_KEY"]}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=100)
        timeout = aiohttp.ClientTimeout(total=5)  # the SDK app's deadline per call
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            app.state.session = session
            yield

    def vlens_session(request: Request) -> aiohttp.ClientSession:
        session: aiohttp.ClientSession = request.app.state.session
        return session

    app = FastAPI(title="Phone sign-up, raw aiohttp", lifespan=lifespan)

    # As in the SDK app: the session from a dependency, a dict returned (FastAPI serializes a
    # declared dict with pydantic, an undeclared one with its slower jsonable_encoder).
    @app.post("/signup/start")
    async def start(
        body: StartBody, session: Annotated[aiohttp.ClientSession, Depends(vlens_session)]
    ) -> dict[str, Any]:
        payload = json.dumps({"phoneNumber": body.phone_number}).encode()
        async with session.post(url, data=payload, headers=headers) as answer:
            envelope = json.loads(await answer.read())
        if answer.status != 200 or envelope.get("error_code") is not None:
            raise HTTPException(502, "The identity service failed.")
        data: dict[str, Any] = envelope["data"]
        return data

    return app


def _free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (the servers bind them a moment later)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + _READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            tail = log.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"{process.args!r} exited {process.returncode}:\n{tail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{process.args!r} did not listen on port {port} in {_READY_WITHIN:g}s")


@contextlib.contextmanager
def _serving(command: list[str], port: int, cpu: int | None, env: dict[str, str]) -> Iterator[str]:
    """Run ``command`` (a server on ``port``) in a child process until the block ends."""
    with (
        tempfile.TemporaryFile() as log,
        # A fixed argument list: our own interpreter running known modules.
        subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=log, cwd=_ROOT, env=env
        ) as process,
    ):
        try:
            if cpu is not None and hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(process.pid, {cpu})
            _wait_until_listening(port, process, log)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def _stack(settings: Settings) -> Iterator[dict[str, str]]:
    """The sandbox and the two apps, running; yields each app's base URL.

    The apps share one CPU (only one is loaded at a time); the sandbox stays with this
    process on the other, so the apps' own cost is what differs between the two.
    """
    sandbox_port, *app_ports = _free_ports(1 + len(APPS))
    sandbox = [sys.executable, "-m", "vlens_async", "sandbox", "--port", str(sandbox_port)]
    sandbox += ["--api-key", API_KEY, "--tenancy", TENANCY, "--fixed-otp", "123456"]
    sandbox += ["--resend-cooldown", "0"]
    env = {**os.environ, "VLENS_API_KEY": API_KEY, "VLENS_TENANCY_NAME": TENANCY}
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(_serving(sandbox, sandbox_port, None, env))
        env["VLENS_BASE_URL"] = base
        urls = {}
        for (name, factory), port in zip(_FACTORIES.items(), app_ports, strict=True):
            command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host"]
            command += ["127.0.0.1", "--port", str(port), "--log-level", "warning"]
            # An app idles while the other is measured: keep its connections (default 5 s).
            command += ["--no-access-log", "--backlog", "2048", "--timeout-keep-alive", "120"]
            urls[name] = stack.enter_context(_serving(command, port, settings.server_cpu, env))
        yield urls


class _Load:
    """The load generator: one aiohttp session, distinct phone numbers, latencies recorded."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.next_phone = 0
        self.errors: dict[str, int] = dict.fromkeys(APPS, 0)

    async def run(self, name: str, base_url: str, total: int, into: list[float]) -> float:
        """Requests per second of ``total`` sign-ups with CONCURRENCY in flight."""
        url = base_url + "/signup/start"
        clock = time.perf_counter

        async def call(index: int) -> None:
            began = clock()
            body = json.dumps({"phone_number": phone(index)}).encode()
            headers = {"Content-Type": "application/json"}
            async with self.session.post(url, data=body, headers=headers) as response:
                await response.read()
            into.append(clock() - began)
            if response.status != 200:
                self.errors[name] += 1

        start, self.next_phone = self.next_phone, self.next_phone + total
        return total / await run_concurrently(call, total, CONCURRENCY, start)


@attrs.frozen
class _Measured:
    samples: dict[str, list[float]]  # each app's latencies, every round's requests
    rates: dict[str, list[float]]  # each app's requests per second, one per round
    errors: dict[str, int]  # each app's answers other than 200 (warm-up not counted)


async def _measure(urls: dict[str, str], size: _Size) -> _Measured:
    measured = _Measured({name: [] for name in APPS}, {name: [] for name in APPS}, {})
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        load = _Load(session)
        for name in APPS:  # open every connection, and warm each app, before timing
            await load.run(name, urls[name], CONCURRENCY * 2, [])
        load.errors = measured.errors | dict.fromkeys(APPS, 0)
        order = list(APPS)
        for _ in range(size.rounds):
            for name in order:
                into = measured.samples[name]
                measured.rates[name].append(await load.run(name, urls[name], size.requests, into))
            order.reverse()
    return attrs.evolve(measured, errors=load.errors)


def webapp(settings: Settings) -> ScenarioResult:
    """Scenario 6: p50/p99 and throughput of ``POST /signup/start``, c=500, SDK and raw."""
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("fastapi") is None:
        raise RuntimeError(
            'the webapp scenario needs the examples extra: pip install ".[examples]"'
        )
    size = _Size(requests=1_500, rounds=1) if settings.quick else _Size(requests=2_500, rounds=4)
    with _stack(settings) as urls:
        measured = asyncio.run(_measure(urls, size))
    failed = measured.errors
    if any(count > size.requests * size.rounds // 10 for count in failed.values()):
        raise RuntimeError(f"more than 10% of the sign-ups failed, figures would mislead: {failed}")
    return _result(size, measured)


def _millis(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def _result(size: _Size, measured: _Measured) -> ScenarioResult:
    p50 = {name: percentile(values, 50) for name, values in measured.samples.items()}
    p99 = {name: percentile(values, 99) for name, values in measured.samples.items()}
    rps = {name: statistics.median(values) for name, values in measured.rates.items()}
    # Each round's SDK figure against the raw one measured next to it cancels slow drift.
    rounds = zip(measured.rates["sdk"], measured.rates["raw"], strict=True)
    ratios = {
        "p50": p50["sdk"] / p50["raw"],
        "p99": p99["sdk"] / p99["raw"],
        "rps": statistics.median(sdk / raw for sdk, raw in rounds),
    }
    rows = [
        Row(label, f"p50 {_millis(p50[name])}, p99 {_millis(p99[name])}, {rate(rps[name])}")
        for name, label in APPS.items()
    ]
    rows[0] = attrs.evolve(
        rows[0],
        comparison=f"SDK/raw p50 = {ratios['p50']:.2f}, p99 = {ratios['p99']:.2f} "
        f"(lower is faster); throughput SDK/raw = {ratios['rps']:.2f}",
    )
    figures: dict[str, float] = {"requests": size.requests, "rounds": size.rounds}
    figures["concurrency"] = CONCURRENCY
    for name in APPS:
        figures |= {f"{name}_p50_ms": p50[name] * 1e3, f"{name}_p99_ms": p99[name] * 1e3}
        figures |= {f"{name}_rps": rps[name], f"{name}_errors": measured.errors[name]}
    figures |= {f"sdk_vs_raw_{key}": value for key, value in ratios.items()}
    title = f"6. Sign-up route via uvicorn, c={CONCURRENCY}, {size.rounds} x N={size.requests:,}"
    notes = _notes(measured.errors)
    return ScenarioResult(name="webapp", title=title, figures=figures, rows=rows, notes=notes)


def _notes(errors: dict[str, int]) -> list[str]:
    notes = [
        "load generator (aiohttp) and `vlens sandbox` on one CPU, each uvicorn app on the other "
        "where the OS lets us pin; p50/p99 over every round's requests, throughput the median "
        "of the rounds, its ratio the median of each round's SDK/raw.",
    ]
    if any(errors.values()):
        notes.append(f"answers other than 200 (deadline or overload): {errors}")
    return notes


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.webapp``: ``python -m benchmarks --only webapp``."""
    from .__main__ import main as run

    return run(["--only", "webapp", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
