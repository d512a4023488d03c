"""client.bulk refuses bad arguments when called, naming them, before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vlens_async import VlensClient, VlensInputError

from .conftest import RecordingSandbox, number


async def _exists(client: VlensClient, phone: str) -> object:
    return await client.registration.check_existence(phone_number=phone)


def _send(client: VlensClient, inputs: Any, **options: Any) -> object:
    return client.bulk.send_phone_otps(inputs, rate_limits=None, **options)


def _check(client: VlensClient, inputs: Any, **options: Any) -> object:
    return client.bulk.check_existence(inputs, rate_limits=None, **options)


def _run(client: VlensClient, inputs: Any, **options: Any) -> object:
    return client.bulk.run(inputs, _exists, rate_limits=None, **options)


METHODS: list[tuple[str, Callable[..., object]]] = [
    ("numbers", _send),
    ("values", _check),
    ("items", _run),
]


@pytest.mark.parametrize(("name", "method"), METHODS, ids=[name for name, _ in METHODS])
@pytest.mark.parametrize("one", [number(1), number(1).encode(), 42])
async def test_one_string_instead_of_many_is_refused_naming_the_argument(
    name: str, method: Callable[..., object], one: object
) -> None:
    """Item 6: a str would be iterated character by character (13 "invalid" numbers); a str,
    bytes or non-iterable is refused at the call, naming the argument, nothing sent."""
    sandbox = RecordingSandbox(seed=1)
    async with sandbox.client() as client:
        with pytest.raises(VlensInputError) as caught:
            method(client, one)
    assert caught.value.field == name
    assert sandbox.requests_seen == 0


@pytest.mark.parametrize(("name", "method"), METHODS, ids=[name for name, _ in METHODS])
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_attempts", 0),
        ("max_attempts", -1),
        ("max_attempts", float("nan")),
        ("max_attempts", 2.5),
        ("max_attempts", True),
        ("max_attempts", "3"),
        ("concurrency", 0),
        ("concurrency", 2.5),
        ("concurrency", True),
        ("concurrency", float("inf")),
    ],
)
async def test_bad_counts_are_refused_naming_the_argument(
    name: str, method: Callable[..., object], option: str, value: object
) -> None:
    """Item 6: max_attempts and concurrency must be whole numbers >= 1 (not a bool, nan, 2.5):
    refused at the call, naming the option."""
    sandbox = RecordingSandbox(seed=1)
    async with sandbox.client() as client:
        with pytest.raises(VlensInputError) as caught:
            method(client, [number(1)], **{option: value})
    assert caught.value.field == option
    assert repr(value) in str(caught.value)
    assert sandbox.requests_seen == 0
