"""The outbox: every SMS and e-mail the sandbox "sent"."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import attrs

__all__ = ["Outbox", "OutboxMessage"]


@attrs.frozen(kw_only=True)
class OutboxMessage:
    """One message the simulated Vlens sent.

    Attributes:
        channel: ``"sms"`` or ``"email"``.
        recipient: the phone number (E.164) or e-mail address.
        code: the OTP or reset code in the message.
        request_id: the OTP request id the code belongs to (None for reset codes).
        purpose: ``"registration"``, ``"login"``, ``"password_reset"``, ``"email_update"``,
            ``"email_verification"`` or ``"reset_link"``.
        provider: the SMS provider number used (SMS only).
        sent_at: sandbox-clock time.
    """

    channel: str
    recipient: str
    code: str = attrs.field(repr=False)
    request_id: uuid.UUID | None
    purpose: str
    provider: int | None
    sent_at: float


# How many fields an OutboxMessage has: a message not made yet is that many items in a row.
_FIELDS = 7


class Outbox:
    """Messages in the order they were sent, with look-ups by recipient.

    Look-ups go through an index by lower-cased recipient, so that a test that sends to many
    numbers and then reads each one's code takes time in proportion to the numbers, not to
    their square. The index is built at the first look-up and kept up to date from then on:
    a run that never looks a message up (a bulk benchmark) does not pay for it. For the same
    reason a message the sandbox sends is kept as its fields, and made into an
    :class:`OutboxMessage` when the outbox is next read (at once if a listener waits for it):
    making a frozen attrs instance was a third of what issuing an OTP cost.
    """

    def __init__(self) -> None:
        self._messages: list[OutboxMessage] = []
        # Messages sent after the ones above and not read yet: each is its fields in a row, in
        # OutboxMessage's order. A flat list, as a tuple per message is one more object for the
        # garbage collector to follow per message, which costs more than making the tuple.
        self._unmade: list[Any] = []
        self._index: dict[str, list[OutboxMessage]] | None = None
        self._listeners: list[Callable[[OutboxMessage], None]] = []

    def append(self, message: OutboxMessage) -> None:
        self._make()  # the ones sent before it come before it
        self._messages.append(message)
        if self._index is not None:
            _add(self._index, message)
        for listener in self._listeners:
            listener(message)

    def _send(  # positional, in OutboxMessage's order: called once per message sent
        self,
        channel: str,
        recipient: str,
        code: str,
        request_id: uuid.UUID | None,
        purpose: str,
        provider: int | None,
        sent_at: float,
    ) -> None:
        """What ``append(OutboxMessage(...))`` does, the message made only when it is read.

        The sandbox's own way in (its state sends every message through here).
        """
        self._unmade.extend((channel, recipient, code, request_id, purpose, provider, sent_at))
        if self._listeners:
            self._make()  # a listener hears of each message as it is sent

    def subscribe(self, listener: Callable[[OutboxMessage], None]) -> None:
        """Call ``listener`` for every message sent from now on (``vlens sandbox`` prints them)."""
        self._make()  # the ones sent before are not its business
        self._listeners.append(listener)

    def to(self, recipient: str) -> list[OutboxMessage]:
        """Every message sent to ``recipient``, oldest first."""
        return list(self._by_recipient().get(recipient.lower(), ()))

    def last(self, recipient: str) -> OutboxMessage:
        """The latest message to ``recipient``; LookupError if there is none."""
        sent = self._by_recipient().get(recipient.lower())
        if not sent:
            raise LookupError(f"the sandbox sent nothing to {recipient!r}")
        return sent[-1]

    def last_otp(self, recipient: str) -> str:
        """The code in the latest message to ``recipient``."""
        return self.last(recipient).code

    def clear(self) -> None:
        self._messages.clear()
        self._unmade.clear()
        self._index = None

    def _make(self) -> None:
        """Make the messages sent since the last read into OutboxMessages, in order."""
        if not self._unmade:
            return
        unmade, self._unmade = self._unmade, []
        for start in range(0, len(unmade), _FIELDS):
            channel, recipient, code, request_id, purpose, provider, sent_at = unmade[
                start : start + _FIELDS
            ]
            message = OutboxMessage(
                channel=channel,
                recipient=recipient,
                code=code,
                request_id=request_id,
                purpose=purpose,
                provider=provider,
                sent_at=sent_at,
            )
            self._messages.append(message)
            if self._index is not None:
                _add(self._index, message)
            for listener in self._listeners:
                listener(message)

    def _by_recipient(self) -> dict[str, list[OutboxMessage]]:
        self._make()
        if self._index is None:
            self._index = {}
            for message in self._messages:
                _add(self._index, message)
        return self._index

    def __iter__(self) -> Iterator[OutboxMessage]:
        self._make()
        return iter(list(self._messages))

    def __len__(self) -> int:
        return len(self._messages) + len(self._unmade) // _FIELDS

    def __repr__(self) -> str:
        return f"<Outbox messages={len(self)}>"


def _add(index: dict[str, list[OutboxMessage]], message: OutboxMessage) -> None:
    key = message.recipient.lower()
    sent = index.get(key)
    if sent is None:
        index[key] = [message]
    else:
        sent.append(message)
