"""The sandbox's answers: envelopes built as dicts and written by the one JSON path."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlens_async.sandbox._context import registration_state
from vlens_async.sandbox._wire import envelope_bytes

DATA = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
KEYS = ["data", "error_code", "error_message", "error_descriptions"]


def read(written: bytes) -> dict[str, Any]:
    """The envelope as the standard library reads it, keys in their order."""
    decoded = json.loads(written.decode("utf-8"))
    assert isinstance(decoded, dict)
    assert list(decoded) == KEYS
    return decoded


@settings(max_examples=200, deadline=None)
@given(DATA)
def test_a_success_envelope_carries_data_and_null_errors(data: Any) -> None:
    assert read(envelope_bytes(data)) == dict.fromkeys(KEYS) | {"data": data}


@settings(max_examples=100, deadline=None)
@given(
    DATA,
    st.none() | st.integers(min_value=400, max_value=9999),
    st.none() | st.text(),
    st.none() | st.dictionaries(st.text(), st.lists(st.text(), max_size=2), max_size=2),
)
def test_any_envelope_carries_what_it_is_given(
    data: Any, code: int | None, message: str | None, descriptions: Any
) -> None:
    written = envelope_bytes(data, code=code, message=message, descriptions=descriptions)
    expected = {
        "data": data,
        "error_code": code,
        "error_message": message,
        "error_descriptions": descriptions,
    }
    assert read(written) == expected


def test_registration_state_has_every_key_and_uuids_as_text() -> None:
    """Every ApiOutputRegister key, null unless given, then the login keys given."""
    request_id = uuid.UUID("12345678-1234-4234-8234-123456789abc")
    state = registration_state(
        isPhoneNumberConfirmed=False,
        phoneNumberOtpRequestId=request_id,
        redirectUri=None,
        user={"id": 1, "name": "Mona é"},
    )
    data = read(envelope_bytes(state))["data"]
    assert len(data) == 18  # 17 ApiOutputRegister keys, and the one login key given
    assert list(data)[-1] == "redirectUri"
    assert data["phoneNumberOtpRequestId"] == str(request_id)
    assert (data["isPhoneNumberConfirmed"], data["accessToken"]) == (False, None)
    assert data["user"] == {"id": 1, "name": "Mona é"}


def test_registration_state_refuses_a_key_it_does_not_have() -> None:
    with pytest.raises(TypeError, match="isPhoneConfirmed"):
        registration_state(isPhoneConfirmed=True)


def test_registration_states_are_independent_dicts() -> None:
    """Each answer is a dict of its own: changing one leaves the next one null."""
    first = registration_state(accessToken="sbx_at_1")
    first["userName"] = "+201001234567"
    second = registration_state()
    assert (second["accessToken"], second["userName"]) == (None, None)
    assert second is not first
