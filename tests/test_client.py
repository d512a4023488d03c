"""VlensClient configuration and lifecycle, and the shape of the public API."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import vlens_async
import vlens_transports
from vlens_async import (
    DEFAULT_BASE_URL,
    ClientClosedError,
    ExistenceResult,
    RetryPolicy,
    ServerError,
    VlensClient,
    VlensError,
    VlensInputError,
)
from vlens_async.testing import envelope, envelope_response, error_response
from vlens_transports import AiohttpTransport, FakeTransport, Request, Response, Timeout

from .conftest import API_KEY, answer, make_client

EMAIL = "mona@example.com"
EXISTENCE_PATH = "/api/DigitalIdentity/CheckExistenceOfEmailOrPhone"
Serve = Callable[[web.Application], Awaitable[str]]


async def check(client: VlensClient) -> ExistenceResult:
    """One harmless read call."""
    return await client.registration.check_existence(email=EMAIL)


# --- base URL ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["no", "false", 0, 1, None])
async def test_allow_insecure_http_must_be_a_bool(flag: object) -> None:
    """A truthy string such as "no" must not switch plain http on: only True or False."""
    with pytest.raises(VlensInputError) as info:
        make_client(answer({}), base_url="http://api.vlenseg.com", allow_insecure_http=flag)
    assert info.value.field == "allow_insecure_http"


@pytest.mark.parametrize(
    "base_url",
    ["http://api.vlenseg.com", "http://10.0.0.5:8080", "http://localhost.evil.example"],
)
async def test_plain_http_to_remote_host_is_refused(base_url: str) -> None:
    """A non-loopback http:// base URL is refused unless allow_insecure_http is set."""
    with pytest.raises(VlensInputError) as info:
        make_client(answer({}), base_url=base_url)
    assert info.value.field == "base_url"


async def test_allow_insecure_http_permits_remote_http() -> None:
    """allow_insecure_http=True accepts a remote http:// base URL and sends to it."""
    client, transport = make_client(
        answer({"exists": False}), base_url="http://sandbox.internal:8088", allow_insecure_http=True
    )
    async with client:
        await check(client)
    assert transport.requests[0].url == "http://sandbox.internal:8088" + EXISTENCE_PATH


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8088", "http://localhost:8088", "http://[::1]:8088"],
)
async def test_plain_http_to_loopback_is_allowed(base_url: str) -> None:
    """http:// is accepted for 127.0.0.1, localhost and ::1 without any flag."""
    client, transport = make_client(answer({"exists": False}), base_url=base_url)
    async with client:
        await check(client)
    assert transport.requests[0].url == base_url + EXISTENCE_PATH


async def test_trailing_slash_in_base_url_is_dropped() -> None:
    """A base URL ending in / does not produce a double slash."""
    client, transport = make_client(answer({}), base_url="https://api.vlenseg.com/")
    async with client:
        await check(client)
    assert transport.requests[0].url == "https://api.vlenseg.com" + EXISTENCE_PATH


@pytest.mark.parametrize(
    "base_url",
    [
        "",
        "api.vlenseg.com",
        "ftp://api.vlenseg.com",
        "https://",
        "https://api.vlenseg.com?tenant=acme",
        "https://api.vlenseg.com#top",
        "https://api.vlenseg.com:abc",
        "https://api.vlenseg.com:99999",
        "http://[::1",
        "https://user:secretpw@api.vlenseg.com",
        "https://user@api.vlenseg.com",
        # a host the resolver cannot encode: a raw UnicodeError escaped from the first call
        "https://api..vlenseg.com",
        "https://" + "a" * 64 + ".vlenseg.com",
        # spaces, control characters, lone surrogates: a call failed as "cannot connect"
        "https://api.vlen seg.com",
        "https://api.vlenseg.com/a path",
        "https://api\x00.vlenseg.com",
        "https://api.vlenseg.com/\x1b[31m",
        "https://api.vlenseg.com/\u2028x",
        "https://api.vlenseg.com/\ud800",
    ],
)
async def test_bad_base_url_is_refused(base_url: str) -> None:
    """A base URL that is not a well-formed http(s) root is refused at construction."""
    with pytest.raises(VlensInputError) as info:
        make_client(answer({}), base_url=base_url)
    assert info.value.field == "base_url"


async def test_credentials_in_base_url_never_show() -> None:
    """A base URL with a password is refused, and the error does not repeat the password."""
    with pytest.raises(VlensInputError) as info:
        make_client(answer({}), base_url="https://user:secretpw@api.vlenseg.com")
    assert "secretpw" not in str(info.value)


