"""The cognito-idp JSON API: building calls, reading answers, mapping errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

import httpx

from keybearer._challenges import Challenge, challenge_from_response
from keybearer._jose.unverified import unverified_claims
from keybearer._protocol.app_client import CognitoAppClient
from keybearer._protocol.responses import aws_error_type, retry_after
from keybearer._redact import SECRETS_EXTENSION, provider_text, response_secrets
from keybearer._tokens import TokenSet, is_token_text, lifetime
from keybearer.errors import (
    CodeMismatchError,
    ConfigurationError,
    InvalidCredentialsError,
    InvalidPasswordError,
    KeybearerError,
    LoginError,
    LoginRequiredError,
    PasswordResetRequiredError,
    ProtocolError,
    ProviderError,
    ServiceError,
    ThrottledError,
    UserNotConfirmedError,
    UserNotFoundError,
)

_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
# Cognito answers are small; anything far larger is not Cognito talking.
_MAX_BODY = 1 << 20


class Purpose(Enum):
    """What a call was for; the same Cognito error means different things."""

    LOGIN = "login"
    REFRESH = "refresh"
    OTHER = "other"


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """Cognito's SECRET_HASH: Base64(HMAC-SHA256(secret, username + client id))."""
    # surrogatepass: a username Cognito quoted back (ChallengeParameters) may hold
    # a lone surrogate; Cognito then refuses the hash, the SDK must not crash on it.
    message = (username + client_id).encode("utf-8", "surrogatepass")
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def with_secret_hash(
    config: CognitoAppClient, username: str, params: dict[str, str]
) -> dict[str, str]:
    if config.client_secret is not None:
        params["SECRET_HASH"] = secret_hash(
            username, config.client_id, config.client_secret.get_secret_value()
        )
    return params


def request(config: CognitoAppClient, operation: str, body: Mapping[str, Any]) -> httpx.Request:
    """A cognito-idp call. These operations are unsigned: no AWS credentials involved.

    The client secret is declared with the request even where only its
    SECRET_HASH travels, so that an error quoting it is redacted too.
    """
    extensions: dict[str, Any] = {"timeout": httpx.Timeout(config.timeout).as_dict()}
    if config.client_secret is not None:
        extensions[SECRETS_EXTENSION] = (config.client_secret.get_secret_value(),)
    return httpx.Request(
        "POST",
        config.idp_url,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": _TARGET_PREFIX + operation,
            "Cache-Control": "no-store",
        },
        content=json.dumps(body, separators=(",", ":")).encode(),
        extensions=extensions,
    )


def _error_message(body: Any, secrets: frozenset[str]) -> str | None:
    if isinstance(body, dict):
        return provider_text(body.get("message") or body.get("Message"), secrets, limit=500)
    return None


def _load_json(response: httpx.Response) -> Any:
    if len(response.content) > _MAX_BODY:
        raise ProtocolError(
            f"Cognito's answer was {len(response.content)} bytes, far larger than any "
            "cognito-idp response",
            status_code=response.status_code,
        )
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        return None


def error_for(
    response: httpx.Response, body: Any, purpose: Purpose, secrets: frozenset[str] = frozenset()
) -> KeybearerError:
    """The typed error for a failed cognito-idp call.

    What Cognito said (error type and message) is redacted of ``secrets`` and of
    every secret the request carried before it is clipped or quoted.
    """
    secrets = secrets | response_secrets(response)
    code = aws_error_type(response, body, secrets)
    text = _error_message(body, secrets)
    status = response.status_code
    said = f": {text}" if text else ""
    # Ends a sentence that another follows; Cognito's messages may lack the period.
    stop = f": {text.rstrip('. ')}." if text else "."
    kwargs: dict[str, Any] = {"code": code, "provider_message": text, "status_code": status}

    if code in ("TooManyRequestsException", "LimitExceededException") or status == 429:
        return ThrottledError(
            f"Cognito is throttling this client ({code or status}){said}",
            retry_after=retry_after(response),
            **kwargs,
        )
    if code == "InternalErrorException" or status >= 500:
        return ServiceError(f"Cognito failed on its side ({code or status}){said}", **kwargs)
    if code is None:
        return ProtocolError(
            f"Cognito answered HTTP {status} without an error type; is idp_url right?", **kwargs
        )
    lowered = (text or "").lower()
    if code == "NotAuthorizedException" and "secret hash" in lowered:
        return ConfigurationError(
            f"Cognito could not verify the SECRET_HASH{stop} Check client_secret: an app "
            "client with a secret needs it, one without must not get one.",
            **kwargs,
        )
    if code == "NotAuthorizedException" and "not enabled" in lowered:
        return ConfigurationError(
            f"the app client does not allow this sign-in flow{stop} Enable it in the app "
            "client's authentication flows (ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH).",
            **kwargs,
        )
    if code == "ResourceNotFoundException":
        return ConfigurationError(
            f"Cognito does not know this user pool or app client{said}", **kwargs
        )
    if purpose is Purpose.REFRESH and code in (
        "NotAuthorizedException",
        "RefreshTokenReuseException",
        "UserNotFoundException",
        "PasswordResetRequiredException",
    ):
        return LoginRequiredError(
            f"the session has ended and cannot be refreshed ({code}){stop} Log in again.",
            **kwargs,
        )
    login_errors: dict[str, type[LoginError]] = {
        "NotAuthorizedException": InvalidCredentialsError,
        "UserNotFoundException": UserNotFoundError,
        "UserNotConfirmedException": UserNotConfirmedError,
        "PasswordResetRequiredException": PasswordResetRequiredError,
        "CodeMismatchException": CodeMismatchError,
        "ExpiredCodeException": CodeMismatchError,
        "InvalidPasswordException": InvalidPasswordError,
    }
    if code in login_errors:
        return login_errors[code](f"Cognito refused the request ({code}){said}", **kwargs)
    return ProviderError(f"Cognito answered with an error ({code}){said}", **kwargs)


