"""``vlens otp bulk --redis URL --job NAME`` run by several worker processes against a served
sandbox and a real redis-server: every number texted at most once, one final record each."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from tests.bulk.conftest import (
    HANG_GUARD,
    bulk_command,
    bulk_env,
    number,
    outbox,
    records,
    run_bulk,
    served_sandbox,
    wait_for,
)
from vlens_async import RateLimiter, VlensError
from vlens_async.cli import main
from vlens_async.cli._stoppable import StoppableLimiter
from vlens_async.redis import RedisRateLimiter

from ..conftest import free_port
from .processes import Processes
from .server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
FAULTY_SANDBOX = str(ROOT / "tests" / "bulk" / "faulty_sandbox.py")
NUMBERS = [number(i) for i in range(60)]
PASSWORD = "s3cret-redis-pass"


@contextlib.contextmanager
def slow_sandbox(tmp_path: Path, delay: float) -> Iterator[tuple[int, Path]]:
    """A served sandbox whose sends take ``delay`` s (no other fault); yields its port and its
    log of sends."""
    assert delay > 0, "faulty_sandbox.py schedules random faults when --latency is 0"
    port, seen = free_port(), tmp_path / "seen.txt"
    command = [sys.executable, FAULTY_SANDBOX, "--port", str(port)]
    command += ["--seen", str(seen), "--latency", str(delay)]
    with Processes() as own:
        server = own.start(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert server.stdout is not None
        assert f"http://127.0.0.1:{port}" in server.stdout.readline()
        try:
            yield port, seen
        finally:
            server.terminate()  # a clean stop (killed on leaving `own` if it takes too long)
            server.communicate(timeout=HANG_GUARD)


def numbers_file(tmp_path: Path) -> Path:
    source = tmp_path / "numbers.txt"
    source.write_text("".join(f"{n}\n" for n in NUMBERS))
    return source


def worker(
    processes: Processes, tmp_path: Path, out: str, url: str, job: str, port: int, *extra: str
) -> subprocess.Popen[str]:
    """One worker of the job, with a 1 s heartbeat and a shared 200/s budget by default."""
    options = ["--redis", url, "--job", job, "--heartbeat", "1", "--rate", "200/s", *extra]
    command = bulk_command(str(numbers_file(tmp_path)), "--out", str(tmp_path / out), *options)
    return processes.start(
        command, env=bulk_env(port), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for a worker; its exit code and stderr (never a traceback)."""
    _, err = process.communicate(timeout=HANG_GUARD * 3)
    assert "Traceback" not in err, err
    return process.returncode, err


