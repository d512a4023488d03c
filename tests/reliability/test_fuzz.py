"""Hypothesis fuzzing: any answer, and any argument to any service method, yields only VlensError.

Every request that does reach the transport is checked by an independent oracle: strict JSON,
E.164 phones, sane e-mails, canonical UUIDs, finite coordinates, clean header values. So an
invalid input either raises VlensInputError with nothing sent, or is not invalid.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from vlens_async import (
    GeoLocation,
    RetryPolicy,
    SmsProvider,
    VlensClient,
    VlensError,
    VlensInputError,
)
from vlens_async.testing import envelope_response
from vlens_transports import (
    ConnectError,
    FakeTransport,
    RemoteDisconnected,
    Request,
    Response,
    ResponseTooLarge,
    TransportTimeout,
)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible, not flaky
    database=None,
    # No shrinking: it multiplies the time of a failing run, and the targeted odd-argument
    # test below already names the exact method and argument.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PHONE = "+201001234567"
EMAIL = "mona@example.com"
REQUEST_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"

# -- strategies for arguments -----------------------------------------------------------------

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.binary(max_size=10),
    st.uuids(),
    st.lists(st.integers(), max_size=2),
)
# Strings a caller might pass by accident: lone surrogates (from bad decoding), control chars.
odd_strings = st.sampled_from(["\ud800", "abc\udfff", "\x00", "a\x00b", "\x85", "\u2028"])
text = st.one_of(st.text(max_size=40), odd_strings)
phones = st.one_of(
    st.sampled_from([PHONE, "+20 100 123 4567", "0020-100-123-4567", "(+20) 1001234567"]),
    st.from_regex(r"\+?[0-9 ()\-.]{0,22}", fullmatch=True),
    text,
    anything,
)
emails = st.one_of(
    st.emails().map(str),
    st.from_regex(r"[^@]{0,6}@[^@]{0,6}\.[a-z]{0,3}", fullmatch=True),
    st.sampled_from(["mona\x00@example.com", "mo\x07na@example.com", "m\ud800@example.com"]),
    text,
    anything,
)
request_ids = st.one_of(
    st.uuids(),
    st.uuids().map(str),
    st.uuids().map(lambda value: str(value).upper()),
    st.uuids().map(lambda value: value.hex),
    text,
    anything,
)
codes = st.one_of(st.from_regex(r"[0-9]{4,8}", fullmatch=True), text, anything)
providers = st.one_of(
    st.sampled_from(SmsProvider),
    st.sampled_from(["vodafone", "Victory Link", "cequens", "nope", ""]),
    st.integers(-2, 10),
    anything,
)
coordinates = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 91.0, -181.0]),
    st.floats(),
    st.integers(-1000, 1000),
    text,
    st.none(),
)
geo_locations = st.one_of(
    st.builds(GeoLocation, latitude=coordinates, longitude=coordinates),
    st.builds(
        GeoLocation,
        latitude=st.floats(-90, 90),
        longitude=st.floats(-180, 180),
    ),
    anything,
)
oauth_providers = st.one_of(st.sampled_from(["Google", "microsoft", " GOOGLE ", "Apple"]), text)
user_ids = st.one_of(st.integers(), anything)
tokens = st.one_of(st.just("sbx_at_0123456789abcdef"), text, anything)

Call = Callable[[VlensClient, dict[str, Any]], Awaitable[object]]


def _service(path: str) -> Callable[[VlensClient, dict[str, Any]], Awaitable[object]]:
    group, method = path.split(".")

    def call(client: VlensClient, args: dict[str, Any]) -> Awaitable[object]:
        if group == "profile":
            args = dict(args)
            service: Any = client.profile(args.pop("access_token"))
        else:
            service = getattr(client, group)
        result: Awaitable[object] = getattr(service, method)(**args)
        return result

    return call


# method -> (required arguments, optional arguments)
METHODS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "registration.check_existence": ({}, {"phone_number": phones, "email": emails}),
    "registration.send_phone_otp": (
        {"phone_number": phones},
        {"sms_provider": providers, "transaction_id": request_ids},
    ),
    "registration.validate_phone_otp": (
        {"phone_number": phones, "request_id": request_ids, "otp": codes},
        {"transaction_id": request_ids},
    ),
    "registration.send_email_otp": ({"email": emails}, {"transaction_id": request_ids}),
    "registration.validate_email_otp": (
        {"email": emails, "request_id": request_ids, "otp": codes},
        {"transaction_id": request_ids},
    ),
    "registration.verify_oauth_token": (
        {"provider": oauth_providers, "id_token": codes},
        {"transaction_id": request_ids},
    ),
    "registration.verify_oauth_token_skip_email": (
        {"provider": oauth_providers, "id_token": codes},
        {"transaction_id": request_ids},
    ),
    "registration.complete": (
        {"phone_number": phones},
        {
            "phone_otp_request_id": request_ids,
            "phone_otp": codes,
            "email": emails,
            "password": text,
            "email_otp_request_id": request_ids,
            "email_otp": codes,
            "oauth_verification_id": request_ids,
            "transaction_id": request_ids,
        },
    ),
    "profile.request_email_update": ({"access_token": tokens, "email": emails}, {}),
    "profile.confirm_email_update": (
        {"access_token": tokens, "request_id": request_ids, "otp": codes},
        {},
    ),
    "profile.send_email_verification": (
        {"access_token": tokens, "email": emails},
        {"transaction_id": request_ids},
    ),
    "profile.confirm_email_verification": (
        {"access_token": tokens, "email": emails, "request_id": request_ids, "otp": codes},
        {"transaction_id": request_ids},
    ),
    "password_reset.send_reset_code": ({"email": emails}, {}),
    "password_reset.send_email_otp": (
        {"email_or_phone": st.one_of(emails, phones)},
        {"id_number": text},
    ),
    "password_reset.validate_email_otp": (
        {"email_or_phone": st.one_of(emails, phones), "request_id": request_ids, "otp": codes},
        {"id_number": text},
    ),
    "password_reset.send_phone_otp": ({"phone_number": phones}, {"id_number": text}),
    "password_reset.validate_phone_otp": (
        {"phone_number": phones, "request_id": request_ids, "otp": codes},
        {"id_number": text},
    ),
    "password_reset.reset": (
        {"user_id": user_ids, "reset_code": codes, "new_password": text},
        {},
    ),
    "sessions.login": (
        {"phone_number": phones, "password": text, "imei": text},
        {
            "geo_location": geo_locations,
            "phone_number_otp_request_id": request_ids,
            "phone_number_otp": codes,
            "sms_provider": providers,
        },
    ),
    "sessions.admin_login": (
        {"user_name_or_email": st.one_of(emails, text), "password": text},
        {"tenancy_name": st.one_of(st.just("acme"), text)},
    ),
    "sessions.refresh": ({"refresh_token": tokens}, {}),
}

# -- the oracle: what a valid request looks like on the wire ----------------------------------

_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_UUID_KEYS = {
    "phoneNumberOtpRequestId",
    "emailOtpRequestId",
    "transactionId",
    "oAuthTokenVerificationRequestId",
}
_CODE_KEYS = {"phoneNumberOtp", "emailOtp", "resetCode", "IdToken"}
_TEXT_KEYS = {"password", "imei", "idNumber", "userNameOrEmailAddress", "tenancyName"}


def _control(value: str) -> bool:
    """Any control character (C0, DEL or C1): never part of an address."""
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def _header_unsafe(value: str) -> bool:
    """CR, LF, NUL or another ASCII control character: could split or end a header."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def _email_ok(value: object) -> bool:
    return isinstance(value, str) and bool(_EMAIL.fullmatch(value)) and not _control(value)


