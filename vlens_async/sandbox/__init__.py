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
``parse_fault_spec("*:latency=0.5:p=0.1").add_to(sandbox.faults)`` schedules a fault written
as text (the grammar is :data:`FAULT_SPEC_GRAMMAR`, the same as ``vlens sandbox --fault``).
"""

from ._clock import SandboxClock
from ._core import Exchange, Sandbox
from ._fault_spec import FAULT_SPEC_GRAMMAR, FaultSpec, parse_fault_spec
from ._faults import Fault, FaultKind, Faults, Schedule
from ._http import create_app
from ._outbox import Outbox, OutboxMessage
from ._state import UserRecord

__all__ = [
    "FAULT_SPEC_GRAMMAR",
    "Exchange",
    "Fault",
    "FaultKind",
    "FaultSpec",
    "Faults",
    "Outbox",
    "OutboxMessage",
    "Sandbox",
    "SandboxClock",
    "Schedule",
    "UserRecord",
    "create_app",
    "parse_fault_spec",
]
