"""The client-credentials grant: an app client's own access token, no person involved.

Two routes to the same kind of token: an OAuth token endpoint
(``grant_type=client_credentials``, RFC 6749 §4.4: Cognito's
``/oauth2/token`` on the user pool domain, or any OIDC provider's), and
Cognito's ``GetClientToken`` call on cognito-idp, which needs no domain. There
is no refresh token: a new token is simply requested again.

The secret is sent, never echoed: should a provider quote it in an error
message, it is redacted before the error is raised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from keybearer._protocol import Flow
from keybearer._protocol.app_client import CognitoAppClient
from keybearer._protocol.cognito_idp import Purpose, _load_json, error_for, parse, request
from keybearer._protocol.oauth import (
    Endpoints,
    OAuthClientInfo,
    _json,
    _tokens,
    client_authenticated_post,
    token_error,
)
from keybearer._redact import scrub
from keybearer._tokens import TokenSet, is_token_text, lifetime
from keybearer.errors import ConfigurationError, KeybearerError, ProtocolError

__all__ = ["get_client_token", "token_endpoint", "via_token_endpoint"]


def _scopes_hint(scopes: tuple[str, ...]) -> str:
    asked = " ".join(scopes) if scopes else "(none: every scope the app client allows)"
    return f"scopes asked for: {asked}"


def _endpoint_error(
    response: httpx.Response, client: OAuthClientInfo, scopes: tuple[str, ...]
) -> KeybearerError:
    """What to change, for the OAuth errors a client-credentials request meets."""
    error = token_error(response, refreshing=False)
    said = f" ({error.provider_message})" if error.provider_message else ""
    kwargs: dict[str, Any] = {
        "code": error.code,
        "provider_message": error.provider_message,
        "status_code": error.status_code,
    }
    if error.code == "invalid_client":
        error = ConfigurationError(
            f"the token endpoint does not accept app client {client.client_id}'s credentials "
            f"(invalid_client){said}. Check the client secret, and token_auth: this request "
            f"used {client.auth_method}.",
            **kwargs,
        )
    elif error.code == "invalid_scope":
        error = ConfigurationError(
            f"the provider refused the scopes (invalid_scope){said}; {_scopes_hint(scopes)}. "
            "Ask only for custom scopes of a resource server that the app client is allowed "
            "(no 'openid', 'email' or 'profile').",
            **kwargs,
        )
    elif error.code in ("unauthorized_client", "unsupported_grant_type"):
        error = ConfigurationError(
            f"app client {client.client_id} may not use the client-credentials grant "
            f"({error.code}){said}. Enable it for the app client (Cognito: an app client "
            "with a secret, OAuth grant type 'Client credentials' and its custom scopes).",
            **kwargs,
        )
    return scrub(error, (client.client_secret or "",))


def via_token_endpoint(
    endpoints: Callable[[], Flow[Endpoints]],
    client: OAuthClientInfo,
    scopes: tuple[str, ...],
    clock: Callable[[], float],
) -> Flow[TokenSet]:
    """A new client-credentials token from the token endpoint that ``endpoints()`` finds.

    (Cognito's fixed paths under its ``domain``, or any provider's discovery.)
    """
    found = yield from endpoints()
    return (yield from token_endpoint(found, client, scopes, clock))


def token_endpoint(
    endpoints: Endpoints,
    client: OAuthClientInfo,
    scopes: tuple[str, ...],
    clock: Callable[[], float],
) -> Flow[TokenSet]:
    """``POST <token endpoint>`` with ``grant_type=client_credentials``.

    The secret goes in the Basic header or the form, as ``client.auth_method``
    says; ``scope`` is space-separated and left out when empty (Cognito then
    grants every custom scope the app client allows).
    """
    if client.client_secret is None:
        raise ConfigurationError("the client-credentials grant needs the app client secret")
    # Lazy: authlib loads only when a token is requested.
    from authlib.oauth2.rfc6749.parameters import prepare_token_request

    body = prepare_token_request("client_credentials", scope=list(scopes) or None)
    response = yield client_authenticated_post(endpoints.token, client, str(body))
    if response.status_code != 200:
        raise _endpoint_error(response, client, scopes)
    data = _json(response, "the token endpoint's answer")
    # Only the access token counts; anything else in the answer is dropped.
    wanted = ("access_token", "token_type", "expires_in")
    answer: dict[str, Any] = {k: data[k] for k in wanted if k in data}
    return _tokens(answer, now=clock(), origin="client_credentials", previous=None)


def get_client_token(config: CognitoAppClient, clock: Callable[[], float]) -> Flow[TokenSet]:
    """Cognito's ``GetClientToken``: ``ClientId``, ``Secret``, ``Scopes``.

    The answer is ``ClientAuthenticationResult{AccessToken, ExpiresIn,
    TokenType}``. The app client needs a secret and ``ALLOW_CLIENT_TOKEN_AUTH``.
    """
    if config.client_secret is None:
        raise ConfigurationError("the client-credentials grant needs the app client secret")
    secret = config.client_secret.get_secret_value()
    body: dict[str, Any] = {"ClientId": config.client_id, "Secret": secret}
    if config.scopes:
        body["Scopes"] = list(config.scopes)
    response = yield request(config, "GetClientToken", body)
    if response.status_code != 200:
        raise scrub(_client_token_error(response, config), (secret,))
    data = parse(response, Purpose.OTHER, secrets=(secret,))
    result = data.get("ClientAuthenticationResult")
    if not isinstance(result, dict):
        raise ProtocolError("Cognito's GetClientToken answer has no ClientAuthenticationResult")
    access = result.get("AccessToken")
    if not is_token_text(access):
        raise ProtocolError("Cognito's ClientAuthenticationResult has no usable AccessToken")
    token_type = result.get("TokenType", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ProtocolError(f"Cognito issued a {token_type!r} token, not a Bearer token")
    expires_in = lifetime(result.get("ExpiresIn", 3600))
    if expires_in is None or isinstance(result.get("ExpiresIn"), str):
        raise ProtocolError("Cognito's ClientAuthenticationResult has an invalid ExpiresIn")
    now = clock()
    return TokenSet(
        access_token=str(access),
        expires_at=now + expires_in,
        obtained_at=now,
        origin="client_credentials",
    )


#: What AWS answers a JSON API call that needed SigV4 and was not signed.
_UNSIGNED = frozenset(
    {
        "MissingAuthenticationTokenException",
        "MissingAuthenticationToken",
        "UnrecognizedClientException",
        "IncompleteSignatureException",
        "AccessDeniedException",
    }
)


def _client_token_error(response: httpx.Response, config: CognitoAppClient) -> KeybearerError:
    """Cognito's ``__type`` for a refused GetClientToken, as what to change."""
    error = error_for(response, _load_json(response), Purpose.OTHER)
    said = f" ({error.provider_message})" if error.provider_message else ""
    kwargs: dict[str, Any] = {
        "code": error.code,
        "provider_message": error.provider_message,
        "status_code": error.status_code,
    }
    lowered = (error.provider_message or "").lower()
    if error.code in _UNSIGNED:
        # botocore's model marks GetClientToken as signed (no "authtype": "none"),
        # unlike InitiateAuth; keybearer holds no AWS credentials to sign it.
        return ConfigurationError(
            f"Cognito wants this GetClientToken call signed with AWS credentials "
            f"({error.code}){said}. Set domain= (the user pool domain) to use the "
            "/oauth2/token endpoint, which needs only the client secret.",
            **kwargs,
        )
    if error.code == "OperationNotEnabledException":
        return ConfigurationError(
            f"GetClientToken is not enabled here ({error.code}){said}. Set domain= to use "
            "the /oauth2/token endpoint instead.",
            **kwargs,
        )
    if error.code == "NotAuthorizedException":
        return ConfigurationError(
            f"Cognito refused app client {config.client_id}'s client-credentials request "
            f"(NotAuthorizedException){said}. Check the client secret, and that the app "
            "client allows ALLOW_CLIENT_TOKEN_AUTH.",
            **kwargs,
        )
    if error.code in ("InvalidParameterException", "ScopeDoesNotExistException") and (
        "scope" in lowered or error.code == "ScopeDoesNotExistException"
    ):
        return ConfigurationError(
            f"Cognito refused the scopes ({error.code}){said}; {_scopes_hint(config.scopes)}. "
            "Ask only for custom scopes of a resource server that the app client is allowed.",
            **kwargs,
        )
    if error.code in ("InvalidParameterException", "UnauthorizedException"):
        return ConfigurationError(
            f"Cognito refused the client-credentials request ({error.code}){said}. The app "
            "client needs a secret, ALLOW_CLIENT_TOKEN_AUTH and allowed custom scopes.",
            **kwargs,
        )
    return error