def _field_problem(key: str, value: object) -> str | None:
    ok = True
    if key == "phoneNumber":
        ok = isinstance(value, str) and bool(_E164.fullmatch(value))
    elif key == "email":
        ok = _email_ok(value)
    elif key == "emailOrPhoneNumber":
        ok = _email_ok(value) or (isinstance(value, str) and bool(_E164.fullmatch(value)))
    elif key in _UUID_KEYS:
        ok = isinstance(value, str) and str(uuid.UUID(value)) == value
    elif key in _CODE_KEYS:
        ok = isinstance(value, str) and value != "" and not any(c.isspace() for c in value)
    elif key in _TEXT_KEYS:
        ok = isinstance(value, str) and value.strip() != ""
    elif key == "refreshToken":
        ok = isinstance(value, str) and value.strip() != "" and not _header_unsafe(value)
    elif key in ("smsProviders", "smsProvider"):
        ok = type(value) is int and value in {int(p) for p in SmsProvider}
    elif key == "userId":
        ok = type(value) is int
    elif key == "provider":
        ok = value in ("Google", "Microsoft")
    elif key == "geoLocation":
        ok = isinstance(value, dict) and _geo_ok(value)
    return None if ok else f"{key}={value!r}"


def _geo_ok(value: dict[str, Any]) -> bool:
    limits = {"latitude": 90.0, "longitude": 180.0}
    for name, limit in limits.items():
        number = value.get(name)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            return False
        if not math.isfinite(number) or abs(number) > limit:
            return False
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def problems(request: Request) -> list[str]:
    """What is wrong with a request that reached the transport (empty: nothing)."""
    found = [f"header {name}" for name, value in request.headers.items() if _header_unsafe(value)]
    try:
        body = json.loads(request.content.decode("utf-8"), parse_constant=_reject_constant)
    except ValueError as exc:
        return [*found, f"body is not strict UTF-8 JSON: {exc}"]
    if not isinstance(body, dict):
        return [*found, "body is not an object"]
    for key, value in body.items():
        problem = _field_problem(key, value)
        if problem is not None:
            found.append(problem)
    return found


