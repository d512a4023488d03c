"""The per-request ``aiohttp.ClientTimeout`` that carries a send's timeouts and deadline.

What aiohttp does with each field (checked in its source, 3.10.7 to 3.14; all documented
fields of ``ClientTimeout``, passed per request to ``ClientSession.request``):

- ``connect`` is one timer around ``BaseConnector.connect()``: the wait for a pooled connection
  (``limit``) plus making a new one. It ends before the request is written, and
  ``ClientSession._request`` turns it into ``aiohttp.ConnectionTimeoutError``: so "not sent".
- ``sock_connect`` bounds the TCP (and TLS) connect itself (``ConnectionTimeoutError`` too).
- ``sock_read`` is the longest wait for the next chunk of the response (``SocketTimeoutError``).
- ``total`` is one timer over the whole ``request()`` and the body's reading; it cancels the
  task and surfaces as ``asyncio.TimeoutError`` (``TimeoutError`` on 3.11+), also when it
  fires inside the connect step.

So ``connect`` is set to ``min(pool, time left)`` and ``total`` to the time left plus a small
grace: at the deadline a send still queued or connecting meets the connect timer first
(``ConnectError``, not sent), and only a written one meets ``total`` (``TransportTimeout``).
One exception errs on the safe side: when the event loop is held up for longer than the grace,
both timers fall due in the same iteration and aiohttp reports ``total``'s, so a send that was
still queued is a ``TransportTimeout`` (may have been written: an effect ends "unknown", never
resent).
``ceil_threshold`` is infinite: aiohttp otherwise rounds timers of 5 s or more up to the next
whole second, which could move the connect timer past ``total``.
"""

from __future__ import annotations

import math
import time

import aiohttp

from ._models import Timeout

__all__ = ["GRACE", "client_timeout", "timeout_until"]

# How much later than the connect timer the total timer fires at the deadline: the two are
# started microseconds apart in the same step of the send's task.
GRACE = 0.05


def client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    """The ``ClientTimeout`` of a request without a deadline."""
    return aiohttp.ClientTimeout(
        total=None,
        connect=timeout.pool,
        sock_connect=timeout.connect,
        sock_read=timeout.read,
        ceil_threshold=math.inf,
    )


def timeout_until(timeout: Timeout, deadline: float) -> aiohttp.ClientTimeout | None:
    """The ``ClientTimeout`` of a request due at ``deadline`` (``time.monotonic()``); None if
    the deadline has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    pool, read = timeout.pool, timeout.read
    return aiohttp.ClientTimeout(
        total=left + GRACE,
        connect=left if pool is None or pool > left else pool,
        sock_connect=timeout.connect,
        # A read limit that cannot fall due before the deadline would change nothing, and
        # aiohttp resets its timer on every chunk (37k instructions a request at c=1, 56k at
        # c=64): left out, as under RetryPolicy.interactive()'s 5 s deadline.
        sock_read=read if read is not None and read < left else None,
        ceil_threshold=math.inf,
    )
