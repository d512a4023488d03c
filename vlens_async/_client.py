"""VlensClient: configuration, the transport it owns or borrows, and the services."""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import os
import platform
import unicodedata
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import SplitResult, urlsplit

from vlens_transports import AiohttpTransport, Timeout, Transport

from ._call import Caller
from ._codec import Codec
from ._errors import ClientClosedError, EventLoopMismatchError, VlensInputError
from ._ratelimit import Limiter
from ._retry import RetryPolicy
from ._validation import check_header_value
from ._version import __version__
from .bulk import BulkService
from .hooks import VlensHooks, combine_hooks
from .services import PasswordResetService, ProfileService, RegistrationService, SessionsService

if TYPE_CHECKING:
    from .redis import RedisRateLimiter

__all__ = ["DEFAULT_BASE_URL", "USE_CLIENT_DEFAULT", "VlensClient"]


class _UseClientDefault(enum.Enum):
    USE_CLIENT_DEFAULT = "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT: Final = _UseClientDefault.USE_CLIENT_DEFAULT
"""``with_options``' default: keep the client's setting (``None`` would mean "none")."""
_LIMITER_METHODS = ("__aenter__", "__aexit__", "slow_down", "succeeded")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")

DEFAULT_BASE_URL = "https://api.vlenseg.com"
_PY_MAJOR, _PY_MINOR, _ = platform.python_version_tuple()
USER_AGENT = f"vlens-async/{__version__} python/{_PY_MAJOR}.{_PY_MINOR}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_limiter(limiter: object) -> Limiter | None:
    if limiter is not None and not all(hasattr(limiter, name) for name in _LIMITER_METHODS):
        raise VlensInputError(
            "rate_limiter", "expected a RateLimiter, a RedisRateLimiter or None (no limit)"
        )
    return limiter  # type: ignore[return-value]  # checked just above, duck-typed


def _check_instance(field: str, value: Any, kind: type, expected: str) -> Any:
    """``value`` when it is None or a ``kind``; else a VlensInputError naming ``field``."""
    if value is not None and not isinstance(value, kind):
        raise VlensInputError(field, f"expected {expected}, got {type(value).__name__}")
    return value


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise VlensInputError(name, "expected 1 or 0 (or true/false)")
    return value in _TRUE