# -- the tests --------------------------------------------------------------------------------


def _arguments(method: str) -> st.SearchStrategy[dict[str, Any]]:
    required, optional = METHODS[method]
    return st.fixed_dictionaries(required, optional=optional)


def _run(method: str, args: dict[str, Any], handler: Callable[..., Awaitable[Response]]) -> Any:
    """Call ``method`` with ``args`` on a fresh client; the outcome and the requests sent."""
    transport = FakeTransport(handler)

    async def go() -> object:
        async with VlensClient(
            "fuzz-key",
            transport=transport,
            tenancy_name="acme",
            retry=RetryPolicy.no_wait(max_attempts=2),
        ) as client:
            try:
                return await _service(method)(client, args)
            except VlensError as error:
                return error

    return asyncio.run(go()), transport.requests


async def _accept(request: Request) -> Response:
    return envelope_response({})


def test_every_service_method_is_fuzzed() -> None:
    """The fuzz table names every public method of every service."""
    client = VlensClient("fuzz-key", transport=FakeTransport(_accept))
    services: dict[str, object] = {
        "registration": client.registration,
        "profile": client.profile("token"),
        "password_reset": client.password_reset,
        "sessions": client.sessions,
    }
    public = {
        f"{group}.{name}"
        for group, service in services.items()
        for name in dir(service)
        if not name.startswith("_")
    }
    assert public == set(METHODS)


@pytest.mark.parametrize("method", sorted(METHODS))
@FUZZ
@given(data=st.data())
def test_fuzzed_inputs_raise_only_vlens_errors_and_invalid_ones_are_never_sent(
    method: str, data: st.DataObject
) -> None:
    """Any arguments: a result or a VlensError; VlensInputError sends nothing; sent is valid."""
    args = data.draw(_arguments(method), label="args")
    outcome, sent = _run(method, args, _accept)
    if isinstance(outcome, VlensInputError):
        assert sent == []
    for request in sent:
        assert problems(request) == [], (args, request.content)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
