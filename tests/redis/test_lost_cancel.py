"""A cancel lost inside a Redis call (before Python 3.12, ``asyncio.wait_for``, which redis-py
wraps around every write, returns the write's result when a cancel comes as it ends) must not
turn an abort into a wait, nor let a stopped task go on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from vlens_async.cli import _bulk, build_parser
from vlens_async.redis import JobLedger, RedisRateLimiter

HANG_GUARD = 60.0  # far longer than any step here takes; only a hang reaches it
SLOW, FAST = "+201000000001", "+201000000000"


async def test_an_abort_whose_cancel_a_ledger_write_lost_still_aborts(
    tmp_path: Path, redis_url: str, name: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Two Ctrl-Cs while the run records an outcome in the ledger: the abort's cancel is lost
    in that write. The run went on as after one Ctrl-C, waiting for the call still in flight
    (up to its deadline), and any further Ctrl-C was ignored. Now it aborts at once: the
    call in flight is recorded `unknown`, exit code 130."""
    record, on_send = JobLedger.record, _bulk._Run.on_send
    lost: list[bool] = []
    slow_in_flight = asyncio.Event()

    async def slow_send(self: Any, raw: str, number: str) -> None:
        if number == FAST:
            await slow_in_flight.wait()  # the other call is in flight before this one ends
        await on_send(self, raw, number)
        if number == SLOW:  # a request written that the server does not answer
            slow_in_flight.set()
            await asyncio.sleep(HANG_GUARD * 2)

    async def record_deaf_to_cancel(self: JobLedger, number: str, *args: Any) -> bool:
        if number == FAST and not lost:
            os.kill(os.getpid(), signal.SIGINT)  # "finishing the calls in flight"
            os.kill(os.getpid(), signal.SIGINT)  # the abort: its cancel lands here...
            try:
                await asyncio.sleep(HANG_GUARD)
            except asyncio.CancelledError:
                lost.append(True)  # ...and is lost: the write returns as if none came
        return await record(self, number, *args)

    monkeypatch.setattr(_bulk._Run, "on_send", slow_send)
    monkeypatch.setattr(JobLedger, "record", record_deaf_to_cancel)
    source, out = tmp_path / "numbers.txt", tmp_path / "out.jsonl"
    source.write_text(f"{FAST}\n{SLOW}\n")
    argv = ["otp", "bulk", str(source), "--out", str(out), "--sandbox", "--concurrency", "2"]
    args = build_parser().parse_args([*argv, "--redis", redis_url, "--job", name])
    run = asyncio.ensure_future(args.run(args))
    try:
        await asyncio.wait({run}, timeout=HANG_GUARD / 3)  # a hang guard, not a timing
        assert run.done(), "the abort waits for the call in flight: its cancel was lost"
    finally:
        run.cancel()
        await asyncio.wait({run})
    assert lost == [True]
    assert run.result() == 130
    finals = {
        line["phone_number"]: line["status"]
        for line in map(json.loads, out.read_text().splitlines())
        if line["status"] not in ("joined", "pending")
    }
    assert finals == {FAST: "sent", SLOW: "unknown"}
    shown = capsys.readouterr()
    assert "2 numbers in" in shown.out
    assert "sent 1, unknown 1" in shown.out
    assert "Traceback" not in shown.err


async def test_a_call_whose_fence_lost_the_abort_cancel_is_not_sent(
    tmp_path: Path, redis_url: str, name: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The abort cancels the calls in flight; one whose fence (the ledger's `sending`) lost
    that cancel went on: its request was sent after the abort, and the abort waited for its
    answer. Now it ends at the fence, nothing sent, and the abort does not wait."""
    record, sending, on_send = JobLedger.record, JobLedger.sending, _bulk._Run.on_send
    lost: list[bool] = []
    sent_after_abort: list[str] = []
    slow_at_fence = asyncio.Event()

    async def answer_slowly(self: Any, raw: str, number: str) -> None:
        if number == FAST:
            await slow_at_fence.wait()  # the other call is at its fence before this one ends
        await on_send(self, raw, number)
        if number == SLOW:  # past the fence: the request is written, slow to answer
            sent_after_abort.append(number)
            await asyncio.sleep(HANG_GUARD * 2)

    async def fence_deaf_to_cancel(self: JobLedger, number: str) -> bool:
        if number == SLOW:
            slow_at_fence.set()
            try:
                await asyncio.sleep(HANG_GUARD)
            except asyncio.CancelledError:
                lost.append(True)  # the abort's cancel, lost in the fence's write
        return await sending(self, number)

    async def record_then_abort(self: JobLedger, number: str, *args: Any) -> bool:
        if number == FAST:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return await record(self, number, *args)

    monkeypatch.setattr(_bulk._Run, "on_send", answer_slowly)
    monkeypatch.setattr(JobLedger, "sending", fence_deaf_to_cancel)
    monkeypatch.setattr(JobLedger, "record", record_then_abort)
    source, out = tmp_path / "numbers.txt", tmp_path / "out.jsonl"
    source.write_text(f"{FAST}\n{SLOW}\n")
    argv = ["otp", "bulk", str(source), "--out", str(out), "--sandbox", "--concurrency", "2"]
    args = build_parser().parse_args([*argv, "--redis", redis_url, "--job", name])
    run = asyncio.ensure_future(args.run(args))
    try:
        await asyncio.wait({run}, timeout=HANG_GUARD / 3)  # a hang guard, not a timing
        assert run.done(), "the abort waits for a call that lost its cancel and was sent"
    finally:
        run.cancel()
        await asyncio.wait({run})
    assert lost == [True]
    assert sent_after_abort == []
    assert run.result() == 130
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["status"] for line in lines if line.get("phone_number") == SLOW] == []
    assert "Traceback" not in capsys.readouterr().err


async def test_closing_the_limiter_cancels_the_waiters_even_if_the_pump_lost_its_cancel(
    redis_url: str, name: str
) -> None:
    """aclose() cancels the callers still waiting for a permit by cancelling the task that
    asks Redis for them. When that cancel was lost in its Redis call, the task went on: it
    handed a permit to a caller after aclose(), on a client reconnected behind the closed
    one. Now it stops after that call, and the callers waiting are cancelled."""
    limiter = RedisRateLimiter(redis_url, key=name, limits=["10/s"], timeout=1.0)
    await limiter.ping()
    acquire = limiter._acquire
    asking = asyncio.Event()
    lost: list[bool] = []

    async def deaf_to_cancel(keys: Any, args: Any) -> Any:
        asking.set()
        try:
            await asyncio.sleep(HANG_GUARD)
        except asyncio.CancelledError:
            lost.append(True)  # the write returns as if no cancel had come
        return await acquire(keys, args)

    limiter._acquire = deaf_to_cancel  # type: ignore[assignment]
    waiting = asyncio.ensure_future(limiter.acquire())
    await asyncio.wait_for(asking.wait(), HANG_GUARD)
    await limiter.aclose()
    await asyncio.wait({waiting}, timeout=HANG_GUARD)
    assert lost == [True]
    assert waiting.cancelled(), "a caller got a permit after aclose()"
    assert limiter.granted == 0
