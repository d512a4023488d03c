"""The per-call deadline as the Caller's one-timer watchdog enforces it.

Every test here is meant to fail if ``_Watchdog`` cancels the wrong calls, forgets to re-arm for
the next oldest call, leaks entries or timers, or turns a cancel that is not its own into an error.
Real but short sleeps: the module runs in about two seconds.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any, TypeVar

import pytest

from vlens_async import (
    OutcomeUnknownError,
    RetryPolicy,
    ServerError,
    VlensClient,
    VlensError,
    VlensTimeoutError,
)
from vlens_async._call import _Attempts
from vlens_async.testing import envelope_response, error_response
from vlens_transports import Request, Response
from vlens_transports._watchdog import Watchdog as _Watchdog

from .conftest import make_client, swallow_a_cancel

T = TypeVar("T")

CHECK = "registration.check_existence"
SEND = "registration.send_phone_otp"
# Generous bound for any call that should end at a deadline of a few tenths of a second.
BOUND = 2.0


def phone(index: int) -> str:
    """A distinct valid E.164 number per call, so the handler can tell the calls apart."""
    return f"+2010{index:08d}"


async def read_call(client: VlensClient, number: str) -> object:
    """A read operation (retried on any transient failure)."""
    return await client.registration.check_existence(phone_number=number)


async def effect_call(client: VlensClient, number: str) -> object:
    """An effect operation (a deadline during the send makes its outcome unknown)."""
    return await client.registration.send_phone_otp(number)


Call = Callable[[VlensClient, str], Coroutine[Any, Any, object]]
CALLS: dict[str, tuple[Call, str]] = {"read": (read_call, CHECK), "effect": (effect_call, SEND)}


def ok() -> Response:
    """A success envelope that decodes as both ExistenceResult and RegistrationState."""
    return envelope_response({"exists": True})


class Gate:
    """A FakeTransport handler: numbers in ``held`` wait for ``release`` (forever if it is never
    set); every other number is answered at once. Records what it saw and what was cancelled."""

    def __init__(self, held: Iterable[str] = ()) -> None:
        self.held = set(held)
        self.release = asyncio.Event()
        self.seen: list[str] = []
        self.cancelled: list[str] = []

    async def __call__(self, request: Request) -> Response:
        number = json.loads(request.content)["phoneNumber"]
        self.seen.append(number)
        if number in self.held:
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append(number)
                raise
        return ok()


async def answer_at_once(request: Request) -> Response:
    """Answer without yielding to the loop: such a call can never reach its deadline."""
    return ok()


class Tasks:
    """Starts tasks for a test and, at teardown, cancels and awaits whatever is left, so that a
    failing test leaves no task running and no exception unretrieved."""

    def __init__(self) -> None:
        self.started: list[asyncio.Task[Any]] = []

    def __call__(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self.started.append(task)
        return task


@pytest.fixture
async def spawn() -> AsyncIterator[Tasks]:
    tasks = Tasks()
    yield tasks
    for task in tasks.started:
        task.cancel()
    await asyncio.gather(*tasks.started, return_exceptions=True)


def watchdog(client: VlensClient) -> _Watchdog[_Attempts]:
    return client._caller._watchdog


def in_flight(client: VlensClient) -> list[_Attempts]:
    """The calls the client's watchdog is tracking, oldest first."""
    return list(watchdog(client)._calls)