wire_keys = st.sampled_from(
    ["accessToken", "phoneNumberOtpRequestId", "user", "id", "exists", "smsProvider", "isVerified"]
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "data": st.one_of(json_values, st.dictionaries(wire_keys, json_values, max_size=4)),
        "error_code": st.one_of(st.none(), st.just(0), st.integers(), json_values),
        "error_message": st.one_of(st.none(), st.text(max_size=40), json_values),
        "error_descriptions": json_values,
        "Services": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=200),
    envelopes.map(lambda value: json.dumps(value).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.sampled_from([b"", b"<html>502 Bad Gateway</html>", b"[" * 5000, b'{"data":']),
)
responses = st.builds(
    Response,
    status=st.integers(100, 599),
    headers=st.dictionaries(
        st.sampled_from(["retry-after", "content-type", "x-other"]), st.text(max_size=40)
    ),
    content=bodies,
)
failures = st.sampled_from(
    [
        ConnectError("refused"),
        TransportTimeout("slow"),
        RemoteDisconnected("dropped"),
        ResponseTooLarge(200, 10),
    ]
)
answers = st.lists(st.one_of(responses, responses, failures), min_size=2, max_size=2)
TOKEN = "sbx_at_0123456789abcdef"
VALID_ARGS: dict[str, dict[str, Any]] = {
    "registration.check_existence": {"phone_number": PHONE, "email": EMAIL},
    "registration.send_phone_otp": {
        "phone_number": PHONE,
        "sms_provider": "vodafone",
        "transaction_id": REQUEST_ID,
    },
    "registration.validate_phone_otp": {
        "phone_number": PHONE,
        "request_id": REQUEST_ID,
        "otp": "123456",
        "transaction_id": REQUEST_ID,
    },
    "registration.send_email_otp": {"email": EMAIL, "transaction_id": REQUEST_ID},
    "registration.validate_email_otp": {
        "email": EMAIL,
        "request_id": REQUEST_ID,
        "otp": "123456",
        "transaction_id": REQUEST_ID,
    },
    "registration.verify_oauth_token": {
        "provider": "Google",
        "id_token": "eyJhbGciOi.abc.def",
        "transaction_id": REQUEST_ID,
    },
    "registration.verify_oauth_token_skip_email": {
        "provider": "Microsoft",
        "id_token": "eyJhbGciOi.abc.def",
        "transaction_id": REQUEST_ID,
    },
    "registration.complete": {
        "phone_number": PHONE,
        "phone_otp_request_id": REQUEST_ID,
        "phone_otp": "123456",
        "email": EMAIL,
        "password": "pass-word-1",
        "email_otp_request_id": REQUEST_ID,
        "email_otp": "654321",
        "oauth_verification_id": REQUEST_ID,
        "transaction_id": REQUEST_ID,
    },
    "profile.request_email_update": {"access_token": TOKEN, "email": EMAIL},
    "profile.confirm_email_update": {
        "access_token": TOKEN,
        "request_id": REQUEST_ID,
        "otp": "123456",
    },
    "profile.send_email_verification": {
        "access_token": TOKEN,
        "email": EMAIL,
        "transaction_id": REQUEST_ID,
    },
    "profile.confirm_email_verification": {
        "access_token": TOKEN,
        "email": EMAIL,
        "request_id": REQUEST_ID,
        "otp": "123456",
        "transaction_id": REQUEST_ID,
    },
    "password_reset.send_reset_code": {"email": EMAIL},
    "password_reset.send_email_otp": {"email_or_phone": EMAIL, "id_number": "29001011234567"},
    "password_reset.validate_email_otp": {
        "email_or_phone": EMAIL,
        "request_id": REQUEST_ID,
        "otp": "123456",
        "id_number": "29001011234567",
    },
    "password_reset.send_phone_otp": {"phone_number": PHONE, "id_number": "29001011234567"},
    "password_reset.validate_phone_otp": {
        "phone_number": PHONE,
        "request_id": REQUEST_ID,
        "otp": "123456",
        "id_number": "29001011234567",
    },
    "password_reset.reset": {"user_id": 1, "reset_code": "code-1", "new_password": "pass-word-1"},
    "sessions.login": {
        "phone_number": PHONE,
        "password": "pass-word-1",
        "imei": "356938035643809",
        "geo_location": GeoLocation(latitude=30.04, longitude=31.23),
        "phone_number_otp_request_id": REQUEST_ID,
        "phone_number_otp": "123456",
        "sms_provider": 2,
    },
    "sessions.admin_login": {
        "user_name_or_email": "admin",
        "password": "pass-word-1",
        "tenancy_name": "acme",
    },
    "sessions.refresh": {"refresh_token": "sbx_rt_0123456789abcdef"},
}