@pytest.mark.parametrize(
    ("option", "value"),
    [("timeout", 5), ("retry", 3), ("transport", object())],
)
def test_options_of_the_wrong_type_are_input_errors(option: str, value: object) -> None:
    """timeout=5, retry=3 or a non-transport are refused at construction, naming the option."""
    with pytest.raises(VlensInputError) as info:
        VlensClient("key", **{option: value})  # type: ignore[arg-type]
    assert info.value.field == option


@pytest.mark.parametrize(("option", "value"), [("timeout", 5), ("retry", 3)])
async def test_with_options_of_the_wrong_type_are_input_errors(option: str, value: object) -> None:
    """with_options checks its arguments the same way."""
    client, _ = make_client(answer({}))
    with pytest.raises(VlensInputError) as info:
        client.with_options(**{option: value})  # type: ignore[arg-type]
    assert info.value.field == option
    await client.aclose()


async def test_non_string_base_url_is_refused() -> None:
    """A base URL that is not a string is refused with an input error, not a TypeError."""
    with pytest.raises(VlensInputError) as info:
        make_client(answer({}), base_url=b"https://api.vlenseg.com")
    assert info.value.field == "base_url"


# --- from_env ---------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No VLENS_* variables from the outer environment."""
    for name in ("VLENS_API_KEY", "VLENS_BASE_URL", "VLENS_TENANCY_NAME"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


async def test_from_env_reads_key_base_url_and_tenancy(clean_env: pytest.MonkeyPatch) -> None:
    """from_env() takes VLENS_API_KEY, VLENS_BASE_URL and VLENS_TENANCY_NAME."""
    clean_env.setenv("VLENS_API_KEY", "env-key-123")
    clean_env.setenv("VLENS_BASE_URL", "http://127.0.0.1:9000")
    clean_env.setenv("VLENS_TENANCY_NAME", "initech")
    transport = FakeTransport(answer({"exists": True}))
    async with VlensClient.from_env(transport=transport) as client:
        await check(client)
    request = transport.requests[0]
    assert request.url == "http://127.0.0.1:9000" + EXISTENCE_PATH
    assert request.headers["ApiKey"] == "env-key-123"
    assert request.headers["TenancyName"] == "initech"


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("VLENS_BASE_URL", "ftp://api.vlenseg.com", "base_url"),
        ("VLENS_TENANCY_NAME", "acme\r\nX-Evil: 1", "tenancy_name"),
        ("VLENS_API_KEY", "key\nwith a line break", "api_key"),
    ],
)
def test_from_env_names_the_variable_a_bad_value_came_from(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    """A bad VLENS_* value: the error names the variable the user set (it named only the
    argument, which the user never wrote), and never quotes the value."""
    clean_env.setenv("VLENS_API_KEY", "env-key-123")
    clean_env.setenv(variable, value)
    with pytest.raises(VlensInputError) as raised:
        VlensClient.from_env()
    assert raised.value.field == field
    assert f"(from {variable})" in str(raised.value)
    assert "line break" not in str(raised.value)


async def test_from_env_defaults_base_url_and_tenancy(clean_env: pytest.MonkeyPatch) -> None:
    """Without VLENS_BASE_URL / VLENS_TENANCY_NAME: the Vlens host and no TenancyName."""
    clean_env.setenv("VLENS_API_KEY", "env-key-123")
    transport = FakeTransport(answer({"exists": True}))
    async with VlensClient.from_env(transport=transport) as client:
        await check(client)
    assert DEFAULT_BASE_URL == "https://api.vlenseg.com"
    assert transport.requests[0].url == DEFAULT_BASE_URL + EXISTENCE_PATH
    assert "TenancyName" not in transport.requests[0].headers


async def test_from_env_keyword_options_win(clean_env: pytest.MonkeyPatch) -> None:
    """Keyword options given to from_env() override the environment."""
    clean_env.setenv("VLENS_API_KEY", "env-key-123")
    clean_env.setenv("VLENS_TENANCY_NAME", "initech")
    transport = FakeTransport(answer({"exists": True}))
    client = VlensClient.from_env(api_key="kw-key", tenancy_name="acme", transport=transport)
    async with client:
        await check(client)
    assert transport.requests[0].headers["ApiKey"] == "kw-key"
    assert transport.requests[0].headers["TenancyName"] == "acme"


@pytest.mark.parametrize("value", [None, ""])
async def test_from_env_without_key_is_a_clear_input_error(
    clean_env: pytest.MonkeyPatch, value: str | None
) -> None:
    """A missing or empty VLENS_API_KEY raises a VlensInputError that names the variable."""
    if value is not None:
        clean_env.setenv("VLENS_API_KEY", value)
    with pytest.raises(VlensInputError) as info:
        VlensClient.from_env(transport=FakeTransport(answer({})))
    assert "VLENS_API_KEY" in str(info.value)


# --- with_options -----------------------------------------------------------------------------


async def test_with_options_timeout_applies_to_the_copy_only() -> None:
    """with_options(timeout=) gives a copy on the same transport whose requests carry it."""
    client, transport = make_client(answer({"exists": True}))
    new_timeout = Timeout(connect=1.5, read=2.5, pool=3.5)
    fast = client.with_options(timeout=new_timeout)
    async with client:
        await check(client)
        await check(fast)
    assert fast is not client
    assert fast.transport is client.transport
    assert fast.timeout == new_timeout
    assert client.timeout == Timeout()
    assert [r.timeout for r in transport.requests] == [Timeout(), new_timeout]


async def test_with_options_retry_applies_to_the_copy_only() -> None:
    """with_options(retry=) changes how many attempts the copy makes; the original keeps its."""
    client, transport = make_client(
        lambda request: _respond(error_response(503, "busy", status=503))
    )
    once = client.with_options(retry=RetryPolicy.no_wait(max_attempts=1))
    async with client:
        with pytest.raises(ServerError):
            await check(once)
        assert len(transport.requests) == 1
        with pytest.raises(ServerError):
            await check(client)
        assert len(transport.requests) == 4
    assert once.retry == RetryPolicy.no_wait(max_attempts=1)


async def _respond(response: Response) -> Response:
    return response


async def test_with_options_keeps_headers() -> None:
    """A with_options copy sends the same ApiKey, TenancyName and Accept-Language."""
    client, transport = make_client(answer({}), tenancy_name="acme", accept_language="ar")
    async with client:
        await check(client)
        await check(client.with_options(timeout=Timeout(read=1.0)))
    first, second = (dict(request.headers) for request in transport.requests)
    assert first.pop("X-Request-Id") != second.pop("X-Request-Id")  # one per call
    assert first == second


async def test_closing_a_copy_leaves_the_original_open() -> None:
    """A with_options copy used as ``async with`` closes nothing: the original (and the copy)
    still work; closing the original closes the copy too."""
    client, transport = make_client(answer({}))
    async with client.with_options(timeout=Timeout(read=1.0)) as copy:
        await check(copy)
    assert not client.closed
    await check(client)
    await check(copy)
    await client.aclose()
    assert copy.closed
    with pytest.raises(ClientClosedError, match="closed"):
        await check(copy)
    assert len(transport.requests) == 3


# --- lifecycle --------------------------------------------------------------------------------


async def test_aclose_is_idempotent() -> None:
    """aclose() may be called any number of times."""
    client, _ = make_client(answer({}))
    async with client:
        await check(client)
    await client.aclose()
    await client.aclose()
    assert client.closed


async def test_borrowed_transport_is_not_closed() -> None:
    """A transport passed in is borrowed: aclose() leaves it open."""
    client, transport = make_client(answer({}))
    async with client:
        await check(client)
    assert client.closed
    assert transport.closed is False


async def test_owned_transport_is_closed(serve: Serve) -> None:
    """A transport the client created is closed with the client."""

    async def existence(request: web.Request) -> web.Response:
        return web.json_response(envelope({"exists": True}))

    app = web.Application()
    app.router.add_post(EXISTENCE_PATH, existence)
    base_url = await serve(app)
    client = VlensClient(API_KEY, base_url=base_url)
    transport = client.transport
    assert isinstance(transport, AiohttpTransport)
    async with client:
        assert await check(client) == ExistenceResult(exists=True)
    with pytest.raises(RuntimeError, match="closed"):
        await transport.send(Request(method="POST", url=base_url + EXISTENCE_PATH))


async def test_a_copy_never_closes_the_owned_pool_it_shares(serve: Serve) -> None:
    """``async with client.with_options(...)`` leaves the owning client's pool open; only the
    client that created it closes it."""

    async def existence(request: web.Request) -> web.Response:
        return web.json_response(envelope({"exists": True}))

    app = web.Application()
    app.router.add_post(EXISTENCE_PATH, existence)
    base_url = await serve(app)
    client = VlensClient(API_KEY, base_url=base_url)
    async with client.with_options(retry=RetryPolicy.no_wait()) as copy:
        assert await check(copy) == ExistenceResult(exists=True)
    assert await check(client) == ExistenceResult(exists=True)  # the pool is still open
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.transport.send(Request(method="POST", url=DEFAULT_BASE_URL))


async def test_use_after_close_raises_and_sends_nothing() -> None:
    """A call on a closed client raises ClientClosedError (a VlensError and a RuntimeError)
    saying what to do; nothing is sent."""
    client, transport = make_client(answer({}))
    async with client:
        pass
    with pytest.raises(ClientClosedError, match="closed; create a new one") as caught:
        await check(client)
    assert isinstance(caught.value, VlensError)
    assert isinstance(caught.value, RuntimeError)
    assert "lifespan" in str(caught.value)
    with pytest.raises(ClientClosedError, match="closed"):
        await client.registration.send_phone_otp("+201001234567")
    assert transport.requests == []


async def test_reentering_a_closed_client_raises() -> None:
    """async with on a closed client raises RuntimeError."""
    client, _ = make_client(answer({}))
    await client.aclose()
    with pytest.raises(ClientClosedError, match="closed"):
        async with client:
            pass


async def test_repr_hides_the_api_key() -> None:
    """repr(client) (and of its copies and services) never shows the API key or a token."""
    client, _ = make_client(answer({}), tenancy_name="acme")
    async with client:
        shown = [
            repr(client),
            str(client),
            repr(client.with_options(timeout=Timeout(read=1.0))),
            repr(client.registration),
            repr(client.profile("user-token-secret")),
        ]
    for text in shown:
        assert API_KEY not in text
        assert "user-token-secret" not in text


# --- public API -------------------------------------------------------------------------------

EXPECTED_ALL = [
    "DEFAULT_BASE_URL",
    "AdminSession",
    "AuthenticationError",
    "CallStartEvent",
    "CapturedResponse",
    "ClientClosedError",
    "Codec",
    "EmailConfirmation",
    "EmailOtpRequest",
    "EmailVerification",
    "ErrorEvent",
    "EventLoopMismatchError",
    "ExistenceResult",
    "GeoLocation",
    "InvalidRequestError",
    "LoginState",
    "OAuthVerification",
    "Operation",
    "OutcomeUnknownError",
    "PhoneOtpRequest",
    "QuotaError",
    "RateLimit",
    "RateLimitedError",
    "RateLimiter",
    "RateLimiterUnavailableError",
    "RawResponse",
    "RefreshedToken",
    "RegistrationState",
    "RequestEvent",
    "ResetGrant",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "ServerError",
    "SmsProvider",
    "SuccessEvent",
    "Timeout",
    "User",
    "VlensAPIError",
    "VlensClient",
    "VlensConnectionError",
    "VlensError",
    "VlensHooks",
    "VlensInputError",
    "VlensResponseError",
    "VlensTimeoutError",
    "VlensTransportError",
    "__version__",
    "capture_response",
    "make_converter",
    "mask_email",
    "mask_phone",
]


def isort_key(name: str) -> tuple[int, str]:
    """isort-style order (ruff RUF022): CONSTANTS, then Classes, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def test_all_is_pinned_and_sorted() -> None:
    """vlens_async.__all__ is exactly the expected names, in isort-style sorted order."""
    assert vlens_async.__all__ == EXPECTED_ALL
    assert sorted(vlens_async.__all__, key=isort_key) == vlens_async.__all__
    assert len(set(vlens_async.__all__)) == len(vlens_async.__all__)


def test_every_public_name_is_importable() -> None:
    """Every name in __all__ exists on the package and comes through a star import."""
    module = importlib.import_module("vlens_async")
    namespace: dict[str, Any] = {}
    exec("from vlens_async import *", namespace)  # noqa: S102 - a fixed, local statement
    for name in EXPECTED_ALL:
        assert getattr(module, name) is namespace[name]


def test_version_comes_from_installed_metadata() -> None:
    """__version__ is the installed distribution's version."""
    assert vlens_async.__version__ == importlib.metadata.version("vlens-async")


TRANSPORTS_DIR = Path(vlens_transports.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import statement in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_transports_never_import_vlens_async() -> None:
    """No source file under transports/vlens_transports imports vlens_async."""
    files = sorted(TRANSPORTS_DIR.rglob("*.py"))
    assert TRANSPORTS_DIR.parts[-2:] == ("transports", "vlens_transports")
    assert len(files) >= 6
    for path in files:
        offending = {m for m in imported_modules(path) if m.split(".")[0] == "vlens_async"}
        assert offending == set(), path
        assert "vlens_async" not in path.read_text(encoding="utf-8"), path


def test_importing_transports_does_not_load_vlens_async() -> None:
    """A fresh interpreter importing vlens_transports has no vlens_async module loaded."""
    code = "import sys, vlens_transports; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout)
    assert "vlens_transports" in loaded
    assert [m for m in loaded if m.split(".")[0] == "vlens_async"] == []


async def test_envelope_helper_round_trip() -> None:
    """The testing helper's success envelope is what the client decodes (sanity of the fakes)."""
    client, _ = make_client(lambda request: _respond(envelope_response({"exists": True})))
    async with client:
        assert await check(client) == ExistenceResult(exists=True)


def test_clients_share_one_default_codec() -> None:
    """Clients built without a codec reuse one: building converters per client cost ~1.5 ms."""
    from vlens_async import Codec

    first, _ = make_client(answer())
    second, _ = make_client(answer())
    assert first._caller.codec is second._caller.codec is Codec.default()
