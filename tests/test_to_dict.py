"""``to_dict()`` on every result model: snake_case keys, JSON-ready values, no secret by default."""

from __future__ import annotations

import enum
import json
import uuid
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlens_async import GeoLocation, SmsProvider
from vlens_async._models import SECRET, JsonReady, _hidden

from .test_codec_properties import MODELS, SCALARS, model_strategy

ALL_MODELS: list[type[Any]] = [*MODELS, GeoLocation]
SCALARS_WITH_FLOATS = {**SCALARS, float: st.floats(allow_nan=False, allow_infinity=False)}
EXAMPLES = settings(max_examples=40, deadline=None)

# The fields that hold a secret, written out once more so that a field losing its marking fails
# here (to_dict itself reads the marking, never a list of names).
EXPECTED_SECRETS = {
    "User": {"address"},
    "RegistrationState": {"phone_number_otp", "access_token", "encrypted_access_token"},
    "LoginState": {
        "phone_number_otp",
        "access_token",
        "encrypted_access_token",
        "refresh_token",
    },
    "ResetGrant": {"reset_code"},
    "AdminSession": {"access_token", "refresh_token"},
    "RefreshedToken": {
        "access_token",
        "encrypted_access_token",
        "refresh_token",
        "new_refresh_token",
    },
}


def secret_names(model: type[Any]) -> set[str]:
    return {field.name for field in attrs.fields(model) if field.metadata.get(SECRET)}


def with_marked_secrets(value: Any) -> Any:
    """``value`` with every secret field, nested ones too, set to a string that names it."""
    if not isinstance(value, JsonReady):
        return value
    model: Any = type(value)
    changes: dict[str, Any] = {}
    for field in attrs.fields(model):
        if field.metadata.get(SECRET):
            changes[field.name] = f"SECRET-{field.name}-{uuid.uuid4().hex}"
        else:
            changes[field.name] = with_marked_secrets(getattr(value, field.name))
    return attrs.evolve(value, **changes)  # type: ignore[misc]  # an attrs class, not declared so


def secret_values(value: Any) -> list[str]:
    """The secret strings held by ``value`` and the models nested in it."""
    if not isinstance(value, JsonReady):
        return []
    model: Any = type(value)
    found: list[str] = []
    for field in attrs.fields(model):
        held = getattr(value, field.name)
        found += [held] if field.metadata.get(SECRET) else secret_values(held)
    return found


def assert_plain_json(value: Any) -> None:
    """Only the types json writes as they are: no UUID, no enum member, no attrs instance."""
    if isinstance(value, dict):
        assert all(type(key) is str for key in value)
        for item in value.values():
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), repr(value)


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_secret_marking_matches_the_hidden_repr(model: type[Any]) -> None:
    """A field is marked secret exactly when its repr is hidden, and the expected ones are."""
    hidden = {field.name for field in attrs.fields(model) if field.repr is _hidden}
    assert secret_names(model) == hidden
    assert secret_names(model) == EXPECTED_SECRETS.get(model.__name__, set())


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
@EXAMPLES
@given(data=st.data())
def test_to_dict_is_json_ready_and_keeps_secrets_out(model: type[Any], data: st.DataObject) -> None:
    """Every non-secret field under its snake_case name, plain JSON types, no secret anywhere."""
    instance = with_marked_secrets(data.draw(model_strategy(model, SCALARS_WITH_FLOATS)))
    result = instance.to_dict()
    names = [field.name for field in attrs.fields(model)]
    assert list(result) == [name for name in names if name not in secret_names(model)]
    assert_plain_json(result)
    text = json.dumps(result, allow_nan=False)
    for secret in secret_values(instance):
        assert secret not in text


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
@EXAMPLES
@given(data=st.data())
def test_include_secrets_gives_every_field(model: type[Any], data: st.DataObject) -> None:
    """With ``include_secrets=True`` every field is there, secrets and nested secrets too."""
    instance = with_marked_secrets(data.draw(model_strategy(model, SCALARS_WITH_FLOATS)))
    result = instance.to_dict(include_secrets=True)
    assert list(result) == [field.name for field in attrs.fields(model)]
    text = json.dumps(result, allow_nan=False)
    for secret in secret_values(instance):
        assert secret in text


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
@EXAMPLES
@given(data=st.data())
def test_to_dict_values_mean_what_the_fields_hold(model: type[Any], data: st.DataObject) -> None:
    """UUIDs are their canonical strings, nested models their own to_dict, the rest unchanged."""
    instance = data.draw(model_strategy(model, SCALARS_WITH_FLOATS))
    for name, value in instance.to_dict().items():
        held = getattr(instance, name)
        if isinstance(held, uuid.UUID):
            assert value == str(held)
        elif isinstance(held, JsonReady):
            assert value == held.to_dict()
        else:
            assert value == held
            assert type(value) is type(held)


@attrs.frozen(kw_only=True)
class _WithEnumsAndLists(JsonReady):
    """A model shape the API does not have yet: an enum field, a list of models and UUIDs."""

    provider: SmsProvider | None = None
    kind: Any = None
    users: tuple[GeoLocation, ...] = ()
    ids: list[uuid.UUID] = attrs.field(factory=list)


class _Colour(enum.Enum):
    RED = "red"


def test_enums_become_their_values_and_sequences_lists() -> None:
    """SmsProvider becomes its number (a plain int), other enums their value; tuples lists."""
    request_id = uuid.UUID(int=7)
    result = _WithEnumsAndLists(
        provider=SmsProvider.VODAFONE,
        kind=_Colour.RED,
        users=(GeoLocation(latitude=30.0, longitude=31.25),),
        ids=[request_id],
    ).to_dict()
    assert result == {
        "provider": 2,
        "kind": "red",
        "users": [{"latitude": 30.0, "longitude": 31.25}],
        "ids": [str(request_id)],
    }
    assert type(result["provider"]) is int
    assert_plain_json(result)


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_models_stay_slotted(model: type[Any]) -> None:
    """The to_dict mixin adds no per-instance ``__dict__`` to the slotted models."""
    assert not hasattr(model(**_required(model)), "__dict__")


def _required(model: type[Any]) -> dict[str, Any]:
    return {field.name: 0.0 for field in attrs.fields(model) if field.default is attrs.NOTHING}
