"""The outbox: order, look-ups by recipient (indexed, case-insensitive), clearing, listeners."""

from __future__ import annotations

import uuid

import pytest

from vlens_async.sandbox import Outbox, OutboxMessage


def message(recipient: str, code: str, at: float = 0.0) -> OutboxMessage:
    channel = "email" if "@" in recipient else "sms"
    return OutboxMessage(
        channel=channel,
        recipient=recipient,
        code=code,
        request_id=uuid.uuid4(),
        purpose="registration",
        provider=1 if channel == "sms" else None,
        sent_at=at,
    )


def test_messages_are_kept_in_the_order_sent_and_found_by_recipient() -> None:
    outbox = Outbox()
    sent = [
        message("+201000000001", "111111"),
        message("Ada@Example.com", "222222"),
        message("+201000000002", "333333"),
        message("+201000000001", "444444"),
        message("ada@example.com", "555555"),
    ]
    for item in sent:
        outbox.append(item)

    assert list(outbox) == sent
    assert len(outbox) == 5
    assert outbox.to("+201000000001") == [sent[0], sent[3]]
    assert outbox.to("ADA@example.COM") == [sent[1], sent[4]]  # e-mail case does not matter
    assert outbox.to("+201000000009") == []
    assert outbox.last("+201000000002") is sent[2]
    assert outbox.last_otp("ada@example.com") == "555555"


def test_to_returns_a_copy() -> None:
    outbox = Outbox()
    outbox.append(message("+201000000001", "111111"))
    outbox.to("+201000000001").clear()
    assert len(outbox.to("+201000000001")) == 1


def test_last_names_the_recipient_nothing_was_sent_to() -> None:
    outbox = Outbox()
    outbox.append(message("+201000000001", "111111"))
    with pytest.raises(LookupError, match=r"\+201000000002"):
        outbox.last("+201000000002")


def test_clear_forgets_every_message_and_look_up() -> None:
    outbox = Outbox()
    outbox.append(message("+201000000001", "111111"))
    outbox.clear()
    assert len(outbox) == 0
    assert outbox.to("+201000000001") == []
    with pytest.raises(LookupError):
        outbox.last_otp("+201000000001")
    outbox.append(message("+201000000001", "222222"))
    assert outbox.last_otp("+201000000001") == "222222"


def test_listeners_hear_each_message_once_in_order() -> None:
    outbox = Outbox()
    heard: list[str] = []
    outbox.subscribe(lambda m: heard.append(m.code))
    for code in ("1", "2", "3"):
        outbox.append(message("+201000000001", code))
    assert heard == ["1", "2", "3"]


def test_messages_sent_after_a_look_up_are_found_too() -> None:
    """The index is built at the first look-up and kept up to date by later messages."""
    outbox = Outbox()
    outbox.append(message("+201000000001", "111111"))
    assert outbox.last_otp("+201000000001") == "111111"
    outbox.append(message("+201000000001", "222222"))
    outbox.append(message("+201000000002", "333333"))
    assert outbox.last_otp("+201000000001") == "222222"
    assert [m.code for m in outbox.to("+201000000002")] == ["333333"]
