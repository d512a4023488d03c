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


def test_a_phone_number_is_found_in_any_spelling_the_sdk_accepts() -> None:
    """The number as the test wrote it for ``send_phone_otp`` (spaces, dashes, a 00 prefix):
    the SDK sent it as E.164, and the look-up finds it so (it found nothing)."""
    outbox = Outbox()
    sent = message("+201001234567", "918273")
    outbox.append(sent)
    for spelling in ("+20 100 123 4567", "+20-100-123-4567", "00201001234567"):
        assert outbox.last_otp(spelling) == "918273"
        assert outbox.to(spelling) == [sent]


def test_a_recipient_that_is_not_text_is_a_type_error() -> None:
    outbox = Outbox()
    with pytest.raises(TypeError, match="recipient"):
        outbox.last_otp(None)  # type: ignore[arg-type]


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


def sent_by_sandbox(outbox: Outbox, recipient: str, code: str, at: float = 0.0) -> None:
    """What the sandbox's state does: Outbox.record with the message's fields."""
    outbox.record("sms", recipient, code, None, "registration", 1, at)


def test_sent_and_appended_messages_keep_one_order() -> None:
    """Messages given by their fields (the sandbox's way) and appended ones interleave in the
    order they came, in iteration, length and look-ups alike."""
    outbox = Outbox()
    sent_by_sandbox(outbox, "+201000000001", "111111", at=1.0)
    outbox.append(message("+201000000001", "222222", at=2.0))
    sent_by_sandbox(outbox, "+201000000001", "333333", at=3.0)
    assert len(outbox) == 3
    assert [m.code for m in outbox] == ["111111", "222222", "333333"]
    assert [m.sent_at for m in outbox.to("+201000000001")] == [1.0, 2.0, 3.0]
    sent_by_sandbox(outbox, "+201000000001", "444444", at=4.0)  # after the index was built
    assert outbox.last_otp("+201000000001") == "444444"
    assert [m.code for m in outbox] == ["111111", "222222", "333333", "444444"]


def test_a_sent_message_is_one_object_however_often_it_is_read() -> None:
    outbox = Outbox()
    sent_by_sandbox(outbox, "+201000000001", "111111")
    first = outbox.last("+201000000001")
    assert outbox.last("+201000000001") is first
    assert list(outbox) == [first]
    assert first == OutboxMessage(
        channel="sms",
        recipient="+201000000001",
        code="111111",
        request_id=None,
        purpose="registration",
        provider=1,
        sent_at=0.0,
    )


def test_clear_forgets_sent_messages_not_read_yet() -> None:
    outbox = Outbox()
    sent_by_sandbox(outbox, "+201000000001", "111111")
    outbox.clear()
    assert (len(outbox), list(outbox), outbox.to("+201000000001")) == (0, [], [])


def test_a_listener_hears_sent_messages_from_when_it_subscribed() -> None:
    outbox = Outbox()
    sent_by_sandbox(outbox, "+201000000001", "111111")
    heard: list[str] = []
    outbox.subscribe(lambda m: heard.append(m.code))
    assert heard == []
    sent_by_sandbox(outbox, "+201000000001", "222222")
    assert heard == ["222222"]  # at once, before anything reads the outbox
    outbox.append(message("+201000000001", "333333"))
    sent_by_sandbox(outbox, "+201000000001", "444444")
    assert heard == ["222222", "333333", "444444"]
    assert [m.code for m in outbox] == ["111111", "222222", "333333", "444444"]