def report(tmp_path: Path, url: str, job: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    """``--report``: exit code, final record per number (each at most once), summary."""
    path = tmp_path / "final.jsonl"
    done = run_bulk("--redis", url, "--job", job, "--report", str(path))
    assert "Traceback" not in done.stderr, done.stderr
    lines = records(path)
    by_number = {line["phone_number"]: line for line in lines}
    assert len(by_number) == len(lines), "a number has two final records"
    return done.returncode, by_number, done.stdout


def entries(path: Path) -> list[dict[str, Any]]:
    """A worker's journal, without the line naming the worker (``"status": "joined"``)."""
    return [r for r in records(path) if r["status"] != "joined"]


def finals(path: Path) -> list[dict[str, Any]]:
    """The outcome records of a worker's journal."""
    return [r for r in entries(path) if r["status"] != "pending"]


def seen_numbers(seen: Path) -> Counter[str]:
    return Counter(seen.read_text().split()) if seen.exists() else Counter()


def test_three_workers_text_every_number_exactly_once(
    processes: Processes, tmp_path: Path, redis_url: str, name: str
) -> None:
    """Three processes on one job: each number texted once, by one of them; the report has
    one `sent` record per number and exits 0."""
    with slow_sandbox(tmp_path, 0.01) as (port, _):
        workers = [
            worker(processes, tmp_path, f"w{i}.jsonl", redis_url, name, port) for i in range(3)
        ]
        for process in workers:
            assert finish(process)[0] == 0
        sms = outbox(port)
    assert sms == Counter(dict.fromkeys(NUMBERS, 1))
    journaled = [r["phone_number"] for i in range(3) for r in finals(tmp_path / f"w{i}.jsonl")]
    assert sorted(journaled) == NUMBERS  # each worker journals only the numbers it sent
    code, final, summary = report(tmp_path, redis_url, name)
    assert code == 0
    assert sorted(final) == NUMBERS
    assert {line["status"] for line in final.values()} == {"sent"}
    assert "60 of 60 numbers recorded: sent 60" in summary


def test_a_killed_worker_leaves_only_its_in_flight_numbers_unknown(
    processes: Processes, tmp_path: Path, redis_url: str, name: str
) -> None:
    """SIGKILL a worker with requests in flight and numbers claimed but waiting for a permit;
    two others finish the job: nobody is texted twice, the waiting numbers are sent by the
    others, the in-flight ones are `unknown`, and the report has one record per number."""
    claims_key = f"vlens:job:{name}:claims"
    with slow_sandbox(tmp_path, 2.0) as (port, seen):
        victim = worker(processes, tmp_path, "victim.jsonl", redis_url, name, port, "--rate", "2/s")

        def pending() -> list[dict[str, Any]]:
            return [r for r in entries(tmp_path / "victim.jsonl") if r["status"] == "pending"]

        wait_for(lambda: len(pending()) >= 2, "two requests in flight", process=victim)
        victim.send_signal(signal.SIGSTOP)  # hold still while its claims are read
        with redis.Redis.from_url(redis_url) as store:
            claims = {k.decode(): v.decode() for k, v in store.hgetall(claims_key).items()}
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=HANG_GUARD)
        others = [
            worker(processes, tmp_path, f"w{i}.jsonl", redis_url, name, port) for i in range(2)
        ]
        for process in others:
            assert finish(process)[0] == 0
        sms = outbox(port)
    waiting = {n for n, claim in claims.items() if claim.startswith("claimed|")}
    answered = {r["phone_number"] for r in finals(tmp_path / "victim.jsonl")}
    in_flight = {r["phone_number"] for r in pending()} - answered
    assert in_flight, "the victim had no request in flight"
    assert waiting, "the victim held no claim waiting for a permit"
    assert max(sms.values()) == 1, "somebody was texted twice"
    code, final, _ = report(tmp_path, redis_url, name)
    assert code == 1  # unknown numbers are not `sent`
    assert sorted(final) == NUMBERS
    unknown = {n for n, line in final.items() if line["status"] == "unknown"}
    assert in_flight <= unknown <= {n for n, c in claims.items() if c.startswith("sending|")}
    for number_ in unknown:
        assert final[number_]["sent"] == "maybe"
        assert final[number_]["error"]["type"] == "WorkerLost"
    for number_ in set(NUMBERS) - unknown:
        assert final[number_]["status"] == "sent"
        assert sms[number_] == 1 == seen_numbers(seen)[number_]


def test_redis_stopped_mid_run_sends_nothing_more_and_the_job_resumes(
    processes: Processes, tmp_path: Path, name: str
) -> None:
    """Redis goes away mid-run: no request without a permit, exit 4 with a clear error (no
    password, no traceback); with Redis back, the worker run again with --resume (as the error
    says) finishes the job: everybody texted once, even a number whose fence Redis ran just
    before it stopped (see test_a_fence_whose_reply_was_lost_is_sent_by_the_resumed_worker)."""
    store = RedisServer(tmp_path, password=PASSWORD, durable=True)
    try:
        with slow_sandbox(tmp_path, 0.05) as (port, seen):
            first = worker(
                processes, tmp_path, "first.jsonl", store.url, name, port, "--rate", "20/s"
            )
            wait_for(lambda: len(finals(tmp_path / "first.jsonl")) >= 5, "5 sent", process=first)
            store.stop()
            code, err = finish(first)
            assert code == 4
            assert "unavailable, nothing sent" in err
            assert "run the workers again" in err
            assert PASSWORD not in err
            journal = entries(tmp_path / "first.jsonl")
            permitted = {r["phone_number"] for r in journal if r["status"] == "pending"}
            refused = [r for r in journal if r["status"] == "failed"]
            assert set(seen_numbers(seen)) <= permitted  # every request had its permit
            # refused a permit, or not started once the run was stopping: certainly not sent
            assert {r["sent"] for r in refused} <= {"no"}
            stopped = {"RateLimiterUnavailableError", "VlensError"}
            assert {r["error"]["type"] for r in refused} <= stopped
            store.start()
            again = worker(processes, tmp_path, "first.jsonl", store.url, name, port, "--resume")
            assert finish(again)[0] == 0
            sms = outbox(port)
        assert sms == Counter(dict.fromkeys(NUMBERS, 1))
        _, final, _ = report(tmp_path, store.url, name)
        assert sorted(final) == NUMBERS
        for number_, line in final.items():
            assert line["status"] == "sent" or number_ in permitted
    finally:
        store.stop()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["INPUT", "--out", "OUT", "--redis", "redis://127.0.0.1:1/0"], "--job"),
        (["INPUT", "--out", "OUT", "--job", "j"], "--redis"),
        (["--report", "R", "--job", "j"], "--redis"),
        (["INPUT", "--report", "R", "--redis", "REDIS", "--job", "j"], "--report"),
        (["-", "--out", "OUT", "--redis", "REDIS", "--job", "j"], "INPUT"),
        (["INPUT", "--out", "OUT", "--redis", "REDIS", "--job", "no spaces"], "--job"),
        (["INPUT", "--out", "OUT", "--redis", "http://x", "--job", "j"], "--redis"),
    ],
)
def test_job_options_are_checked_before_anything_is_written(
    tmp_path: Path,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    named: str,
) -> None:
    """Bad or missing job options exit 2 naming the option, and leave no --out behind."""
    where = {"INPUT": str(numbers_file(tmp_path)), "OUT": str(tmp_path / "out.jsonl")}
    where |= {"R": str(tmp_path / "final.jsonl"), "REDIS": redis_url}
    argv = ["otp", "bulk", *(where.get(arg, arg) for arg in args)]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VLENS_API_KEY", "sandbox-key")
        assert main(argv) == 2
    assert f"vlens: error: {named}" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()
    assert not (tmp_path / "final.jsonl").exists()