def pending_fire_timers(client: VlensClient) -> int:
    """How many live timers on the running loop would call this client's ``_Watchdog._fire``."""
    loop = asyncio.get_running_loop()
    scheduled: list[Any] = getattr(loop, "_scheduled", [])
    fire = watchdog(client)._fire
    return sum(
        1
        for handle in scheduled
        if not handle.cancelled() and getattr(handle, "_callback", None) == fire
    )


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Yield to the loop until ``predicate()`` holds (fail after BOUND seconds)."""
    give_up = time.monotonic() + BOUND
    while not predicate():
        assert time.monotonic() < give_up, f"timed out waiting until {what}"
        await asyncio.sleep(0.001)


def not_cancelling() -> None:
    """The current task carries no pending cancellation (a stray one would break later awaits)."""
    if sys.version_info >= (3, 11):
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0


def assert_deadline_error(error: BaseException, kind: str, operation: str) -> None:
    """The error a call ended by its deadline raises: a timeout, or outcome-unknown for effects."""
    if kind == "read":
        assert isinstance(error, VlensTimeoutError)
        assert error.operation == operation
        assert "deadline" in str(error)
    else:
        assert isinstance(error, OutcomeUnknownError)
        assert error.operation == operation
        assert isinstance(error.__cause__, VlensTimeoutError)


# -- 1. many concurrent calls: exactly the hanging ones are cancelled, nothing leaks -----------


@pytest.mark.parametrize("kind", ["read", "effect"])
async def test_concurrent_calls_only_the_hanging_ones_hit_the_deadline(
    kind: str, spawn: Tasks
) -> None:
    """50 calls at once, every third one hangs: those 17 end with the deadline error, the other
    33 succeed, and once all are done the watchdog tracks no call."""
    call, operation = CALLS[kind]
    numbers = [phone(i) for i in range(50)]
    hanging = set(numbers[::3])
    gate = Gate(hanging)
    client, transport = make_client(gate, retry=RetryPolicy(deadline=0.1))
    async with client:
        started = time.monotonic()
        tasks = [spawn(call(client, number)) for number in numbers]
        await until(lambda: len(gate.seen) == len(numbers), "every call reached the transport")
        # Answered calls leave the map at once; the hanging ones stay until their deadline.
        await until(
            lambda: sum(task.done() for task in tasks) == len(numbers) - len(hanging),
            "the answered calls are done",
        )
        if time.monotonic() < started + 0.1:  # no deadline can have fired yet (else: loaded box)
            assert len(in_flight(client)) == len(hanging)
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), BOUND)
        elapsed = time.monotonic() - started
    for number, result in zip(numbers, results, strict=True):
        if number in hanging:
            assert isinstance(result, BaseException)
            assert_deadline_error(result, kind, operation)
        else:
            assert not isinstance(result, BaseException), result
    assert sorted(gate.cancelled) == sorted(hanging)
    assert len(transport.requests) == len(numbers)  # a deadline is final: nothing was resent
    assert elapsed < BOUND
    assert in_flight(client) == []


# -- 2. each call has its own deadline: start + span, not the oldest call's --------------------


async def test_later_call_survives_an_earlier_calls_deadline(spawn: Tasks) -> None:
    """A hangs from t=0, B starts at t=0.15 (deadline 0.2): A's deadline fires while B is in
    flight; A times out, B stays tracked with the timer re-armed, and B then succeeds."""
    a_number, b_number = phone(1), phone(2)
    gate = Gate({a_number, b_number})
    client, _ = make_client(gate, retry=RetryPolicy(deadline=0.2))
    async with client:
        task_a = spawn(read_call(client, a_number))
        await asyncio.sleep(0.15)
        task_b = spawn(read_call(client, b_number))
        await until(lambda: b_number in gate.seen, "B reached the transport")
        with pytest.raises(VlensTimeoutError):
            await asyncio.wait_for(task_a, BOUND)
        # A's deadline has fired; B (due 0.15 s later) must not have been touched.
        assert not task_b.done()
        assert gate.cancelled == [a_number]
        (b_attempts,) = in_flight(client)
        assert b_attempts.deadline is not None
        assert b_attempts.deadline > time.monotonic()
        assert watchdog(client)._timer is not None  # re-armed for B
        gate.release.set()
        assert await asyncio.wait_for(task_b, BOUND) is not None
    assert in_flight(client) == []


async def test_each_hanging_call_ends_at_its_own_deadline(spawn: Tasks) -> None:
    """Three hanging calls started 0.05 s apart each end no earlier than start + deadline, and
    all end: after the first fires, the timer is re-armed for the next oldest, and so on."""
    deadline = 0.1
    gate = Gate({phone(i) for i in range(3)})
    client, _ = make_client(gate, retry=RetryPolicy(deadline=deadline))

    async def timed(number: str) -> tuple[float, BaseException | None]:
        started = time.monotonic()
        try:
            await read_call(client, number)
        except VlensError as error:
            return time.monotonic() - started, error
        return time.monotonic() - started, None

    async with client:
        tasks = []
        for i in range(3):
            tasks.append(spawn(timed(phone(i))))
            await asyncio.sleep(0.05)
        outcomes = await asyncio.wait_for(asyncio.gather(*tasks), BOUND)
    for elapsed, error in outcomes:
        assert isinstance(error, VlensTimeoutError)
        assert deadline <= elapsed < BOUND
    assert in_flight(client) == []


# -- 3. the caller's own cancellation ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["read", "effect"])
async def test_user_cancel_propagates_and_untracks_the_call(kind: str, spawn: Tasks) -> None:
    """task.cancel() during the send raises CancelledError (never a Vlens error), removes the
    call from the watchdog, leaves the cancelling task clean, and the client still works."""
    call, _ = CALLS[kind]
    gate = Gate({phone(1)})
    client, transport = make_client(gate, retry=RetryPolicy(deadline=1.0))
    async with client:
        task = spawn(call(client, phone(1)))
        await until(lambda: gate.seen == [phone(1)], "the call reached the transport")
        assert len(in_flight(client)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        assert in_flight(client) == []
        assert gate.cancelled == [phone(1)]
        not_cancelling()
        assert await asyncio.wait_for(call(client, phone(2)), BOUND) is not None
    assert len(transport.requests) == 2
    assert in_flight(client) == []


# -- 4. no deadline: never tracked ------------------------------------------------------------


async def test_call_without_deadline_is_never_tracked(spawn: Tasks) -> None:
    """RetryPolicy(deadline=None): the call is not in the watchdog, no timer is armed, and it
    outlives the deadline a deadline-bound copy of the same client enforces meanwhile."""
    gate = Gate({phone(1), phone(2)})
    client, _ = make_client(gate, retry=RetryPolicy(deadline=None))
    bounded = client.with_options(retry=RetryPolicy(deadline=0.05))
    async with client:
        unbounded_task = spawn(read_call(client, phone(1)))
        await until(lambda: phone(1) in gate.seen, "the call reached the transport")
        assert in_flight(client) == []
        assert watchdog(client)._timer is None
        with pytest.raises(VlensTimeoutError):
            await asyncio.wait_for(read_call(bounded, phone(2)), BOUND)
        await asyncio.sleep(0.1)
        assert not unbounded_task.done()
        assert in_flight(client) == []
        assert watchdog(client)._timer is None
        assert pending_fire_timers(client) == 0
        gate.release.set()
        assert await asyncio.wait_for(unbounded_task, BOUND) is not None
    assert gate.cancelled == [phone(2)]


# -- 5. the deadline passes while the call waits to retry -------------------------------------


@pytest.mark.parametrize("kind", ["read", "effect"])
async def test_deadline_during_backoff_ends_with_last_refused_error(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 then a backoff wait that lasts until the deadline: the call raises that 503's
    ServerError (refused, so not outcome-unknown even for an effect call), sends nothing more,
    and its task is not left cancelled."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the full backoff step
    call, operation = CALLS[kind]
    sent: list[float] = []

    async def refuse(request: Request) -> Response:
        sent.append(time.monotonic())
        return error_response(503, "busy", status=503)

    # The 5 s step is cut to the time left: the wait ends just as the deadline passes.
    policy = RetryPolicy(max_attempts=5, base_delay=5, max_delay=5, deadline=0.1)
    client, _ = make_client(refuse, retry=policy)
    async with client:
        started = time.monotonic()
        with pytest.raises(VlensError) as info:
            await asyncio.wait_for(call(client, phone(1)), BOUND)
        not_cancelling()
        elapsed = time.monotonic() - started
    assert type(info.value) is ServerError
    assert info.value.http_status == 503
    assert info.value.operation == operation
    assert len(sent) == 1
    assert 0.1 <= elapsed < BOUND
    assert in_flight(client) == []


@pytest.mark.parametrize("kind", ["read", "effect"])
async def test_a_retry_that_hangs_ends_at_the_deadline(kind: str) -> None:
    """The first attempt is refused (503), the retry hangs: the deadline cancels the retry's
    send, as it would the first attempt's, and the call ends with the deadline's error."""
    call, operation = CALLS[kind]
    gate = Gate()
    attempts: list[float] = []

    async def refuse_then_hang(request: Request) -> Response:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            return error_response(503, "busy", status=503)
        return await gate(request)

    gate.held.add(phone(1))
    policy = RetryPolicy(max_attempts=3, base_delay=0, max_delay=0, deadline=0.2)
    client, _ = make_client(refuse_then_hang, retry=policy)
    async with client:
        started = time.monotonic()
        with pytest.raises(VlensError) as info:
            await asyncio.wait_for(call(client, phone(1)), BOUND)
        elapsed = time.monotonic() - started
        not_cancelling()
    expected = OutcomeUnknownError if kind == "effect" else VlensTimeoutError
    assert isinstance(info.value, expected)
    assert info.value.operation == operation
    assert len(attempts) == 2
    assert gate.cancelled == [phone(1)]
    assert 0.2 <= elapsed < BOUND
    assert in_flight(client) == []


async def test_deadline_during_a_later_backoff_sends_nothing_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Backoff steps 0.005, 0.01, 0.02, ... against a 0.15 s deadline: a few attempts are sent,
    every one before the deadline, and the call ends with the last 503 once it passes."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    sent: list[float] = []
    deadlines: list[float | None] = []

    async def refuse(request: Request) -> Response:
        sent.append(time.monotonic())
        deadlines.extend(attempts.deadline for attempts in in_flight(client))
        return error_response(503, "busy", status=503)

    policy = RetryPolicy(max_attempts=20, base_delay=0.005, max_delay=5, deadline=0.15)
    client, _ = make_client(refuse, retry=policy)
    async with client:
        with pytest.raises(ServerError) as info:
            await asyncio.wait_for(read_call(client, phone(1)), BOUND)
        not_cancelling()
    assert info.value.http_status == 503
    assert len(sent) >= 2  # the deadline passed inside the backoff loop, not the first wait
    deadline = deadlines[0]
    assert deadline is not None
    assert set(deadlines) == {deadline}  # one call, tracked throughout its attempts
    assert all(moment < deadline for moment in sent)
    assert in_flight(client) == []


# -- 6. no growth over many calls --------------------------------------------------------------


async def test_many_sequential_calls_leave_no_entries_and_one_timer_at_most() -> None:
    """2,000 quick calls in batches, with pauses longer than the deadline between batches (so
    the timer fires on an empty map and is armed again by the next call): after every call the
    map is empty and at most one timer is pending; once idle, none is."""
    client, transport = make_client(answer_at_once, retry=RetryPolicy(deadline=0.01))
    async with client:
        for batch in range(8):
            for i in range(250):
                await read_call(client, phone(batch * 250 + i))
                assert not watchdog(client)._calls
                assert pending_fire_timers(client) <= 1
            timer = watchdog(client)._timer
            assert isinstance(timer, asyncio.TimerHandle)
            assert pending_fire_timers(client) == 1
            await asyncio.sleep(0.015)  # the batch's timer falls due and finds nothing
            assert watchdog(client)._timer is None
            assert pending_fire_timers(client) == 0
    assert len(transport.requests) == 2000


# -- 7. with_options copies: their own watchdog, their own deadline -------------------------


@pytest.mark.parametrize(("parent_deadline", "copy_deadline"), [(10.0, 0.1), (0.1, 10.0)])
async def test_with_options_copy_has_its_own_watchdog_and_deadline(
    parent_deadline: float, copy_deadline: float, spawn: Tasks
) -> None:
    """A copy tracks its calls in its own watchdog; whichever of parent and copy has the short
    deadline ends its hanging call, while the other's hanging call goes on until released."""
    gate = Gate({phone(1), phone(2)})
    parent, _ = make_client(gate, retry=RetryPolicy(deadline=parent_deadline))
    copy = parent.with_options(retry=RetryPolicy(deadline=copy_deadline))
    assert watchdog(copy) is not watchdog(parent)
    short, long = (copy, parent) if copy_deadline < parent_deadline else (parent, copy)
    async with parent:
        long_task = spawn(read_call(long, phone(1)))
        await until(lambda: phone(1) in gate.seen, "the long call reached the transport")
        assert len(in_flight(long)) == 1
        assert in_flight(short) == []
        started = time.monotonic()
        with pytest.raises(VlensTimeoutError):
            await asyncio.wait_for(read_call(short, phone(2)), BOUND)
        assert 0.1 <= time.monotonic() - started < BOUND
        assert in_flight(short) == []
        await asyncio.sleep(0.05)
        assert not long_task.done()
        assert len(in_flight(long)) == 1
        gate.release.set()
        assert await asyncio.wait_for(long_task, BOUND) is not None
    assert gate.cancelled == [phone(2)]
    assert in_flight(parent) == in_flight(copy) == []


