"""A stateful simulated Vlens for development and tests.

Example::

    sandbox = Sandbox()
    async with sandbox.client() as vlens:
        sent = await vlens.registration.send_phone_otp("+201001234567")
        code = sandbox.outbox.last_otp("+201001234567")
        await vlens.registration.validate_phone_otp(
            "+201001234567", sent.phone_number_otp_request_id, code
        )

``create_app(sandbox)`` serves the same simulator over HTTP (``vlens sandbox`` runs it).
"""

from ._clock import SandboxClock
from ._core import Exchange, Sandbox
from ._faults import Fault, FaultKind, Faults, Schedule
from ._http import create_app
from ._outbox import Outbox, OutboxMessage
from ._state import UserRecord

__all__ = [
    "Exchange",
    "Fault",
    "FaultKind",
    "Faults",
    "Outbox",
    "OutboxMessage",
    "Sandbox",
    "SandboxClock",
    "Schedule",
    "UserRecord",
    "create_app",
]
