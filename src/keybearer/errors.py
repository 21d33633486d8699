"""Every exception keybearer raises, in one tree.

Catch at the level you care about::

    KeybearerError
    ├── ConfigurationError        bad settings (also a ValueError)
    ├── StoreError                the token store failed
    │   └── KeyringUnavailableError   no usable OS keyring backend
    ├── LoginError                the provider refused a login or a challenge answer
    │   ├── InvalidCredentialsError   wrong username or password, disabled user
    │   ├── UserNotFoundError
    │   ├── UserNotConfirmedError
    │   ├── PasswordResetRequiredError
    │   ├── CodeMismatchError         wrong or expired MFA / OTP code
    │   ├── InvalidPasswordError      the new password breaks the pool's policy
    │   └── ChallengeAnswerError      the answer given to respond() does not fit
    ├── LoginRequiredError        no tokens, or the refresh token is dead: log in again
    ├── TransientError            worth retrying later; stored tokens are untouched
    │   ├── NetworkError              connection refused, reset, DNS, TLS
    │   ├── RequestTimeoutError
    │   ├── ServiceError              5xx or InternalErrorException
    │   └── ThrottledError            TooManyRequests / LimitExceeded (has retry_after)
    ├── ProviderError             any other error the provider reported (has code)
    └── ProtocolError             the provider's answer is not what the protocol says

Every message is safe to log: none carries a token, password, secret or code.
Provider errors keep the provider's own code (``error.code``, e.g.
``NotAuthorizedException``) and message (``error.provider_message``).
"""

from __future__ import annotations

__all__ = [
    "ChallengeAnswerError",
    "CodeMismatchError",
    "ConfigurationError",
    "InvalidCredentialsError",
    "InvalidPasswordError",
    "KeybearerError",
    "KeyringUnavailableError",
    "LoginError",
    "LoginRequiredError",
    "NetworkError",
    "PasswordResetRequiredError",
    "ProtocolError",
    "ProviderError",
    "RequestTimeoutError",
    "ServiceError",
    "StoreError",
    "ThrottledError",
    "TransientError",
    "UserNotConfirmedError",
    "UserNotFoundError",
]


class KeybearerError(Exception):
    """Base of every keybearer error.

    ``code`` is the provider's error code where there is one (Cognito's
    ``__type`` or OAuth's ``error``); ``provider_message`` is the provider's own
    description, which Cognito never fills with a secret.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        provider_message: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.provider_message = provider_message
        self.status_code = status_code

    def __str__(self) -> str:
        return self.message


class ConfigurationError(KeybearerError, ValueError):
    """The client's settings are invalid or incomplete."""


class StoreError(KeybearerError):
    """The token store could not read or write."""


class KeyringUnavailableError(StoreError):
    """No usable OS keyring backend; pick another store explicitly."""


class LoginError(KeybearerError):
    """The provider refused the login (or the answer to a challenge)."""


class InvalidCredentialsError(LoginError):
    """Wrong username or password, a disabled user, or a bad client secret."""


class UserNotFoundError(LoginError):
    """The user pool has no such user."""


class UserNotConfirmedError(LoginError):
    """The user signed up but has not confirmed the account yet."""


class PasswordResetRequiredError(LoginError):
    """An administrator requires a password reset before the next login."""


class CodeMismatchError(LoginError):
    """The MFA or one-time code was wrong or has expired."""


class InvalidPasswordError(LoginError):
    """The new password does not meet the user pool's password policy."""


class ChallengeAnswerError(LoginError):
    """The answer passed to ``respond()`` is missing something the challenge needs."""


class LoginRequiredError(KeybearerError):
    """There are no usable tokens: the user must log in (again)."""


class TransientError(KeybearerError):
    """A failure worth retrying later. Stored tokens are left as they were."""


class NetworkError(TransientError):
    """The provider or API could not be reached."""


class RequestTimeoutError(TransientError):
    """The provider or API did not answer in time."""


class ServiceError(TransientError):
    """The provider answered with a server-side failure (5xx)."""


class ThrottledError(TransientError):
    """The provider is rate limiting this client.

    ``retry_after`` is the wait in seconds the provider asked for, if it did.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        provider_message: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, code=code, provider_message=provider_message, status_code=status_code
        )
        self.retry_after = retry_after


class ProviderError(KeybearerError):
    """An error the provider reported that has no more specific class here."""


class ProtocolError(KeybearerError):
    """The provider's answer does not follow the protocol (bad JSON, missing fields)."""
