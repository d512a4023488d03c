"""What bulk dispatch reports for each input."""

from __future__ import annotations

import enum
import uuid
from typing import Any

import attrs

from .._errors import VlensError
from .._models import SmsProvider
from .._redact import mask_contact

__all__ = ["BulkOutcome", "BulkStatus"]


class BulkStatus(str, enum.Enum):
    """How one input ended."""

    SENT = "sent"  # the OTP was sent (send_phone_otps)
    OK = "ok"  # the call succeeded (other bulk operations)
    FAILED = "failed"  # refused or unreadable: see ``error``; nothing more will be tried
    UNKNOWN = "unknown"  # may or may not have happened: reconcile, never retried automatically
    INVALID = "invalid"  # bad input, nothing sent
    DUPLICATE = "duplicate"  # the same (normalised) input appeared earlier in this run

    def __str__(self) -> str:
        return self.value


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
    def ok(self) -> bool:
        """True for ``sent`` and ``ok``."""
        return self.status in (BulkStatus.SENT, BulkStatus.OK)
