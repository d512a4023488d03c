"""The Sandbox: a stateful simulated Vlens, reachable in memory or over HTTP."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from vlens_transports import (
    DEFAULT_MAX_RESPONSE_BYTES,
    ConnectError,
    FakeTransport,
    RemoteDisconnected,
    Request,
    Response,
    ResponseTooLarge,
    TransportTimeout,
)

from .._json import loads
from .._redact import mask_contact
from . import _account, _registration, _sessions
from ._clock import SandboxClock
from ._context import PROVIDERS, Call, header
from ._faults import Fault, FaultKind, Faults
from ._outbox import Outbox
from ._settings import (
    check_count,
    check_identity,
    check_new_account,
    check_rate_limits,
    check_seconds,
)
from ._state import SandboxState, UserRecord
from ._wire import ApiFailure, Body, envelope_bytes, http_status_for

if TYPE_CHECKING:
    from .._client import VlensClient

__all__ = ["Exchange", "Sandbox"]

logger = logging.getLogger("vlens_async.sandbox")

Handler = Callable[[Call], Any]
_DI = "/api/DigitalIdentity/"


def _by_otp(send: str, validate: str, otp_field: str) -> Callable[[Body], str]:
    return lambda body: validate if body.has(otp_field) else send


# path -> (handler, SDK operation name, or a function of the body giving it)
ROUTES: dict[str, tuple[Handler, str | Callable[[Body], str]]] = {
    _DI + "CheckExistenceOfEmailOrPhone": (
        _registration.check_existence,
        "registration.check_existence",
    ),
    _DI + "Register/StepVerifyPhone": (
        _registration.verify_phone,
        _by_otp("registration.send_phone_otp", "registration.validate_phone_otp", "phoneNumberOtp"),
    ),
    _DI + "Register/StepVerifyEmail": (
        _registration.verify_email,
        _by_otp("registration.send_email_otp", "registration.validate_email_otp", "emailOtp"),
    ),
    _DI + "Register/StepVerifyOAuthToken": (
        _registration.verify_oauth,
        "registration.verify_oauth_token",
    ),
    _DI + "VerifyOAuthToken": (
        _registration.verify_oauth,
        "registration.verify_oauth_token_skip_email",
    ),
    _DI + "Register": (_registration.register, "registration.complete"),
    _DI + "UpdateEmailRequest": (_account.update_email, "profile.request_email_update"),
    _DI + "ValidateUpdateEmailRequestOtp": (
        _account.confirm_email_update,
        "profile.confirm_email_update",
    ),
    _DI + "VerifyEmail": (
        _account.verify_email_for_user,
        _by_otp(
            "profile.send_email_verification", "profile.confirm_email_verification", "emailOtp"
        ),
    ),
    _DI + "SendPasswordResetCode": (_account.send_reset_code, "password_reset.send_reset_code"),
    _DI + "ForgetPassword/SendEmailOtp": (
        _account.forget_password_send("email"),
        "password_reset.send_email_otp",
    ),
    _DI + "ForgetPassword/ValidateEmailOtp": (
        _account.forget_password_validate("email"),
        "password_reset.validate_email_otp",
    ),
    _DI + "ForgetPasswordByPhone/SendPhoneOtp": (
        _account.forget_password_send("sms"),
        "password_reset.send_phone_otp",
    ),
    _DI + "ForgetPasswordByPhone/ValidatePhoneOtp": (
        _account.forget_password_validate("sms"),
        "password_reset.validate_phone_otp",
    ),
    _DI + "ForgetPassword/Reset": (_account.reset_password, "password_reset.reset"),
    "/api/credentials/Login": (_sessions.admin_login, "sessions.admin_login"),
    "/api/credentials/RefreshToken": (_sessions.refresh, "sessions.refresh"),
    _DI + "Login": (_sessions.login, "sessions.login"),
}
_ROUTES_LOWER = {path.lower(): path for path in ROUTES}

# A routed request with its body read: handler, operation naming, path, headers, body.
_Prepared = tuple[Handler, "str | Callable[[Body], str]", str, Mapping[str, str], Body]

_HTML_PAGE = (
    "<html><head><title>{status} Error</title></head><body><center><h1>{status} Error</h1>"
    "</center><hr><center>nginx</center></body></html>"
)


@attrs.frozen(kw_only=True)
class Exchange:
    """The sandbox's answer before it is put on a wire: a response, and maybe a fault to apply."""

    status: int
    content: bytes = attrs.field(repr=False)  # tokens and codes: never in a repr
    headers: Mapping[str, str] = attrs.field(factory=dict)
    fault: Fault | None = None


