"""What bulk dispatch reports for each input."""

from __future__ import annotations

import enum
import uuid
from typing import Any

import attrs

from .._errors import OutcomeUnknownError, VlensError, VlensInputError
from .._models import SmsProvider
from .._redact import mask_contact

__all__ = ["BulkOutcome", "BulkStatus", "status_of", "unexpected"]


class BulkStatus(str, enum.Enum):
    """How one input ended."""

    SENT = "sent"  # the OTP was sent (send_phone_otps)
    OK = "ok"  # the call succeeded (other bulk operations)
    FAILED = "failed"  # refused, certainly not sent (or not done): see ``error``
    UNKNOWN = "unknown"  # may or may not have happened: reconcile, never retried automatically
    INVALID = "invalid"  # bad input, nothing sent
    DUPLICATE = "duplicate"  # the same (normalised) input appeared earlier in this run

    def __str__(self) -> str:
        return self.value


def status_of(error: VlensError | None, success: BulkStatus) -> BulkStatus:
    """The one mapping from a call's error to a bulk status.

    It relies on the SDK's outcome rule: an effect call that may have been processed raises
    ``OutcomeUnknownError``, and every other ``VlensError`` proves the request was not processed.
    So ``failed`` means "certainly not sent" and is safe to send again.
    """
    if error is None:
        return success
    if isinstance(error, OutcomeUnknownError):
        return BulkStatus.UNKNOWN
    if isinstance(error, VlensInputError):
        return BulkStatus.INVALID
    return BulkStatus.FAILED


def unexpected(error: Exception) -> OutcomeUnknownError:
    """An exception that is not a ``VlensError`` (a bug) after a request was handed over: the
    request may have been written, so the outcome is unknown. Only the type is kept in the
    message (the original, which might quote a secret, is the ``__cause__``)."""
    unknown = OutcomeUnknownError(
        getattr(error, "operation", None) or "bulk", f"unexpected {type(error).__name__}"
    )
    unknown.__cause__ = error
    return unknown


def _masked(value: object) -> str:
    return repr(mask_contact(value) if isinstance(value, str) else value)


@attrs.frozen(kw_only=True)
class BulkOutcome:
    """The outcome for one input.

    Attributes:
        input: the input exactly as given.
        phone_number: the normalised number (or the normalised key of another operation).
        status: see :class:`BulkStatus`.
        request_id: ``phone_number_otp_request_id`` when an OTP was sent.
        provider: the SMS provider of the last attempt (None: tenant default).
        attempts: requests made for this input (0 for invalid and duplicate inputs).
        error: the typed error when the status is not sent/ok.
        result: the decoded answer of the successful call.
    """

    input: Any = attrs.field(repr=_masked)
    phone_number: str | None = attrs.field(default=None, repr=_masked)
    status: BulkStatus
    request_id: uuid.UUID | None = None
    provider: SmsProvider | None = None
    attempts: int = 0
    error: VlensError | None = None
    result: Any = attrs.field(default=None, repr=False)

    @property
    def sent(self) -> str:
        """Whether this input's request may have had its effect: "yes", "no" or "maybe"."""
        if self.status in (BulkStatus.SENT, BulkStatus.OK):
            return "yes"
        return "maybe" if self.status is BulkStatus.UNKNOWN else "no"

    @property
    def ok(self) -> bool:
        """True for ``sent`` and ``ok``."""
        return self.status in (BulkStatus.SENT, BulkStatus.OK)
