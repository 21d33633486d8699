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
    │   ├── ChallengeAnswerError      the answer given to respond() does not fit
    │   ├── StateMismatchError        a redirect that does not belong to this sign-in
    │   └── LoginTimeoutError         the browser sign-in did not come back in time
    ├── LoginRequiredError        no tokens, or the refresh token is dead: log in again
    ├── TransientError            worth retrying later; stored tokens are untouched
    │   ├── NetworkError              the provider: connection refused, reset, DNS, TLS
    │   ├── RequestTimeoutError
    │   ├── ServiceError              5xx or InternalErrorException
    │   └── ThrottledError            TooManyRequests / LimitExceeded (has retry_after)
    ├── ProviderError             any other error the provider reported (has code)
    ├── UnauthorizedError         the API still refused after one refresh (has diagnosis)
    ├── ProtocolError             the provider's answer is not what the protocol says
    │   └── RedirectParseError        what was pasted is not a sign-in redirect
    └── TokenInvalidError         keybearer.verify refused a token (has claim, expected, actual)
        ├── MalformedTokenError       not a JWT: segments, base64url, JSON, size, a claim's type
        ├── UnsupportedAlgorithmError alg is not RS256, or not what the signing key is for
        ├── UnknownKeyError           no key in the JWKS has the token's kid
        ├── BadSignatureError         the RS256 signature does not match
        ├── TokenExpiredError         exp has passed (beyond the leeway)
        ├── TokenNotYetValidError     nbf or iat is in the future (beyond the leeway)
        ├── WrongIssuerError          iss is not the expected issuer
        ├── WrongAudienceError        aud (ID token) or client_id (access token) is not allowed
        ├── WrongTokenUseError        token_use is not the kind of token wanted
        ├── MissingScopeError         scope lacks a scope that is required
        └── NonceMismatchError        nonce is not the one sent with the login request

