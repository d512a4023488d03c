"""NumberSet and TextSet: exact membership in memory and after spilling to a temporary file."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from vlens_async.bulk import NumberSet, TextSet

from .conftest import number


@pytest.mark.parametrize("spill_after", [100, 16_384])
def test_membership_is_exact_before_and_after_spilling(spill_after: int) -> None:
    """1,000 numbers and their repeats: add reports first sightings only; membership is exact."""
    seen = NumberSet(spill_after=spill_after)
    try:
        numbers = [number(i * 7919) for i in range(1000)]
        assert all(seen.add(n) for n in numbers)
        assert seen.spilled is (spill_after < 1000)
        repeats = random.Random(3).sample(numbers, 300)
        assert not any(seen.add(n) for n in repeats)
        assert len(seen) == 1000
        assert all(n in seen for n in numbers)
        strangers = [number(i * 7919 + 1) for i in range(1000)]
        assert not any(n in seen for n in strangers)
        assert all(seen.add(n) for n in strangers[:50])
        assert len(seen) == 1050
    finally:
        seen.close()


def test_similar_and_longest_numbers_stay_apart_when_spilled() -> None:
    """Numbers that differ by an inner zero stay apart, and a 15-digit number fits the key."""
    seen = NumberSet(spill_after=2)
    try:
        assert seen.add("+201000000001")
        assert "+2001000000001" not in seen
        assert seen.add("+2001000000001")
        assert seen.add("+999999999999999")
        assert seen.add("+10000000")
        assert seen.spilled
        assert "+201000000001" in seen
        assert "+2001000000001" in seen
        assert "+999999999999999" in seen
        assert not seen.add("+999999999999999")
    finally:
        seen.close()


def test_non_strings_are_never_members() -> None:
    """Membership of a non-string is False rather than an error."""
    seen = NumberSet()
    seen.add("+201000000001")
    assert 201000000001 not in seen
    seen.close()


@pytest.mark.parametrize(("kind", "key"), [(NumberSet, number), (TextSet, str)])
def test_close_is_idempotent_and_releases_the_file(
    kind: type[NumberSet | TextSet], key: Callable[[int], str]
) -> None:
    """close() after a spill releases the database; a second close() is harmless."""
    seen = kind(spill_after=100)
    for i in range(200):
        seen.add(key(i))
    spilled_before = seen.spilled
    seen.close()
    assert (spilled_before, seen.spilled) == (True, False)
    seen.close()


@pytest.mark.parametrize(
    ("spill_after", "spill_chars"), [(100, 1 << 20), (10_000, 2_000), (10_000, 1 << 20)]
)
def test_text_set_is_exact_before_and_after_spilling(spill_after: int, spill_chars: int) -> None:
    """TextSet (the text of invalid entries): first sightings only, exact membership, whether
    it spilled by count, by size or not at all."""
    seen = TextSet(spill_after=spill_after, spill_chars=spill_chars)
    try:
        texts = [f"not a number {i}" for i in range(500)] + ["", "ünïcödé", "a\x00b"]
        assert all(seen.add(text) for text in texts)
        assert seen.spilled is (spill_after < 500 or spill_chars < 10_000)
        assert not any(seen.add(text) for text in random.Random(5).sample(texts, 100))
        assert len(seen) == len(texts)
        assert all(text in seen for text in texts)
        assert "not a number 500" not in seen
        assert "NOT A NUMBER 1" not in seen  # exact text, not case-folded
        assert 1 not in seen
    finally:
        seen.close()