def _split_url(base_url: object) -> tuple[str, SplitResult]:
    """The stripped URL and its parts; no space, control character or lone surrogate."""
    if not isinstance(base_url, str):
        raise VlensInputError("base_url", "expected a string URL")
    base_url = base_url.strip()
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs") for ch in base_url):
        raise VlensInputError("base_url", "must not contain spaces or control characters")
    try:
        return base_url, urlsplit(base_url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise VlensInputError("base_url", "is not a valid URL") from None


def _check_base_url(base_url: str, allow_insecure_http: bool) -> str:
    if not isinstance(allow_insecure_http, bool):  # "no" would be truthy: plain http allowed
        raise VlensInputError("allow_insecure_http", "expected True or False")
    base_url, parts = _split_url(base_url)
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would travel in every Request.url and show in reprs.
        raise VlensInputError("base_url", "must not contain a user name or password")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise VlensInputError("base_url", "expected an http(s) URL such as https://api.vlenseg.com")
    if parts.query or parts.fragment:
        raise VlensInputError("base_url", "must not have a query or fragment")
    try:
        parts.hostname.encode("idna")  # as the resolver will; a UnicodeError then escaped
    except UnicodeError:
        raise VlensInputError(
            "base_url", "has an invalid host name (an empty or long label)"
        ) from None
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise VlensInputError("base_url", "has an invalid port") from None
    if parts.scheme == "http" and not (allow_insecure_http or _is_loopback(parts.hostname)):
        raise VlensInputError(
            "base_url",
            "plain http is only for loopback hosts; pass allow_insecure_http=True to override",
        )
    return base_url.rstrip("/")


class VlensClient:
    """An async client for the Vlens Digital Identity API.

    Use it as an async context manager, or call :meth:`aclose` when done::

        async with VlensClient(api_key="...", tenancy_name="acme") as vlens:
            sent = await vlens.registration.send_phone_otp("+201001234567")

    Args:
        api_key: the tenant's API key (sent as the ``ApiKey`` header; never logged).
        base_url: the service root; plain ``http`` only for loopback unless allowed.
        tenancy_name: sent as ``TenancyName`` on every call when given.
        transport: a transport to borrow (never closed by the client); by default the client
            creates and owns an :class:`~vlens_transports.AiohttpTransport`.
        timeout: per-attempt connect/read/pool limits.
        retry: attempts, backoff and the deadline over all attempts.
        accept_language: sent as ``Accept-Language`` (e.g. ``"ar"``) when given.
        allow_insecure_http: permit a non-loopback ``http://`` base URL.
        hooks: a :class:`~vlens_async.VlensHooks` (or a list of them, called in order) told
            about every call: start, each attempt's request and response, retries, success
            or error. ``with_options`` copies keep them.
        rate_limiter: a :class:`~vlens_async.RateLimiter` or
            :class:`~vlens_async.redis.RedisRateLimiter` every attempt of every call passes
            (``async with limiter:`` around the send only, not the retry waits); a 429 or
            Vlens 4003 calls its ``slow_down``. ``with_options`` copies share it. The client
            never closes a limiter you pass in.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        tenancy_name: str | None = None,
        transport: Transport | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        accept_language: str | None = None,
        allow_insecure_http: bool = False,
        hooks: VlensHooks | Sequence[VlensHooks] | None = None,
        rate_limiter: Limiter | None = None,
    ) -> None:
        headers = {
            "ApiKey": check_header_value("api_key", api_key),
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if tenancy_name is not None:
            headers["TenancyName"] = check_header_value("tenancy_name", tenancy_name)
        if accept_language is not None:
            headers["Accept-Language"] = check_header_value("accept_language", accept_language)
        self.base_url = _check_base_url(base_url, allow_insecure_http)
        _check_instance("transport", transport, Transport, "a vlens_transports.Transport")
        _check_instance("timeout", timeout, Timeout, "a Timeout, e.g. Timeout(read=5)")
        _check_instance("retry", retry, RetryPolicy, "a RetryPolicy, e.g. RetryPolicy()")
        self.tenancy_name = tenancy_name
        self._owns_transport = transport is None
        self._is_copy = False
        self._owned_limiter: RedisRateLimiter | None = None  # from_env's; closed by aclose
        self._caller = Caller(
            transport=transport or AiohttpTransport(),
            base_url=self.base_url,
            headers=headers,
            timeout=timeout or Timeout(),
            retry=retry or RetryPolicy(),
            codec=Codec.default(),
            hooks=combine_hooks(hooks),
            rate_limiter=_check_limiter(rate_limiter),
        )
        self._bind_services()

    def _bind_services(self) -> None:
        self.registration = RegistrationService(self._caller)
        self.password_reset = PasswordResetService(self._caller)
        self.sessions = SessionsService(self._caller)
        self.bulk = BulkService(self)

    @classmethod
    def from_env(cls, **options: Any) -> VlensClient:
        """A client configured from the environment; keyword ``options`` win over it.

        Reads ``VLENS_API_KEY`` (required), ``VLENS_BASE_URL``, ``VLENS_TENANCY_NAME``,
        ``VLENS_ALLOW_INSECURE_HTTP=1`` (plain ``http://`` to a non-loopback host such as a
        sandbox container) and ``VLENS_REDIS_URL``: when set, the client gets a
        :class:`~vlens_async.redis.RedisRateLimiter` (one budget per API key, shared by every
        process using that key; needs the ``redis`` extra), which it owns and closes.
        """
        given = set(options)
        api_key = options.pop("api_key", None) or os.environ.get("VLENS_API_KEY")
        if not api_key:
            raise VlensInputError("VLENS_API_KEY", "is not set in the environment")
        from_variables = {"api_key": "VLENS_API_KEY"} if "api_key" not in given else {}
        for name, variable in (
            ("base_url", "VLENS_BASE_URL"),
            ("tenancy_name", "VLENS_TENANCY_NAME"),
        ):
            if name not in options and os.environ.get(variable):
                options[name] = os.environ[variable]
                from_variables[name] = variable
        if "allow_insecure_http" not in options:
            options["allow_insecure_http"] = _env_flag("VLENS_ALLOW_INSECURE_HTTP")
        try:
            client = cls(api_key, **options)
        except VlensInputError as exc:  # say where the bad value came from
            if exc.field not in from_variables:
                raise
            problem = f"{exc.problem} (from {from_variables[exc.field]})"
            raise VlensInputError(exc.field, problem) from None
        redis_url = os.environ.get("VLENS_REDIS_URL", "").strip()
        if "rate_limiter" not in options and redis_url:
            client._owned_limiter = _redis_limiter(redis_url, api_key)
            client._caller.rate_limiter = client._owned_limiter
        return client

    @property
    def transport(self) -> Transport:
        """The transport requests go through."""
        return self._caller.transport

    @property
    def timeout(self) -> Timeout:
        return self._caller.timeout

    @property
    def retry(self) -> RetryPolicy:
        return self._caller.retry

    @property
    def rate_limiter(self) -> Limiter | None:
        """The limiter every attempt passes, or None (no client-side limit)."""
        return self._caller.rate_limiter

    @property
    def closed(self) -> bool:
        return self._caller.lifecycle.state == "closed"

    def profile(self, access_token: str) -> ProfileService:
        """The profile calls, acting for the user who holds ``access_token``."""
        return ProfileService(self._caller, access_token)

    def with_options(
        self,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        rate_limiter: Limiter | _UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> VlensClient:
        """A cheap copy with other timeouts, retries or rate limiter, sharing this client's
        transport and hooks. ``rate_limiter=None`` gives a copy whose calls take no permit
        (for code that takes permits itself); by default the copy shares the client's.

        The copy lives as long as this client: closing this client closes it too, while the
        copy's own ``aclose()`` (or ``async with`` exit) does nothing, so a copy used as
        ``async with client.with_options(...)`` never closes the pool it shares.
        """
        _check_instance("timeout", timeout, Timeout, "a Timeout, e.g. Timeout(read=5)")
        _check_instance("retry", retry, RetryPolicy, "a RetryPolicy, e.g. RetryPolicy()")
        clone = object.__new__(VlensClient)
        clone.base_url = self.base_url
        clone.tenancy_name = self.tenancy_name
        clone._owns_transport = self._owns_transport
        clone._is_copy = True
        clone._owned_limiter = None
        source = self._caller
        clone._caller = Caller(
            transport=source.transport,
            base_url=source.base_url,
            headers=source.headers,
            timeout=timeout or source.timeout,
            retry=retry or source.retry,
            codec=source.codec,
            lifecycle=source.lifecycle,
            hooks=source.hooks,
            rate_limiter=source.rate_limiter
            if rate_limiter is USE_CLIENT_DEFAULT
            else _check_limiter(rate_limiter),
        )
        clone._bind_services()
        return clone

    async def aclose(self) -> None:
        """Close the client, and its transport if the client created it. Idempotent.

        Calls in flight end with :class:`ClientClosedError` (or :class:`OutcomeUnknownError`
        for an effect whose request may have been written); none is retried. A ``with_options``
        copy's ``aclose()`` does nothing: only the client that made the copy closes.

        Raises:
            EventLoopMismatchError: called on another event loop than the one the client was
                used on, whose connections only that loop can close. Close it there (in the
                app's lifespan, before the loop ends); the client stays open until then.
        """
        lifecycle = self._caller.lifecycle
        if self._is_copy or lifecycle.state == "closed":
            return
        if self._owns_transport and lifecycle.loop not in (None, asyncio.get_running_loop()):
            raise EventLoopMismatchError(
                "this VlensClient must be closed on the event loop it was used on, before that "
                "loop ends; create one client per event loop, in your app's lifespan"
            )
        lifecycle.state = "closed"
        try:
            if self._owns_transport:
                await self._caller.transport.aclose()
        finally:
            if self._owned_limiter is not None:
                await self._owned_limiter.aclose()

    async def __aenter__(self) -> VlensClient:
        if self.closed:
            raise ClientClosedError()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = self._caller.lifecycle.state
        tenancy = f" tenancy={self.tenancy_name!r}" if self.tenancy_name else ""
        return f"<VlensClient {self.base_url}{tenancy} {state}>"


def _redis_limiter(url: str, api_key: str) -> RedisRateLimiter:
    """``RedisRateLimiter(url, api_key=api_key)``, or an input error naming VLENS_REDIS_URL."""
    try:
        from .redis import RedisRateLimiter
    except ImportError:
        raise VlensInputError(
            "VLENS_REDIS_URL", "needs the redis extra: pip install 'vlens-async[redis]'"
        ) from None
    try:
        return RedisRateLimiter(url, api_key=api_key)
    except ValueError as exc:
        raise VlensInputError("VLENS_REDIS_URL", str(exc)) from None
