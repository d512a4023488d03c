"""Moved to :mod:`vlens_async._ratelimit`; kept so that older imports keep working."""

from .._ratelimit import DEFAULT_RATE_LIMITS, RateLimit, RateLimiter

__all__ = ["DEFAULT_RATE_LIMITS", "RateLimit", "RateLimiter"]
