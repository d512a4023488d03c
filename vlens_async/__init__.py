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
    ServerError,
    VlensAPIError,
    VlensConnectionError,
    VlensError,
    VlensInputError,
    VlensResponseError,
    VlensTimeoutError,
    VlensTransportError,
)
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
from ._retry import RetryPolicy
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "AdminSession",
    "AuthenticationError",
    "ClientClosedError",
    "Codec",
    "EmailConfirmation",
    "EmailOtpRequest",
    "EmailVerification",
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
    "RefreshedToken",
    "RegistrationState",
    "ResetGrant",
    "RetryPolicy",
    "ServerError",
    "SmsProvider",
    "Timeout",
    "User",
    "VlensAPIError",
    "VlensClient",
    "VlensConnectionError",
    "VlensError",
    "VlensInputError",
    "VlensResponseError",
    "VlensTimeoutError",
    "VlensTransportError",
    "__version__",
    "make_converter",
    "mask_email",
    "mask_phone",
]