class Sandbox:
    """A stateful simulated Vlens: users, OTPs, an outbox, a clock, limits and faults.

    Args:
        api_keys: keys accepted in the ``ApiKey`` header (others get a 401 envelope).
        tenancy_name: the tenant's name, for admin login.
        otp_length: digits per OTP, 4 to 10: the lengths the SDK accepts back.
        fixed_otp: make every OTP this code (``otp_length`` digits), for browser end-to-end
            tests that cannot read the outbox. ``None``: random codes.
        otp_ttl: seconds an OTP stays valid (finite, above 0).
        max_attempts: wrong codes allowed per OTP before it is locked (4003); at least 1.
        resend_cooldown: seconds before another code may go to the same recipient (4003);
            finite, 0 for none.
        seed: makes codes, ids and tokens reproducible.
        rate_limits: ``(requests, seconds)`` windows per API key, e.g. ``[(10, 1), (60, 60)]``;
            beyond them the answer is 429 with ``Retry-After``. ``None``: unlimited.
        token_ttl: seconds an access token stays valid (finite, above 0).

    Raises:
        ValueError, TypeError: a setting out of its bounds, named (as ``vlens sandbox`` does).
        clock: the time source (default: a frozen :class:`SandboxClock`).
        admins: admin user names and passwords for ``credentials/Login``.
        default_sms_provider: the provider (1 to 7) recorded when a call names none.
    """

    def __init__(
        self,
        *,
        api_keys: Sequence[str] = ("sandbox-key",),
        tenancy_name: str = "sandbox",
        otp_length: int = 6,
        otp_ttl: float = 300,
        max_attempts: int = 5,
        resend_cooldown: float = 30,
        seed: int | None = None,
        rate_limits: Sequence[tuple[int, float]] | None = None,
        clock: SandboxClock | None = None,
        admins: Mapping[str, str] | None = None,
        default_sms_provider: int = 1,
        token_ttl: float = 3600,
        fixed_otp: str | None = None,
    ) -> None:
        if isinstance(api_keys, str):  # a str is a Sequence[str]: its letters would be keys
            raise TypeError("api_keys must be a list of keys, such as ['sandbox-key'], not a str")
        if not api_keys:
            raise ValueError("a sandbox needs at least one API key")
        check_identity(api_keys, tenancy_name, clock)
        self.api_keys = tuple(api_keys)
        self.tenancy_name = tenancy_name
        self.clock = clock or SandboxClock()
        self.outbox = Outbox()
        self.faults = Faults()
        self.admins = dict(admins if admins is not None else {"admin": "sandbox-admin-password"})
        if default_sms_provider not in PROVIDERS:  # the numbers a request may name
            raise ValueError(
                f"default_sms_provider must be from 1 to 7, not {default_sms_provider}"
            )
        self.default_sms_provider = default_sms_provider
        self.rate_limits = check_rate_limits(rate_limits or ())
        self._calls: dict[str, deque[float]] = {}
        self.state = SandboxState(
            clock=self.clock,
            outbox=self.outbox,
            rng=random.Random(seed),
            otp_length=otp_length,
            otp_ttl=check_seconds("otp_ttl", otp_ttl, positive=True),
            max_attempts=check_count("max_attempts", max_attempts),
            resend_cooldown=check_seconds("resend_cooldown", resend_cooldown, positive=False),
            token_ttl=check_seconds("token_ttl", token_ttl, positive=True),
            fixed_otp=fixed_otp,
        )
        self.requests_seen = 0

    # -- set-up helpers for tests -------------------------------------------------------------
    @property
    def users(self) -> list[UserRecord]:
        """Registered accounts, oldest first."""
        return list(self.state.users.values())

    def add_user(
        self,
        phone_number: str,
        password: str | None = None,
        *,
        email: str | None = None,
        name: str | None = None,
        surname: str | None = None,
        id_number: str | None = None,
        devices: Sequence[str] = (),
    ) -> UserRecord:
        """Create an account directly, skipping the registration steps.

        Raises:
            ValueError, TypeError: a number or address the API could not reach (not E.164, not
                an e-mail address) or already registered, or ``devices`` given as one str.
        """
        check_new_account(self.state, phone_number, email, devices)
        return self.state.add_user(
            phone_number=phone_number,
            password=password,
            email=email.lower() if email else None,
            name=name,
            surname=surname,
            id_number=id_number,
            devices=set(devices),
        )

    def add_oauth_identity(self, provider: str, id_token: str, email: str) -> None:
        """Make ``id_token`` from ``provider`` ("Google"/"Microsoft") verify as ``email``."""
        if provider not in _registration.OAUTH_PROVIDERS:  # no request could name another
            raise ValueError(f"provider must be 'Google' or 'Microsoft', not {provider!r}")
        self.state.oauth_identities[f"{provider}:{id_token}"] = email.lower()

    def client(self, **options: Any) -> VlensClient:
        """A real :class:`VlensClient` over ``FakeTransport(self.handle, record=False)``.

        Retries do not sleep unless you pass your own ``retry=`` policy. The transport keeps no
        list of requests (the sandbox counts them in :attr:`requests_seen` and keeps what they
        did): a long in-memory run stays flat in memory. The call's deadline ends a latency
        fault as it would a slow server; a subclass whose ``process()`` itself awaits is not
        cut at the deadline.
        """
        from .._client import VlensClient
        from .._retry import RetryPolicy

        options.setdefault("retry", RetryPolicy.no_wait())
        options.setdefault("tenancy_name", self.tenancy_name)
        options.setdefault("base_url", "https://sandbox.vlens.test")
        api_key = options.pop("api_key", self.api_keys[0])
        # The sandbox keeps each request's deadline itself (it waits only in latency faults),
        # which spares the transport an asyncio timer per call: a tenth of an in-memory call.
        transport = FakeTransport(self.handle, record=False, handler_keeps_deadline=True)
        return VlensClient(api_key, transport=transport, **options)

    # -- the two ways in ------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        """The in-memory entry (a FakeTransport handler): faults become transport errors.

        A latency fault longer than the request's read timeout raises ``TransportTimeout``
        once that timeout has passed, as the socket would; the request is still processed when
        the delay ends, as a real server goes on with a request whose client gave up.
        """
        exchange = await self.process(request)
        fault = exchange.fault
        if fault is not None:
            if fault.kind is FaultKind.REFUSE:
                raise ConnectError("sandbox: connection refused (fault)")
            if fault.kind in (FaultKind.DROP_AFTER_PROCESSING, FaultKind.TRUNCATED_BODY):
                raise RemoteDisconnected("sandbox: connection dropped after processing (fault)")
            # Over HTTP, the SDK's transport refuses a body past its default limit; a smaller
            # "oversized" body is read there, so it is answered here too.
            if fault.kind is FaultKind.OVERSIZED_BODY and fault.size > DEFAULT_MAX_RESPONSE_BYTES:
                raise ResponseTooLarge(exchange.status, DEFAULT_MAX_RESPONSE_BYTES)
        return Response(status=exchange.status, headers=exchange.headers, content=exchange.content)

    async def process(self, request: Request) -> Exchange:
        """Answer one request, applying the fault schedule. Shared by both entries.

        Every request, in memory or over HTTP, goes through here: a subclass or a test's spy
        that wraps this method sees them all.

        A latency fault longer than ``request.timeout.read``, or than the time left to
        ``request.deadline``, times out after that long, as the client's socket or deadline
        would (so ``sandbox.client()``'s transport needs no timer of its own); the HTTP entry
        passes neither, since there the client does it.
        """
        prepared = self._prepare(request)
        if isinstance(prepared, Exchange):
            return prepared
        handler, naming, path, headers, body = prepared
        # Naming the operation is needed only to match faults, or to log.
        fault = self.faults.draw(path, _operation(naming, body)) if self.faults.pending else None
        if fault is None:
            exchange = self._run(handler, body, headers)
        else:
            exchange = await self._faulted(request, prepared, fault)
        if logger.isEnabledFor(logging.INFO):
            self._log(naming, path, exchange, fault, body)
        return exchange

    async def _faulted(self, request: Request, prepared: _Prepared, fault: Fault) -> Exchange:
        """The answer to a routed request when ``fault`` fires."""
        handler, naming, path, headers, body = prepared
        if fault.kind is FaultKind.LATENCY:
            patience = _patience(request)
            if patience is not None and fault.delay > patience[0]:
                wait, limit = patience

                def process_late() -> None:  # a closure: a TimerHandle's repr shows its args
                    try:
                        late = self._run(handler, body, headers)
                    except Exception:
                        operation = _operation(naming, body)
                        logger.exception("%s %s: failed after the client gave up", operation, path)
                        return
                    if logger.isEnabledFor(logging.INFO):
                        self._log(naming, path, late, fault, body)

                asyncio.get_running_loop().call_later(fault.delay, process_late)
                await asyncio.sleep(wait)
                raise TransportTimeout(
                    f"sandbox: no answer within {limit} "
                    f"(latency fault of {fault.delay}s; the request is processed when it ends)"
                )
            await asyncio.sleep(fault.delay)
        if not fault.processed:
            return _fault_exchange(fault)
        exchange = self._run(handler, body, headers)
        return attrs.evolve(exchange, fault=fault, **_spoil(fault, exchange))

    def _prepare(self, request: Request) -> Exchange | _Prepared:
        """Count the request, route it and read its body; an Exchange if that already failed."""
        self.requests_seen += 1
        path = _route(request.url)
        if path is None:
            # A lone surrogate (a URL made in memory) cannot be written as JSON: escape it.
            shown = urlsplit(request.url).path.encode("utf-8", "backslashreplace").decode()
            return _failure(ApiFailure(404, f"No such endpoint: {shown}"))
        handler, naming = ROUTES[path]
        try:
            body = self._parse(request)
        except ApiFailure as failure:
            return _failure(failure)
        return handler, naming, path, request.headers, body

    @staticmethod
    def _log(
        naming: str | Callable[[Body], str],
        path: str,
        exchange: Exchange,
        fault: Fault | None,
        body: Body,
    ) -> None:
        """Log a call at INFO (callers check that INFO is on: most runs have it off)."""
        logger.info(
            "%s %s -> %s%s subject=%s",
            _operation(naming, body),
            path,
            exchange.status,
            f" fault={fault.kind.value}" if fault else "",
            _loggable(mask_contact(_subject(body))),
        )

    def _parse(self, request: Request) -> Body:
        if request.method.upper() != "POST":
            raise ApiFailure(405, "Every Vlens endpoint takes POST.", headers={"Allow": "POST"})
        if header(request.headers, "apikey") not in self.api_keys:
            raise ApiFailure(401, "Unauthorized: invalid API key.")
        content_type = header(request.headers, "content-type") or ""
        if not content_type.lower().startswith("application/json"):
            raise ApiFailure(415, "Send the body as application/json.")
        try:
            fields = loads(request.content)
        except ValueError:  # bad UTF-8, NaN, nesting deeper than the parser goes...
            raise ApiFailure(400, "Bad request: the body is not valid JSON.") from None
        if not isinstance(fields, dict):
            raise ApiFailure(400, "Bad request: the body must be a JSON object.")
        return Body(fields)

    def _run(self, handler: Handler, body: Body, headers: Mapping[str, str]) -> Exchange:
        try:
            if self.rate_limits:
                self._count_call(header(headers, "apikey") or "")  # _parse checked it is there
            call = Call(
                self.state,
                body,
                headers,
                self.tenancy_name,
                self.admins,
                self.default_sms_provider,
            )
            data = handler(call)
        except ApiFailure as failure:
            return _failure(failure)
        return Exchange(status=200, content=envelope_bytes(data), headers=_JSON)

    def _count_call(self, api_key: str) -> None:
        """Sliding windows per API key, on the sandbox clock; a refused call does not count.

        Called only when there are limits (_run checks, sparing the call on every request).
        """
        now = self.clock.now()
        calls = self._calls.setdefault(api_key, deque())
        longest = max(seconds for _, seconds in self.rate_limits)
        while calls and calls[0] <= now - longest:
            calls.popleft()
        for limit, seconds in self.rate_limits:
            recent = [t for t in calls if t > now - seconds]
            if len(recent) >= limit:
                wait = recent[-limit] + seconds - now
                raise ApiFailure(
                    429,
                    f"Too many requests: at most {limit} per {seconds:g} s.",
                    headers={"Retry-After": str(max(1, int(wait + 0.999)))},
                )
        calls.append(now)

    def __repr__(self) -> str:
        return (
            f"<Sandbox users={len(self.state.users)} outbox={len(self.outbox)} "
            f"faults={self.faults.pending}>"
        )


# Read-only, so that every Response can keep it as it is instead of copying it.
_JSON = MappingProxyType({"content-type": "application/json; charset=utf-8"})


@functools.lru_cache(maxsize=256)
def _route(url: str) -> str | None:
    """The route for a URL (cached: a test suite calls the same few URLs many times)."""
    return _ROUTES_LOWER.get(urlsplit(url).path.rstrip("/").lower())


def _patience(request: Request) -> tuple[float, str] | None:
    """How long the client waits for an answer, and what ends the wait, if anything does."""
    waits = []
    if request.timeout.read is not None:
        waits.append((request.timeout.read, f"the read timeout of {request.timeout.read}s"))
    if request.deadline is not None:
        waits.append((max(0.0, request.deadline - time.monotonic()), "the call's deadline"))
    return min(waits, default=None)


def _operation(naming: str | Callable[[Body], str], body: Body) -> str:
    """The SDK operation a request is, for fault matching and the log."""
    return naming if isinstance(naming, str) else naming(body)


def _subject(body: Body) -> str | None:
    for key in ("phoneNumber", "email", "emailOrPhoneNumber"):
        value = body.fields.get(key)
        if isinstance(value, str):
            return value
    return None


def _loggable(subject: str | None, limit: int = 64) -> str | None:
    """A subject as the client sent it (masked), on one short line: a line break in it would
    forge a log line of its own."""
    if subject is None or (len(subject) <= limit and subject.isprintable()):
        return subject
    cut = subject if len(subject) <= limit else subject[:limit] + "..."
    return ascii(cut)


def _failure(failure: ApiFailure) -> Exchange:
    content = envelope_bytes(
        code=failure.code, message=failure.message, descriptions=failure.descriptions
    )
    return Exchange(
        status=http_status_for(failure.code), content=content, headers={**_JSON, **failure.headers}
    )


def _fault_exchange(fault: Fault) -> Exchange:
    """The answer of a fault that stops the request before processing."""
    if fault.kind is FaultKind.RATE_LIMIT:
        headers = dict(_JSON)
        if fault.retry_after is not None:
            headers["Retry-After"] = _seconds_text(fault.retry_after)
        body = envelope_bytes(code=429, message="Too many requests; slow down.")
        return Exchange(status=429, content=body, headers=headers, fault=fault)
    if fault.kind is FaultKind.REFUSE:
        return Exchange(status=503, content=b"", fault=fault)
    if fault.body == "html":
        page = _HTML_PAGE.format(status=fault.status).encode()
        return Exchange(
            status=fault.status, content=page, headers={"Content-Type": "text/html"}, fault=fault
        )
    if fault.body == "empty":
        return Exchange(status=fault.status, content=b"", fault=fault)
    body = envelope_bytes(code=fault.status, message="The service failed; try again later.")
    return Exchange(status=fault.status, content=body, headers=_JSON, fault=fault)


def _seconds_text(seconds: float) -> str:
    """Whole seconds as an integer (RFC 9110's Retry-After), a fraction as a plain decimal:
    never with an exponent, as ``f"{1e7:g}"`` writes it."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def _spoil(fault: Fault, exchange: Exchange) -> dict[str, Any]:
    """How a fault that lets processing happen changes the answer."""
    if fault.kind is FaultKind.MALFORMED_JSON:
        return {"status": 200, "content": exchange.content[: len(exchange.content) // 2] + b"<!--"}
    if fault.kind is FaultKind.OVERSIZED_BODY:
        padding = b" " * max(0, fault.size - len(exchange.content))
        return {"content": exchange.content + padding}
    return {}
