"""The outbox: every SMS and e-mail the sandbox "sent"."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import attrs

from .._errors import VlensInputError
from .._validation import check_phone

__all__ = ["Outbox", "OutboxMessage"]

# An OutboxMessage's fields, in order: a message recorded and not made yet.
_Fields = tuple[str, str, str, uuid.UUID | None, str, int | None, float]


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


class Outbox:
    """Messages in the order they were sent, with look-ups by recipient.

    Look-ups go through an index by lower-cased recipient, so that a test that sends to many
    numbers and then reads each one's code takes time in proportion to the numbers, not to
    their square. The index is built at the first look-up and kept up to date from then on:
    a run that never looks a message up (a bulk benchmark) does not pay for it. For the same
    reason, what :meth:`record` is given is made into an :class:`OutboxMessage` only when the
    outbox is next read (at once when a listener is subscribed): making the frozen instance
    was a third of what issuing an OTP cost.
    """

    def __init__(self) -> None:
        self._messages: list[OutboxMessage] = []
        self._unread: list[_Fields] = []  # recorded after the messages above, not made yet
        self._index: dict[str, list[OutboxMessage]] | None = None
        self._listeners: list[Callable[[OutboxMessage], None]] = []

    def append(self, message: OutboxMessage) -> None:
        self._make()  # the ones recorded before it come before it
        self._messages.append(message)
        if self._index is not None:
            _add(self._index, message)
        for listener in self._listeners:
            listener(message)

    def record(
        self,
        channel: str,
        recipient: str,
        code: str,
        request_id: uuid.UUID | None,
        purpose: str,
        provider: int | None,
        sent_at: float,
    ) -> None:
        """Send a message given by the fields of :class:`OutboxMessage`, in their order
        (what the sandbox does for every code it sends)."""
        self._unread.append((channel, recipient, code, request_id, purpose, provider, sent_at))
        if self._listeners:
            self._make()  # a listener hears of each message as it is sent

    def subscribe(self, listener: Callable[[OutboxMessage], None]) -> None:
        """Call ``listener`` for every message sent from now on (``vlens sandbox`` prints them)."""
        self._make()  # the ones sent before are not its business
        self._listeners.append(listener)

    def to(self, recipient: str) -> list[OutboxMessage]:
        """Every message sent to ``recipient`` (a phone number in any spelling the SDK accepts,
        or an e-mail address in any case), oldest first."""
        return list(self._by_recipient().get(_key(recipient), ()))

    def last(self, recipient: str) -> OutboxMessage:
        """The latest message to ``recipient``; LookupError if there is none."""
        sent = self._by_recipient().get(_key(recipient))
        if not sent:
            raise LookupError(f"the sandbox sent nothing to {recipient!r}")
        return sent[-1]

    def last_otp(self, recipient: str) -> str:
        """The code in the latest message to ``recipient``."""
        return self.last(recipient).code

    def clear(self) -> None:
        self._messages.clear()
        self._unread.clear()
        self._index = None

    def _make(self) -> None:
        """Make the messages recorded since the last read, in order."""
        unread, self._unread = self._unread, []
        for channel, recipient, code, request_id, purpose, provider, sent_at in unread:
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
        return len(self._messages) + len(self._unread)

    def __repr__(self) -> str:
        return f"<Outbox messages={len(self)}>"


def _key(recipient: str) -> str:
    """The look-up key: an e-mail address lower-cased, a phone number as E.164 (the form the
    SDK sends, whatever spelling a test passed it)."""
    if not isinstance(recipient, str):
        raise TypeError(f"recipient must be a phone number or e-mail address, not {recipient!r}")
    if "@" not in recipient:
        with contextlib.suppress(VlensInputError):
            return check_phone("recipient", recipient)
    return recipient.lower()


def _add(index: dict[str, list[OutboxMessage]], message: OutboxMessage) -> None:
    key = _key(message.recipient)
    sent = index.get(key)
    if sent is None:
        index[key] = [message]
    else:
        sent.append(message)