def _odd_values(kind: str, value: object) -> list[object]:
    """Values of ``kind`` that no careful SDK may send in place of the valid ``value``."""
    if kind == "lone surrogate" and isinstance(value, str):  # cannot be encoded as UTF-8
        return [value[:3] + "\ud800" + value[3:]]
    if kind == "control character in an e-mail" and isinstance(value, str) and "@" in value:
        return ["mona\x00@example.com", "mo\x07na@example.com"]
    if kind == "bad coordinates" and isinstance(value, GeoLocation):
        pairs: list[tuple[Any, Any]] = [
            (math.nan, 1.0),
            (1.0, math.inf),
            (91.0, 1.0),
            (1.0, -181.0),
            ("30", None),
        ]
        return [GeoLocation(latitude=lat, longitude=lon) for lat, lon in pairs]
    return []


ODD_KINDS = ["lone surrogate", "control character in an e-mail", "bad coordinates"]


def test_valid_arguments_are_sent_and_pass_the_oracle() -> None:
    """The baseline: every method's valid arguments reach the transport, and the oracle agrees."""
    for method, args in VALID_ARGS.items():
        outcome, sent = _run(method, args, _accept)
        assert not isinstance(outcome, VlensInputError), (method, outcome)
        assert len(sent) == 1, method
        assert problems(sent[0]) == [], (method, sent[0].content)


@pytest.mark.parametrize("kind", ODD_KINDS)
def test_odd_arguments_are_refused_before_sending(kind: str) -> None:
    """For every method and argument, an odd value of ``kind`` is a VlensInputError, unsent."""
    failures: list[str] = []
    tried = 0
    for method, args in sorted(VALID_ARGS.items()):
        for name, value in args.items():
            for odd in _odd_values(kind, value):
                tried += 1
                try:
                    outcome, sent = _run(method, {**args, name: odd}, _accept)
                except Exception as exc:  # noqa: BLE001 - an escaping non-VlensError is the finding
                    failures.append(f"{method}({name}={odd!r}) raised {exc.__class__.__name__}")
                    continue
                if not isinstance(outcome, VlensInputError) or sent:
                    failures.append(f"{method}({name}={odd!r}) sent {len(sent)} request(s)")
    assert tried > 0
    assert failures == []


@pytest.mark.parametrize("method", sorted(VALID_ARGS))
@FUZZ
@given(script=answers)
def test_any_answer_raises_only_vlens_errors(method: str, script: list[Any]) -> None:
    """Any status, headers and bytes, or any transport failure, in any order: only VlensError."""
    pending = list(script)

    async def answer(request: Request) -> Response:
        step = pending.pop(0)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, Response)
        return step

    outcome, sent = _run(method, VALID_ARGS[method], answer)
    assert 1 <= len(sent) <= 2
    assert not isinstance(outcome, BaseException) or isinstance(outcome, VlensError)
