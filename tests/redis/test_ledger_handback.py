"""A refused attempt hands its number's claim back from `sending` to `claimed` in one atomic
step (JobLedger.not_sent), against a real redis-server: no other worker can take the number
in between, and a claim this worker lost stays lost."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis

from vlens_async.cli._job import JobLink
from vlens_async.redis import JobLedger

NUMBER = "+201001234567"


async def _claim_of(redis_url: str, job: str) -> bytes | str | None:
    async with Redis.from_url(redis_url) as client:
        return await client.hget(f"vlens:job:{job}:claims", NUMBER)


async def test_not_sent_turns_this_workers_sending_claim_back_into_its_claim(
    redis_url: str, name: str
) -> None:
    """`sending|mine` becomes `claimed|mine` (counts follow); no rival may claim it or hand it
    back, and this worker's next fence passes."""
    async with (
        JobLedger(redis_url, name, input_id="in", worker="mine") as mine,
        JobLedger(redis_url, name, input_id="in", worker="rival") as rival,
    ):
        assert await mine.claim(NUMBER)
        assert await mine.sending(NUMBER)
        assert await mine.not_sent(NUMBER)
        assert await _claim_of(redis_url, name) == b"claimed|mine"
        counts = await mine.counts()
        assert (counts["claimed"], counts["sending"]) == (1, 0)
        assert not await rival.claim(NUMBER)
        assert not await rival.not_sent(NUMBER)
        assert await _claim_of(redis_url, name) == b"claimed|mine"
        assert await mine.not_sent(NUMBER)  # already claimed: it stays so
        assert await mine.sending(NUMBER)
        assert await mine.record(NUMBER, "sent", "yes")
        assert not await mine.not_sent(NUMBER)  # settled: nothing to hand back
        records = [record.status async for record in mine.report()]
    assert records == ["sent"]


async def test_not_sent_leaves_a_reaped_claim_alone(redis_url: str, name: str) -> None:
    """A worker whose `sending` claim was reaped (recorded unknown) gets False from not_sent;
    the record stays unknown and no claim comes back."""
    async with JobLedger(redis_url, name, input_id="in", worker="gone") as gone:
        assert await gone.claim(NUMBER)
        assert await gone.sending(NUMBER)
    async with JobLedger(redis_url, name, input_id="in", worker="other") as other:
        assert await other.reap() == (0, 1)
    async with JobLedger(redis_url, name, input_id="in", worker="gone") as back:
        assert not await back.not_sent(NUMBER)
        counts = await back.counts()
        records = [(record.status, record.sent) async for record in back.report()]
    assert await _claim_of(redis_url, name) is None
    assert (counts["sending"], counts.get("claimed", 0)) == (0, 0)
    assert records == [("unknown", "maybe")]


class _RivalAfterEachStep:
    """A ledger whose every call is followed by a rival worker's try to claim the number."""

    def __init__(self, ledger: JobLedger, rival: JobLedger) -> None:
        self.ledger, self.rival = ledger, rival
        self.steps: list[str] = []
        self.rival_got = False

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        call = getattr(self.ledger, method)

        async def step(*args: Any) -> Any:
            result = await call(*args)
            self.steps.append(method)
            self.rival_got |= await self.rival.claim(NUMBER)
            return result

        return step


async def test_a_refused_attempt_hands_the_claim_back_in_one_step(
    redis_url: str, name: str
) -> None:
    """`vlens otp bulk --redis`'s JobLink.refused makes one ledger call: a rival trying to
    claim the number after each of its steps never gets it, and the next fence passes."""
    async with (
        JobLedger(redis_url, name, input_id="in", worker="mine") as mine,
        JobLedger(redis_url, name, input_id="in", worker="rival") as rival,
    ):
        assert await mine.claim(NUMBER)
        assert await mine.sending(NUMBER)
        spy = _RivalAfterEachStep(mine, rival)
        link = JobLink(cast("JobLedger", spy), 1)
        try:
            await link.refused(NUMBER)
        finally:
            link.close()
        assert not spy.rival_got, f"the rival took the number between {spy.steps}"
        assert spy.steps == ["not_sent"]
        assert await _claim_of(redis_url, name) == b"claimed|mine"
        assert await mine.sending(NUMBER)  # the next attempt's fence passes
