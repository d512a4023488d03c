"""Per-domain services. Each method checks its input, then makes exactly one pipeline call."""

from .password_reset import PasswordResetService
from .profile import ProfileService
from .registration import RegistrationService
from .sessions import SessionsService

__all__ = ["PasswordResetService", "ProfileService", "RegistrationService", "SessionsService"]