def test_a_worker_with_another_input_is_refused(
    tmp_path: Path, redis_url: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Workers of one job must read the same numbers: another input exits 2, sends nothing."""
    other = tmp_path / "other.txt"
    other.write_text(f"{number(999)}\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VLENS_API_KEY", "sandbox-key")
        common = ["--redis", redis_url, "--job", name, "--sandbox"]
        source = str(numbers_file(tmp_path))
        assert main(["otp", "bulk", source, "--out", str(tmp_path / "a.jsonl"), *common]) == 0
        assert main(["otp", "bulk", str(other), "--out", str(tmp_path / "b.jsonl"), *common]) == 2
    assert "was started with another input" in capsys.readouterr().err
    assert finals(tmp_path / "b.jsonl") == []


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
async def test_a_wait_for_a_permit_ends_at_once_when_the_run_stops(
    redis_url: str, name: str, shared: bool
) -> None:
    """A caller waiting for a permit when the run stops is refused at once (nothing sent) and
    the permit it never got is not left counted; with Redis as with the in-memory limiter."""
    inner: Any = RedisRateLimiter(redis_url, key=name, limits=["1/min"]) if shared else None
    inner = inner or RateLimiter(["1/min"])
    stopping = asyncio.Event()
    limiter = StoppableLimiter(inner, stopping)
    try:
        async with limiter:  # the minute's one permit
            waiting = asyncio.ensure_future(limiter.__aenter__())
            await asyncio.sleep(0.05)
            assert not waiting.done()
            stopping.set()
            with pytest.raises(VlensError, match="the run was stopped"):
                await asyncio.wait_for(waiting, HANG_GUARD)
        with pytest.raises(VlensError, match="the run was stopped"):
            await limiter.__aenter__()
    finally:
        if shared:
            await inner.aclose()
    assert inner.granted == 1
    if shared:
        async with Redis.from_url(redis_url) as store:
            assert await store.zcard(f"vlens:rate:{{{name}}}:flight") == 0


def _spelled(index: int, style: int) -> str:
    """``number(index)`` written one of three ways."""
    digits = number(index)[3:]  # after "+20"
    return [f"+20 {digits[:3]} {digits[3:6]} {digits[6:]}", f"0020{digits}", number(index)][style]


def test_claims_are_on_the_normalised_number_within_and_across_workers(
    processes: Processes, tmp_path: Path, redis_url: str, name: str
) -> None:
    """Item 8: two workers whose inputs spell the same numbers differently (each input also
    repeats every number in another spelling) claim the E.164 number: each is texted once,
    and the report has one record per number, under its E.164 form."""
    count = 12
    numbers = [number(i) for i in range(count)]
    inputs = []
    for worker_index in range(2):
        lines = [_spelled(i, worker_index) for i in range(count)]
        lines += [_spelled(i, 2 - worker_index) for i in range(count)]
        path = tmp_path / f"input{worker_index}.txt"
        path.write_text("".join(f"{line}\n" for line in lines))
        inputs.append(path)
    options = ["--redis", redis_url, "--job", name, "--heartbeat", "1", "--rate", "200/s"]
    with slow_sandbox(tmp_path, 0.01) as (port, seen):
        workers = [
            processes.start(
                bulk_command(str(path), "--out", str(tmp_path / f"w{i}.jsonl"), *options),
                env=bulk_env(port),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for i, path in enumerate(inputs)
        ]
        codes = [finish(process)[0] for process in workers]
        sms = outbox(port)
    assert codes == [0, 0]
    assert sms == Counter(dict.fromkeys(numbers, 1))
    assert seen_numbers(seen) == Counter(dict.fromkeys(numbers, 1))
    code, final, _ = report(tmp_path, redis_url, name)
    assert code == 0
    assert sorted(final) == numbers
    assert {line["status"] for line in final.values()} == {"sent"}


def test_a_refused_attempt_takes_the_number_back_from_sending(
    processes: Processes, tmp_path: Path, redis_url: str, name: str
) -> None:
    """A 429 (Retry-After 5) refuses the first attempt: the ledger's claim goes back from
    `sending` to `claimed` while the number waits, so a worker killed then leaves it to the
    others (sent once by another worker), not `unknown`."""
    source = tmp_path / "one.txt"
    source.write_text(f"{number(1)}\n")
    options = ["--redis", redis_url, "--job", name, "--heartbeat", "1", "--rate", "200/s"]
    fault = "registration.send_phone_otp:rate_limit=5:times=1"  # the job's budget pauses 5 s
    claims_key = f"vlens:job:{name}:claims"
    with served_sandbox("--resend-cooldown", "0", "--fault", fault) as port:

        def run(out: str) -> subprocess.Popen[str]:
            command = bulk_command(str(source), "--out", str(tmp_path / out), *options)
            return processes.start(
                command, env=bulk_env(port), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )

        victim = run("victim.jsonl")
        wait_for(
            lambda: [r.get("sent") for r in entries(tmp_path / "victim.jsonl")] == ["maybe", "no"],
            "the refusal journaled",
            process=victim,
        )
        with redis.Redis.from_url(redis_url) as store:
            claim = store.hget(claims_key, number(1))
        victim.kill()
        victim.communicate(timeout=HANG_GUARD)
        assert claim is not None
        assert claim.decode().startswith("claimed|")
        assert finish(run("other.jsonl"))[0] == 0
        sms = outbox(port)
    assert sms == Counter({number(1): 1})
    code, final, _ = report(tmp_path, redis_url, name)
    assert code == 0
    assert final[number(1)]["status"] == "sent"


def test_a_fence_whose_reply_was_lost_is_sent_by_the_resumed_worker(
    processes: Processes, tmp_path: Path, redis_server: RedisServer, name: str
) -> None:
    """Redis runs a number's fence (`sending`) and goes away before its reply arrives: the
    worker does not send the number and exits 4, while the ledger says it may have been sent.
    Run again with --resume, the worker is the same one in the ledger and its journal knows
    the number was not sent: it is sent, once. (It was settled `unknown`, never sent.)"""
    marker = "marked as possibly written"  # in the SENDING script only
    cutter = processes.start(
        [sys.executable, "-m", "tests.redis.reply_cutter", str(redis_server.port), marker],
        stdout=subprocess.PIPE,
    )
    assert cutter.stdout is not None
    through = f"redis://127.0.0.1:{int(cutter.stdout.readline())}/0"
    with slow_sandbox(tmp_path, 0.01) as (port, _):
        first = worker(processes, tmp_path, "first.jsonl", through, name, port)
        code, err = finish(first)
        assert code == 4, err
        cutter.communicate(timeout=HANG_GUARD)
        assert cutter.returncode == 0  # it cut a fence's reply
        assert outbox(port) == Counter()  # the first fence was cut: nothing was sent
        again = worker(processes, tmp_path, "first.jsonl", redis_server.url, name, port, "--resume")
        assert finish(again)[0] == 0
        sms = outbox(port)
    assert sms == Counter(dict.fromkeys(NUMBERS, 1))
    code, final, _ = report(tmp_path, redis_server.url, name)
    assert code == 0
    assert sorted(final) == NUMBERS
    assert {line["status"] for line in final.values()} == {"sent"}