# -- a race: the caller's own timeout and the deadline due together ----------------------------


@pytest.mark.skipif(sys.version_info < (3, 11), reason="needs asyncio.timeout (3.11)")
async def test_own_timeout_and_deadline_due_in_the_same_loop_iteration(spawn: Tasks) -> None:
    """The caller's own asyncio.timeout and the call's deadline fall due together (the loop was
    busy): the caller must see its own TimeoutError, and its task must carry no cancel."""
    if sys.version_info >= (3, 11):  # asyncio.timeout and Task.cancelling
        gate = Gate({phone(1)})
        client, _ = make_client(gate, retry=RetryPolicy(deadline=0.3))
        scopes: list[asyncio.Timeout] = []

        async def caller() -> str:
            try:
                async with asyncio.timeout(None) as scope:
                    scopes.append(scope)
                    await read_call(client, phone(1))
            except TimeoutError:
                task = asyncio.current_task()
                assert task is not None
                return f"TimeoutError, cancelling={task.cancelling()}"
            return "returned"

        async with client:
            task = spawn(caller())
            await until(lambda: gate.seen == [phone(1)], "the call reached the transport")
            (attempts,) = in_flight(client)  # reached well within the 0.3 s deadline
            assert attempts.deadline is not None
            while time.monotonic() <= attempts.deadline:
                time.sleep(0.005)  # noqa: ASYNC251 - keep the loop busy until the deadline is due
            # The caller's timeout expires now: its cancel is queued ahead of the watchdog's timer,
            # which runs in the same loop iteration, before the task wakes up.
            scopes[0].reschedule(asyncio.get_running_loop().time())
            try:
                outcome = await asyncio.wait_for(task, BOUND)
            except asyncio.CancelledError:
                outcome = f"CancelledError escaped, cancelling={task.cancelling()}"
            assert outcome == "TimeoutError, cancelling=0"
        assert in_flight(client) == []


@pytest.mark.parametrize("kind", ["read", "effect"])
async def test_deadline_after_a_swallowed_cancel_is_still_the_deadline_error(kind: str) -> None:
    """A task that once caught a cancel (its cancel count stays 1 on 3.11+) gets the deadline's
    error, not CancelledError, and carries no pending cancel afterwards."""
    call, operation = CALLS[kind]
    gate = Gate({phone(1)})
    client, _ = make_client(gate, retry=RetryPolicy(deadline=0.1))
    task = asyncio.current_task()
    assert task is not None
    await swallow_a_cancel()
    async with client:
        with pytest.raises(VlensError) as caught:
            await call(client, phone(1))  # in this task: wait_for would run it in a fresh one
    assert_deadline_error(caught.value, kind, operation)
    if sys.version_info >= (3, 11):
        assert task.cancelling() == 1  # the swallowed cancel only: the watchdog's is withdrawn