Every message is safe to log: none carries a token, password, secret or code,
and neither does anything an error holds (``args``, attributes, ``__cause__``,
``__context__``): a provider's message is redacted of every secret the request
carried before it is clipped, and an error made from a foreign exception that
may hold a secret (a decode error, a pydantic ``ValidationError``) leaves it
behind.
A :class:`TokenInvalidError` names the claim and shows the expected and actual
values of claims such as ``iss``, ``aud`` or ``scope``, never the token itself
(nor a nonce, which stays private to the login that sent it).
Provider errors keep the provider's own code (``error.code``, e.g.
``NotAuthorizedException``) and message (``error.provider_message``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadSignatureError",
    "ChallengeAnswerError",
    "CodeMismatchError",
    "ConfigurationError",
    "InvalidCredentialsError",
    "InvalidPasswordError",
    "KeybearerError",
    "KeyringUnavailableError",
    "LoginError",
    "LoginRequiredError",
    "LoginTimeoutError",
    "MalformedTokenError",
    "MissingScopeError",
    "NetworkError",
    "NonceMismatchError",
    "PasswordResetRequiredError",
    "ProtocolError",
    "ProviderError",
    "RedirectParseError",
    "RequestTimeoutError",
    "ServiceError",
    "StateMismatchError",
    "StoreError",
    "ThrottledError",
    "TokenExpiredError",
    "TokenInvalidError",
    "TokenNotYetValidError",
    "TransientError",
    "UnauthorizedError",
    "UnknownKeyError",
    "UnsupportedAlgorithmError",
    "UserNotConfirmedError",
    "UserNotFoundError",
    "WrongAudienceError",
    "WrongIssuerError",
    "WrongTokenUseError",
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


class StateMismatchError(LoginError):
    """A redirect whose ``state`` is missing or belongs to no sign-in started here.

    Nothing is exchanged: it may be a stale link, or an attempt to slip someone
    else's authorization code into this app (CSRF).
    """


class LoginTimeoutError(LoginError):
    """The browser sign-in's redirect did not arrive within the timeout."""


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
        # Retry-After is the provider's text: "NaN", "inf" or "-5" is no wait to sleep on.
        if retry_after is not None and not 0 <= retry_after < float("inf"):  # NaN fails too
            retry_after = None
        self.retry_after = retry_after


class ProviderError(KeybearerError):
    """An error the provider reported that has no more specific class here."""


class UnauthorizedError(KeybearerError):
    """The API refused a fresh token: 401 after one refresh and retry, or 403.

    ``response`` is a copy of the API's ``httpx.Response`` that holds no
    credential: its request's ``Authorization`` header reads ``[redacted]``, and
    the token is redacted wherever the answer quotes it. ``diagnosis`` is the
    likely cause and fix (also in the message). Raised only by clients made
    with ``http(raise_on_unauthorized=True)``; otherwise the response is
    returned with the diagnosis attached (``keybearer.explain(response)``).
    """

    def __init__(self, message: str, *, response: Any, diagnosis: Any) -> None:
        super().__init__(message, status_code=getattr(response, "status_code", None))
        # Lazy: `import keybearer.verify` (which imports this module) must not load
        # httpx; by the time an API answered 401, it is loaded anyway.
        from keybearer._redact import scrubbed_response

        # An exception travels far (logs, error trackers, pickles): it must not
        # carry the token the request was sent with.
        self.response = scrubbed_response(response)
        self.diagnosis = diagnosis

    def __reduce__(self) -> Any:
        return (_rebuild_unauthorized, (self.message,))


def _rebuild_unauthorized(message: str) -> UnauthorizedError:
    return UnauthorizedError(message, response=None, diagnosis=None)


class ProtocolError(KeybearerError):
    """The provider's answer does not follow the protocol (bad JSON, missing fields)."""


class RedirectParseError(ProtocolError):
    """What was pasted (or redirected to) is not a sign-in redirect."""


class TokenInvalidError(KeybearerError):
    """A token failed verification: do not trust it (an API answers 401).

    ``claim`` names what was checked (``"exp"``, ``"aud"``, ``"alg"``, ``"kid"``,
    ``"signature"``, ``"token"`` for the token's shape, ...); ``expected`` and
    ``actual`` are the values compared, or short descriptions of them. Neither
    ever holds the token.
    """

    def __init__(
        self,
        message: str,
        *,
        claim: str = "token",
        expected: object = None,
        actual: object = None,
    ) -> None:
        super().__init__(message)
        self.claim = claim
        self.expected = expected
        self.actual = actual


class MalformedTokenError(TokenInvalidError):
    """The token is not a well-formed JWT, is too large, or a claim has the wrong type."""


class UnsupportedAlgorithmError(TokenInvalidError):
    """The token's ``alg`` is not RS256 (so ``none`` and ``HS256`` fail), or its key is not."""


class UnknownKeyError(TokenInvalidError):
    """No key in the issuer's JWKS has the token's ``kid``, even after downloading it again."""


class BadSignatureError(TokenInvalidError):
    """The signature does not match the token: it was altered, or signed by someone else."""


class TokenExpiredError(TokenInvalidError):
    """The token's ``exp`` has passed, beyond the verifier's leeway."""


class TokenNotYetValidError(TokenInvalidError):
    """The token's ``nbf`` or ``iat`` is in the future, beyond the verifier's leeway."""


class WrongIssuerError(TokenInvalidError):
    """The token's ``iss`` is not the issuer the verifier trusts."""


class WrongAudienceError(TokenInvalidError):
    """The token was issued to another client: ``aud`` (ID token) or ``client_id`` (access)."""


class WrongTokenUseError(TokenInvalidError):
    """The token's ``token_use`` is not the kind wanted (``id`` or ``access``)."""


class MissingScopeError(TokenInvalidError):
    """The token's ``scope`` lacks a scope the call requires."""


class NonceMismatchError(TokenInvalidError):
    """The ID token's ``nonce`` is missing or is not the one sent with the login request."""