def parse(
    response: httpx.Response, purpose: Purpose, *, secrets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The JSON body of a successful call; raise the typed error otherwise.

    Whatever the provider says goes through :func:`keybearer._redact.provider_text`
    with every secret the request carried (read from ``response.request``) and
    ``secrets``, values the caller knows were sent by another route.
    """
    body = _load_json(response)
    if response.status_code != 200:
        raise error_for(response, body, purpose, frozenset(secrets))
    if not isinstance(body, dict):
        kind = provider_text(
            response.headers.get("content-type", "none"),
            frozenset(secrets) | response_secrets(response),
            limit=100,
        )
        raise ProtocolError(
            f"Cognito's answer is not a JSON object (content type {kind!r})",
            status_code=response.status_code,
        )
    return body


def _required_str(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"Cognito's AuthenticationResult has no {field}")
    return value


def check_issuer(config: CognitoAppClient, tokens: TokenSet) -> TokenSet:
    """Refuse tokens that the configured user pool did not issue.

    ``idp_url`` answers for every pool of its region: a well-formed but wrong
    ``user_pool_id`` (or an ``idp_url`` that points elsewhere) would otherwise
    sign in to whatever pool answered and send its tokens to the API. Each
    token's ``iss`` must be the configured issuer; otherwise a
    ``ConfigurationError`` names the pool that did answer.
    """
    expected = config.issuer.rstrip("/")
    for kind, secret in (("access", tokens.access_token), ("ID", tokens.id_token)):
        if secret is None:
            continue
        issuer = unverified_claims(secret.get_secret_value()).get("iss")
        if isinstance(issuer, str) and issuer.rstrip("/") == expected:
            continue
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError(
                f"the {kind} token that {config.idp_url} returned names no issuer, so it "
                f"cannot be from user pool {config.user_pool_id}; check idp_url"
            )
        shown = issuer[:200]
        pool = shown.rstrip("/").rsplit("/", 1)[-1]
        raise ConfigurationError(
            f"the {kind} token that {config.idp_url} returned was issued by user pool "
            f"{pool!r} ({shown}), not by the configured user pool {config.user_pool_id} "
            f"({expected}); check user_pool_id, idp_url and issuer"
        )
    return tokens


def tokens_from_result(
    result: Any,
    *,
    config: CognitoAppClient,
    now: float,
    previous: TokenSet | None = None,
    username_hint: str | None = None,
) -> TokenSet:
    """Build a TokenSet from ``AuthenticationResult``.

    A refresh answer usually has no ``RefreshToken``: the old one stays valid
    and is kept. The username is the one Cognito knows (the token's claim), not
    what the user typed, since that is what SECRET_HASH on refresh must use.
    """
    if not isinstance(result, dict):
        raise ProtocolError("Cognito's answer has neither AuthenticationResult nor a challenge")
    access = _required_str(result, "AccessToken")
    id_token = result.get("IdToken")
    refresh = result.get("RefreshToken")
    for name, value in (("AccessToken", access), ("IdToken", id_token), ("RefreshToken", refresh)):
        if value not in (None, "") and not is_token_text(value):
            raise ProtocolError(f"Cognito's {name} is not a token (printable ASCII)")
    expires_in = lifetime(result.get("ExpiresIn", 3600))
    if expires_in is None or isinstance(result.get("ExpiresIn"), str):
        raise ProtocolError("Cognito's AuthenticationResult has an invalid ExpiresIn")
    if refresh is None and previous is not None and previous.refresh_token is not None:
        refresh = previous.refresh_token.get_secret_value()
    claimed = unverified_claims(access).get("username")
    if not claimed and isinstance(id_token, str):
        claimed = unverified_claims(id_token).get("cognito:username")
    username = claimed if isinstance(claimed, str) and claimed else None
    return TokenSet(
        access_token=access,
        id_token=id_token if isinstance(id_token, str) and id_token else None,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=now + expires_in,
        obtained_at=now,
        token_type=str(result.get("TokenType") or "Bearer"),
        # A session that rotates stays rotating, whichever client refreshes it.
        origin="rotating"
        if config.rotate_refresh_tokens or (previous is not None and previous.origin == "rotating")
        else "password",
        username=username or (previous.username if previous else None) or username_hint,
    )


def outcome(
    body: dict[str, Any],
    *,
    config: CognitoAppClient,
    username: str,
    now: float,
) -> TokenSet | Challenge:
    """Tokens, or the challenge Cognito wants answered next.

    Every sign-in ends here, so this is where tokens are matched to the
    configured pool (:func:`check_issuer`).
    """
    if "AuthenticationResult" in body and body["AuthenticationResult"] is not None:
        tokens = tokens_from_result(
            body["AuthenticationResult"],
            config=config,
            now=now,
            username_hint=username,
        )
        return check_issuer(config, tokens)
    if isinstance(body.get("ChallengeName"), str):
        return challenge_from_response(body, username=username)
    raise ProtocolError("Cognito's answer has neither AuthenticationResult nor a challenge")
