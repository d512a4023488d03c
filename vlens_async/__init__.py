"""vlens-async: an async-first SDK for the Vlens Digital Identity API."""

from vlens_transports import Timeout

from ._call import Operation
from ._client import DEFAULT_BASE_URL, VlensClient
from ._codec import Codec, make_converter
from ._errors import (
    AuthenticationError,
    ClientClosedError,
    EventLoopMismatchError,
    InvalidRequestError,
    OutcomeUnknownError,
    QuotaError,
    RateLimitedError,
    RawResponse,
    ServerError,
    VlensAPIError,
    VlensConnectionError,
    VlensError,
    VlensInputError,
    VlensResponseError,
    VlensTimeoutError,
    VlensTransportError,
)
from ._logging import configure_from_env as _configure_logging
from ._models import (
    AdminSession,
    EmailConfirmation,
    EmailOtpRequest,
    EmailVerification,
    ExistenceResult,
    GeoLocation,
    LoginState,
    OAuthVerification,
    PhoneOtpRequest,
    RefreshedToken,
    RegistrationState,
    ResetGrant,
    SmsProvider,
    User,
)
from ._ratelimit import RateLimit, RateLimiter, RateLimiterUnavailableError
from ._redact import mask_email, mask_phone
from ._responses import CapturedResponse, capture_response
from ._retry import RetryPolicy
from ._version import __version__
from .hooks import (
    CallStartEvent,
    ErrorEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    SuccessEvent,
    VlensHooks,
)

__all__ = [
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

_configure_logging()  # VLENS_LOG=debug|info|warning: the SDK's logging on stderr, once
