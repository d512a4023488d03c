"""Bulk dispatch: many calls at bounded concurrency within rate limits, one outcome each.

Reached as ``client.bulk``::

    async for outcome in vlens.bulk.send_phone_otps(numbers, concurrency=64):
        print(outcome.input, outcome.status, outcome.request_id)
"""

from ._engine import dispatch
from ._limits import DEFAULT_RATE_LIMITS, RateLimit, RateLimiter
from ._outcome import BulkOutcome, BulkStatus
from ._seen import NumberSet, TextSet
from ._service import DEFAULT, BulkService, RateLimits

__all__ = [
    "DEFAULT",
    "DEFAULT_RATE_LIMITS",
    "BulkOutcome",
    "BulkService",
    "BulkStatus",
    "NumberSet",
    "RateLimit",
    "RateLimiter",
    "RateLimits",
    "TextSet",
    "dispatch",
]
