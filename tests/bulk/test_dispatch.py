"""The dispatch engine: lazy intake, bounded concurrency, and clean early exits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator

import pytest

from vlens_async import VlensClient
from vlens_async.bulk import BulkOutcome, BulkStatus, dispatch
from vlens_async.testing import envelope_response
from vlens_transports import Request, Response

from .conftest import HANG_GUARD, fake_client, number, phone_of

FAST = number(99_999_999)


class Pulled:
    """A source of numbers that counts how many were taken from it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0

    def sync(self) -> Iterator[str]:
        for i in range(self.total):
            self.count += 1
            yield number(i)

    async def asynchronous(self) -> AsyncGenerator[str, None]:
        for i in range(self.total):
            self.count += 1
            yield number(i)


async def _sent(request: Request) -> Response:
    return envelope_response({"phoneNumberOtpRequestId": str(uuid.uuid4())})


class Blocking:
    """A handler that answers FAST at once and holds every other request until cancelled."""

    def __init__(self) -> None:
        self.started = 0
        self.cancelled = 0

    async def __call__(self, request: Request) -> Response:
        if phone_of(request) == FAST:
            return await _sent(request)
        self.started += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")  # pragma: no cover


def _inputs() -> list[str]:
    """Three numbers that hang, then one that answers: the first outcome leaves three in flight."""
    return [number(1), number(2), number(3), FAST, number(4), number(5)]


async def _wait_until(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` in this task (no helper task that would count as a live one)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + HANG_GUARD
    while not predicate():
        assert loop.time() < give_up, "hang guard: the condition never came true"
        await asyncio.sleep(0.001)


@pytest.fixture
async def client_for() -> AsyncIterator[list[VlensClient]]:
    """Clients a test made; each is closed afterwards."""
    made: list[VlensClient] = []
    yield made
    for client in made:
        await client.aclose()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_huge_source_is_pulled_lazily(kind: str, client_for: list[VlensClient]) -> None:
    """100,000 numbers: never more than `concurrency` are pulled ahead of the outcomes received."""
    client_for.append(client := fake_client(_sent))
    source = Pulled(100_000)
    agen = source.asynchronous()
    numbers: Iterable[str] | AsyncIterator[str] = source.sync() if kind == "sync" else agen
    concurrency, received, ahead = 32, 0, 0
    results = client.bulk.send_phone_otps(numbers, concurrency=concurrency, rate_limits=None)
    # The ignore marks a bug: the bulk methods are typed AsyncIterator, which has no aclose().
    async with contextlib.aclosing(results) as outcomes:
        async for outcome in outcomes:
            assert outcome.status is BulkStatus.SENT
            received += 1
            ahead = max(ahead, source.count - received)
            if received == 2_000:
                break
    await agen.aclose()
    assert ahead <= concurrency
    assert source.count <= received + concurrency


async def test_at_most_concurrency_requests_in_flight(client_for: list[VlensClient]) -> None:
    """The handler never sees more than `concurrency` requests at once, and does see that many."""
    in_flight = peak = 0

    async def handler(request: Request) -> Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(3):
            await asyncio.sleep(0)
        in_flight -= 1
        return await _sent(request)

    client_for.append(client := fake_client(handler))
    outcomes = [
        o
        async for o in client.bulk.send_phone_otps(
            [number(i) for i in range(200)], concurrency=7, rate_limits=None
        )
    ]
    assert len(outcomes) == 200
    assert peak == 7


async def test_concurrency_below_one_is_refused() -> None:
    """dispatch() with concurrency 0 raises ValueError when iterated."""

    async def work(item: str) -> str:
        return item

    results = dispatch(["a"], lambda item: None, work, concurrency=0)
    with pytest.raises(ValueError, match="concurrency"):
        await results.__anext__()


async def test_leaving_through_aclosing_cancels_work_in_flight(
    client_for: list[VlensClient],
) -> None:
    """break inside contextlib.aclosing(): the three requests in flight are cancelled at once."""
    handler = Blocking()
    client_for.append(client := fake_client(handler))
    before = asyncio.all_tasks()
    results = client.bulk.send_phone_otps(_inputs(), concurrency=4, rate_limits=None)
    async with contextlib.aclosing(results) as outcomes:
        async for outcome in outcomes:
            assert outcome.phone_number == FAST
            break
    assert (handler.started, handler.cancelled) == (3, 3)
    assert asyncio.all_tasks() == before


async def test_plain_break_cancels_work_in_flight(client_for: list[VlensClient]) -> None:
    """A bare break: once the abandoned iterator is finalised, the work in flight is cancelled."""
    handler = Blocking()
    client_for.append(client := fake_client(handler))
    before = asyncio.all_tasks()
    async for outcome in client.bulk.send_phone_otps(_inputs(), concurrency=4, rate_limits=None):
        assert outcome.phone_number == FAST
        break
    await _wait_until(lambda: handler.cancelled == 3 and asyncio.all_tasks() == before)
    assert handler.started == 3


async def test_cancelling_the_consumer_cancels_work_in_flight(
    client_for: list[VlensClient],
) -> None:
    """Cancelling the task that iterates cancels the requests in flight and leaves no task."""
    handler = Blocking()
    client_for.append(client := fake_client(handler))
    before = asyncio.all_tasks()
    first = asyncio.Event()
    seen: list[BulkOutcome] = []

    async def consume() -> None:
        async for outcome in client.bulk.send_phone_otps(
            _inputs(), concurrency=4, rate_limits=None
        ):
            seen.append(outcome)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), HANG_GUARD)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG_GUARD)
    assert [o.phone_number for o in seen] == [FAST]
    # concurrency 4: FAST's slot went to number 4, so four requests hang and all are cancelled
    await _wait_until(lambda: handler.cancelled == handler.started)
    assert handler.started == 4
    assert asyncio.all_tasks() == before


async def test_work_failing_with_others_yields_their_results_then_raises() -> None:
    """Work that fails (an exception that is not an outcome, say a journal that cannot be
    written) while others finish at the same moment: the others' results are yielded, the
    failure is raised after them, and no task's exception is left unretrieved (asyncio would
    log "Task exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    unretrieved: list[str] = []
    loop.set_exception_handler(lambda _, context: unretrieved.append(context["message"]))
    release = asyncio.Event()

    async def work(item: int) -> int:
        await release.wait()  # all finish in the same iteration of the loop
        if item % 2:
            raise RuntimeError(f"cannot record item {item}")
        return item

    got: list[int] = []

    async def consume() -> None:
        async for result in dispatch(range(6), lambda _: None, work, concurrency=6):
            got.append(result)

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError, match="cannot record item") as raised:
        await consumer
    del raised, consumer  # their tracebacks hold the finished tasks
    gc.collect()
    await asyncio.sleep(0)
    assert sorted(got) == [0, 2, 4]
    assert unretrieved == []
