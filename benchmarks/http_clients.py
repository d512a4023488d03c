"""Scenarios 1 and 2: the SDK over aiohttp against raw aiohttp and raw httpx, same server.

Each client makes the same POST (the send-phone-OTP body) and decodes the JSON answer; the SDK
also validates the number and decodes ``data`` into a ``RegistrationState``. The three clients
are measured in interleaved rounds so that drift on the machine hits them alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import AsyncIterator

import aiohttp
import attrs
import httpx

from vlens_async import RetryPolicy, VlensClient
from vlens_async._call import Operation
from vlens_async._requests import PhoneOtpBody
from vlens_async._validation import check_phone
from vlens_async.services.registration import SEND_PHONE_OTP
from vlens_transports import AiohttpTransport, Request, Timeout

from ._common import (
    API_KEY,
    HEADERS,
    PATH,
    TENANCY,
    Call,
    percentile,
    phone,
    run_concurrently,
    time_each,
)
from ._report import Check, Row, ScenarioResult, Settings, micros, rate
from .server import running_server

__all__ = ["CLIENTS", "latency", "open_clients", "throughput"]

CONCURRENCY = 64
CLIENTS = {"sdk": "SDK over AiohttpTransport", "aiohttp": "raw aiohttp", "httpx": "raw httpx"}
# Throughput only: the SDK's pipeline (validation, encode, deadline, retry rules, envelope checks)
# with ``data`` returned as the parsed dict, to show what typed results cost on top of it.
UNTYPED = "SDK pipeline, data left as a dict (diagnostic)"
_UNTYPED_OPERATION = Operation(
    "registration.send_phone_otp", SEND_PHONE_OTP.path, SEND_PHONE_OTP.effect, object
)
# Throughput only: the SDK's transport layer by itself (the request the SDK sends, with its
# per-attempt timeouts and 60 s deadline; the body parsed as JSON, no pipeline around it).
TRANSPORT = "AiohttpTransport alone, no SDK pipeline (diagnostic)"
DIAGNOSTIC_ROWS = {"sdk_untyped": UNTYPED, "transport": TRANSPORT}
# Both pools allow more connections than there are callers, as the SDK's default (100) does.
POOL = 100


@attrs.frozen(kw_only=True)
class _Size:
    requests: int
    rounds: int


def _sdk_call(client: VlensClient) -> Call:
    async def call(index: int) -> object:
        return await client.registration.send_phone_otp(phone(index))

    return call


def _sdk_untyped_call(client: VlensClient) -> Call:
    caller = client._caller  # internal on purpose: no public call skips the typed result

    async def call(index: int) -> object:
        body = PhoneOtpBody(phone_number=check_phone("phone_number", phone(index)))
        return await caller.call(_UNTYPED_OPERATION, body)

    return call


def _transport_call(transport: AiohttpTransport, url: str) -> Call:
    headers = {**HEADERS, "X-Request-Id": "0" * 32}
    timeout = Timeout()

    async def call(index: int) -> object:
        body = json.dumps({"phoneNumber": phone(index)}).encode()
        request = Request(
            method="POST",
            url=url,
            headers=headers,
            content=body,
            timeout=timeout,
            deadline=time.monotonic() + 60.0,
        )
        response = await transport.send(request)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return json.loads(response.content)

    return call


def aiohttp_call(session: aiohttp.ClientSession, url: str) -> Call:
    async def call(index: int) -> object:
        body = json.dumps({"phoneNumber": phone(index)}).encode()
        async with session.post(url, data=body, headers=HEADERS) as response:
            response.raise_for_status()
            return json.loads(await response.read())

    return call


def _httpx_call(client: httpx.AsyncClient, url: str) -> Call:
    async def call(index: int) -> object:
        body = json.dumps({"phoneNumber": phone(index)}).encode()
        response = await client.post(url, content=body, headers=HEADERS)
        response.raise_for_status()
        return json.loads(response.content)

    return call


@contextlib.asynccontextmanager
async def open_clients(base_url: str) -> AsyncIterator[dict[str, Call]]:
    """The three clients, open and pointed at ``base_url``, as one call function each."""
    async with contextlib.AsyncExitStack() as stack:
        sdk = await stack.enter_async_context(
            VlensClient(API_KEY, base_url=base_url, tenancy_name=TENANCY, retry=RetryPolicy())
        )
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL, keepalive_timeout=15))
        )
        limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
        raw_httpx = await stack.enter_async_context(httpx.AsyncClient(limits=limits))
        transport = AiohttpTransport(limit=POOL)
        stack.push_async_callback(transport.aclose)
        url = base_url + PATH
        yield {
            "sdk": _sdk_call(sdk),
            "aiohttp": aiohttp_call(session, url),
            "httpx": _httpx_call(raw_httpx, url),
            "sdk_untyped": _sdk_untyped_call(sdk),
            "transport": _transport_call(transport, url),
        }


def _requests_for(name: str, size: _Size) -> int:
    """httpx is slow at high concurrency (encode/httpx#3215): give it a tenth of the requests."""
    return max(size.requests // 10, 200) if name == "httpx" else size.requests


async def _measure_throughput(base_url: str, size: _Size) -> dict[str, list[float]]:
    """Requests per second of each client in each round.

    The SDK, raw aiohttp and the diagnostic variants run in an order that flips every round, so
    that drift on the machine hits them alike; each round's figure is compared with raw
    aiohttp's of the same round. httpx runs in rounds of its own
    afterwards: interleaved, one of each pair was measured right after its slow,
    connection-heavy rounds, and quick runs swung by more than 10% with the order alone.
    """
    rates: dict[str, list[float]] = {name: [] for name in (*CLIENTS, *DIAGNOSTIC_ROWS)}
    async with open_clients(base_url) as calls:
        for call in calls.values():  # open the pool's connections before timing
            await run_concurrently(call, CONCURRENCY * 4, CONCURRENCY)
        paired = ["sdk", "aiohttp", *DIAGNOSTIC_ROWS]
        for _ in range(size.rounds):
            for name in paired:
                seconds = await run_concurrently(calls[name], size.requests, CONCURRENCY)
                rates[name].append(size.requests / seconds)
            paired.reverse()
        count = _requests_for("httpx", size)
        for _ in range(size.rounds):
            seconds = await run_concurrently(calls["httpx"], count, CONCURRENCY)
            rates["httpx"].append(count / seconds)
    return rates


def throughput(settings: Settings) -> ScenarioResult:
    """Scenario 1: requests per second at concurrency 64."""
    size = _Size(requests=1_000, rounds=2) if settings.quick else _Size(requests=2_000, rounds=30)
    with running_server(settings.server_cpu) as base_url:
        rates = asyncio.run(_measure_throughput(base_url, size))
    median = {name: statistics.median(values) for name, values in rates.items()}
    # Each round's SDK figure against the raw figure measured next to it cancels slow drift.
    paired = [sdk / raw for sdk, raw in zip(rates["sdk"], rates["aiohttp"], strict=True)]
    versus_aiohttp = Check("SDK/raw aiohttp", statistics.median(paired), 0.80)
    versus_httpx = median["sdk"] / median["httpx"]
    diagnostic = {
        name: statistics.median(
            [each / raw for each, raw in zip(rates[name], rates["aiohttp"], strict=True)]
        )
        for name in DIAGNOSTIC_ROWS
    }
    rows = [
        Row(CLIENTS["sdk"], rate(median["sdk"]), str(versus_aiohttp)),
        Row(CLIENTS["aiohttp"], rate(median["aiohttp"])),
        Row(CLIENTS["httpx"], rate(median["httpx"]), f"SDK/raw httpx = {versus_httpx:.2f}"),
        Row(
            UNTYPED,
            rate(median["sdk_untyped"]),
            f"untyped/raw aiohttp = {diagnostic['sdk_untyped']:.2f}",
        ),
        Row(
            TRANSPORT,
            rate(median["transport"]),
            f"transport/raw aiohttp = {diagnostic['transport']:.2f}",
        ),
    ]
    figures: dict[str, float] = {
        "requests": size.requests,
        "httpx_requests": _requests_for("httpx", size),
        "rounds": size.rounds,
        "concurrency": CONCURRENCY,
        **{f"{name}_rps": value for name, value in median.items()},
        "sdk_vs_aiohttp": versus_aiohttp.ratio,
        "sdk_vs_aiohttp_min": min(paired),
        "sdk_vs_aiohttp_max": max(paired),
        "sdk_vs_httpx": versus_httpx,
        **{f"{name}_vs_aiohttp": value for name, value in diagnostic.items()},
    }
    title = f"1. Throughput, c={CONCURRENCY}, {size.rounds} rounds of N={size.requests:,} (median)"
    return ScenarioResult(
        name="throughput",
        title=title,
        figures=figures,
        rows=rows,
        checks=[versus_aiohttp],
        notes=[
            f"SDK/raw aiohttp per round ranged {min(paired):.2f}-{max(paired):.2f}; the ratio "
            "shown is the median of the rounds' ratios.",
            f"raw httpx made {_requests_for('httpx', size):,} requests a round, not "
            f"{size.requests:,}: its pool is slow at high concurrency (encode/httpx#3215).",
        ],
    )


async def _measure_latency(base_url: str, size: _Size) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in CLIENTS}
    async with open_clients(base_url) as calls:
        for call in calls.values():
            await time_each(call, 100)
        for _ in range(size.rounds):
            for name in CLIENTS:
                samples[name] += await time_each(calls[name], size.requests)
    return samples


def latency(settings: Settings) -> ScenarioResult:
    """Scenario 2: p50 and p99 of one call at a time."""
    size = _Size(requests=300, rounds=1) if settings.quick else _Size(requests=3_000, rounds=3)
    with running_server(settings.server_cpu) as base_url:
        samples = asyncio.run(_measure_latency(base_url, size))
    p50 = {name: percentile(values, 50) for name, values in samples.items()}
    p99 = {name: percentile(values, 99) for name, values in samples.items()}
    rows = []
    for name, label in CLIENTS.items():
        comparison = ""
        if name != "sdk":
            comparison = (
                f"SDK/{label} p50 = {p50['sdk'] / p50[name]:.2f}, "
                f"p99 = {p99['sdk'] / p99[name]:.2f} (lower is faster)"
            )
        rows.append(Row(label, f"p50 {micros(p50[name])}, p99 {micros(p99[name])}", comparison))
    figures: dict[str, float] = {"requests": size.requests * size.rounds}
    for name in CLIENTS:
        figures[f"{name}_p50_us"] = p50[name] * 1e6
        figures[f"{name}_p99_us"] = p99[name] * 1e6
    title = f"2. Latency, c=1, N={size.requests * size.rounds:,}"
    return ScenarioResult(name="latency", title=title, figures=figures, rows=rows)
