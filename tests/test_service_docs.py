"""Item 15: every service method's docstring says what the call does and what it raises."""

from __future__ import annotations

import inspect
import re

import pytest

import vlens_async
from vlens_async import InvalidRequestError
from vlens_async.sandbox import Sandbox
from vlens_async.services import (
    PasswordResetService,
    ProfileService,
    RegistrationService,
    SessionsService,
)

SERVICES = [RegistrationService, PasswordResetService, ProfileService, SessionsService]
METHODS = [
    pytest.param(service, name, id=f"{service.__name__}.{name}")
    for service in SERVICES
    for name, _ in inspect.getmembers(service, inspect.iscoroutinefunction)
    if not name.startswith("_")
]
# Read through inspect.getdoc: Python 3.13 strips the indentation __doc__ had before.
RAISES = re.compile(r"^Raises:\n((?: {4}\S.*\n| {8}.*\n)+)", re.MULTILINE)


@pytest.mark.parametrize(("service", "name"), METHODS)
def test_every_service_method_says_what_it_raises(service: type, name: str) -> None:
    """A summary line, then a Raises: section naming real exception classes of the SDK."""
    doc = inspect.getdoc(getattr(service, name))
    assert doc is not None
    summary, _, _ = doc.partition("\n")
    assert summary.strip().endswith("."), summary
    raises = RAISES.search(doc + "\n")
    assert raises is not None, f"{name}: no Raises: section"
    names = re.findall(r"^ {4}(\w+):", raises.group(1), re.MULTILINE)
    assert names
    for error in names:
        assert issubclass(getattr(vlens_async, error), vlens_async.VlensError), error
    if name.startswith(("validate_", "confirm_")):
        assert "InvalidRequestError" in names, f"{name}: a wrong code raises InvalidRequestError"


async def test_validate_phone_otp_wrong_code_raises_what_the_docstring_says() -> None:
    """The docstring's promise, on the sandbox: a wrong code raises InvalidRequestError."""
    sandbox = Sandbox(seed=1)
    phone = "+201001234567"
    async with sandbox.client() as client:
        sent = await client.registration.send_phone_otp(phone)
        assert sent.phone_number_otp_request_id is not None
        wrong = "0" if sandbox.outbox.last_otp(phone)[0] != "0" else "1"
        with pytest.raises(InvalidRequestError, match="wrong"):
            await client.registration.validate_phone_otp(
                phone, sent.phone_number_otp_request_id, wrong * 6
            )
