"""The cognito-idp operations LocalCognito answers differently from moto, rule by rule.

Each handler is ``handler(call, moto) -> Reply`` (see ``_dispatch.py``) and
implements one documented Cognito behaviour moto 5.2.5 lacks:

* ``SECRET_HASH`` is checked on every operation that takes one (``InitiateAuth``,
  ``RespondToAuthChallenge``, their ``Admin`` twins, ``SignUp``,
  ``ConfirmSignUp``, ``ForgotPassword``, ``ConfirmForgotPassword``,
  ``ResendConfirmationCode``); the raw ``ClientSecret`` on
  ``GetTokensFromRefreshToken`` and ``RevokeToken``, ``Secret`` on ``GetClientToken``.
* The app client's ``ExplicitAuthFlows`` are enforced: a flow it does not
  allow gets ``InvalidParameterException`` "<FLOW> flow not enabled for this client".
* Tokens are signed again with the app client's lifetimes and the clock
  (``_state.py``); refresh tokens are opaque, expire, and rotate.
* ``GetTokensFromRefreshToken``, ``RevokeToken`` and ``GetClientToken``, which
  moto lacks, are answered here.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from keybearer.testing._dispatch import Call, CognitoError, Handler, Moto, Reply
from keybearer.testing._state import ClientView, IdpState

__all__ = ["operations"]

_REFRESH_FLOWS = ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN")
#: Operations whose body carries a top-level ``SecretHash`` over ``Username``.
_TOP_LEVEL_SECRET_HASH = (
    "SignUp",
    "ConfirmSignUp",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "ResendConfirmationCode",
)


def _text(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise CognitoError("InvalidParameterException", f"{key} is required")
    return value


def _parameters(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key) or {}
    if not isinstance(value, dict):
        raise CognitoError("InvalidParameterException", f"{key} must be a map")
    return value


def _reissue(state: IdpState, pool: Any, client: ClientView, reply: Reply) -> Reply:
    """Sign moto's successful sign-in again: Cognito's claims, lifetimes, clock, refresh token."""
    document = reply.document()
    if reply.status != 200 or not isinstance(document, dict):
        return reply
    result = document.get("AuthenticationResult")
    if not isinstance(result, dict) or not isinstance(result.get("RefreshToken"), str):
        return reply
    for key, table in (("AccessToken", pool.access_tokens), ("IdToken", pool.id_tokens)):
        table.pop(result.get(key), None)  # moto's copies: one hour, fixed scope, time.time()
    refresh_token = state.adopt_refresh_token(pool, client, result["RefreshToken"])
    record = state.live_refresh(pool, client, refresh_token)
    tokens = state.session_tokens(pool, client, record)
    fresh = {**tokens, "RefreshToken": refresh_token}
    if "NewDeviceMetadata" in result:
        fresh["NewDeviceMetadata"] = result["NewDeviceMetadata"]
    document["AuthenticationResult"] = fresh
    document.setdefault("ChallengeParameters", {})
    return Reply.json(document)


def _refresh(state: IdpState, pool: Any, client: ClientView, params: Mapping[str, Any]) -> Reply:
    """REFRESH_TOKEN_AUTH: new ID and access tokens, the same refresh token."""
    if client.rotation_grace is not None:
        raise CognitoError(
            "NotAuthorizedException",
            "Refresh token rotation is enabled for this client: use GetTokensFromRefreshToken",
        )
    if not isinstance(params.get("REFRESH_TOKEN"), str):
        raise CognitoError("InvalidParameterException", "Missing required parameter REFRESH_TOKEN")
    record = state.live_refresh(pool, client, params["REFRESH_TOKEN"])
    username = state.internal_username(pool, record.username)
    state.check_secret_hash(client, username, params.get("SECRET_HASH"))
    tokens = state.session_tokens(pool, client, record)
    return Reply.json({"AuthenticationResult": tokens, "ChallengeParameters": {}})


def _sign_in(state: IdpState) -> Handler:
    """InitiateAuth (or AdminInitiateAuth): flow allowed, SECRET_HASH, then moto, signed again."""

    def handle(call: Call, moto: Moto) -> Reply:
        document = call.json()
        pool, client = state.find_client(document.get("ClientId"))
        flow = document.get("AuthFlow")
        params = _parameters(document, "AuthParameters")
        if isinstance(flow, str):
            state.require_flow(client, flow)
            if flow in _REFRESH_FLOWS:
                return _refresh(state, pool, client, params)
            username = params.get("USERNAME")
            if isinstance(username, str):
                state.check_secret_hash(client, username, params.get("SECRET_HASH"))
        return _reissue(state, pool, client, moto())

    return handle


def _answer_challenge(state: IdpState) -> Handler:
    """RespondToAuthChallenge and its Admin twin: SECRET_HASH over Cognito's own username."""

    def handle(call: Call, moto: Moto) -> Reply:
        document = call.json()
        pool, client = state.find_client(document.get("ClientId"))
        answers = _parameters(document, "ChallengeResponses")
        username = answers.get("USERNAME")
        if isinstance(username, str):
            internal = state.internal_username(pool, username)
            state.check_secret_hash(client, internal, answers.get("SECRET_HASH"))
        return _reissue(state, pool, client, moto())

    return handle


def _top_level_secret_hash(state: IdpState) -> Handler:
    """SignUp and the confirmation calls: ``SecretHash`` over ``Username``."""

    def handle(call: Call, moto: Moto) -> Reply:
        document = call.json()
        _, client = state.find_client(document.get("ClientId"))
        username = document.get("Username")
        if isinstance(username, str):
            state.check_secret_hash(client, username, document.get("SecretHash"))
        return moto()

    return handle


def _get_tokens_from_refresh_token(state: IdpState) -> Handler:
    """GetTokensFromRefreshToken: rotation with a retry grace period, reuse refused after it."""

    def handle(call: Call, moto: Moto) -> Reply:
        document = call.json()
        _text(document, "RefreshToken")
        pool, client = state.find_client(_text(document, "ClientId"))
        state.check_client_secret(client, document.get("ClientSecret"))
        state.require_flow(client, "REFRESH_TOKEN_AUTH")
        record = state.live_refresh(pool, client, document["RefreshToken"])
        result = state.session_tokens(pool, client, record)
        rotated = state.next_refresh_token(pool, client, record)
        if rotated is not None:
            result["RefreshToken"] = rotated
        return Reply.json({"AuthenticationResult": result})

    return handle


def _revoke_token(state: IdpState) -> Handler:
    """RevokeToken: only where the app client has token revocation on; refresh tokens only."""

    def handle(call: Call, moto: Moto) -> Reply:
        document = call.json()
        token = _text(document, "Token")
        pool, client = state.find_client(_text(document, "ClientId"))
        state.check_client_secret(client, document.get("ClientSecret"))
        if not client.revocation:
            raise CognitoError(
                "UnsupportedOperationException", "Token revocation is not enabled for this client"
            )
        if token in pool.access_tokens or token in pool.id_tokens or token.count(".") == 2:
            raise CognitoError(
                "UnsupportedTokenTypeException", "Only refresh tokens can be revoked"
            )
        owner = pool.refresh_tokens.get(token)
        if owner is not None and owner[0] != client.id:
            raise CognitoError("UnauthorizedException", "Token was not issued to this client")
        state.revoke(pool, token)
        return Reply.json({})

    return handle


def _get_client_token(state: IdpState) -> Handler:
    """GetClientToken: client credentials over cognito-idp, custom scopes in the token."""

    def handle(call: Call, moto: Moto) -> Reply:
        document = call.json()
        pool, client = state.find_client(_text(document, "ClientId"))
        secret = _text(document, "Secret")
        if client.secret is None:
            raise CognitoError("NotAuthorizedException", f"Client {client.id} has no secret")
        state.check_client_secret(client, secret)
        if "ALLOW_CLIENT_TOKEN_AUTH" not in client.flows:
            message = "ALLOW_CLIENT_TOKEN_AUTH flow not enabled for this client"
            raise CognitoError("InvalidParameterException", message)
        requested = document.get("Scopes") or []
        if not isinstance(requested, list) or not all(isinstance(s, str) for s in requested):
            raise CognitoError("InvalidParameterException", "Scopes must be a list of strings")
        try:
            scopes = state.grant_scopes(pool, client, requested)
        except CognitoError as exc:
            raise CognitoError("InvalidParameterException", "Invalid scope requested") from exc
        token, life = state.client_token(pool, client, scopes)
        result = {"AccessToken": token, "ExpiresIn": life, "TokenType": "Bearer"}
        return Reply.json({"ClientAuthenticationResult": result})

    return handle


def _associate_software_token(call: Call, moto: Moto) -> Reply:
    """AssociateSoftwareToken: a secret shaped like Cognito's, not moto's fixed 12 characters.

    Cognito sends a base32 secret of 32 characters (the model wants at least
    16). LocalCognito does not check TOTP codes, so any secret will do.
    """
    reply = moto()
    document = reply.document()
    if reply.status == 200 and isinstance(document, dict) and "SecretCode" in document:
        document["SecretCode"] = base64.b32encode(secrets.token_bytes(20)).decode()
        return Reply.json(document)
    return reply


def operations(state: IdpState) -> dict[str, Handler]:
    """The cognito-idp handlers LocalCognito starts with, by operation name."""
    table: dict[str, Handler] = {
        "InitiateAuth": _sign_in(state),
        "AdminInitiateAuth": _sign_in(state),
        "RespondToAuthChallenge": _answer_challenge(state),
        "AdminRespondToAuthChallenge": _answer_challenge(state),
        "GetTokensFromRefreshToken": _get_tokens_from_refresh_token(state),
        "RevokeToken": _revoke_token(state),
        "GetClientToken": _get_client_token(state),
        "AssociateSoftwareToken": _associate_software_token,
    }
    checked: Callable[[IdpState], Handler] = _top_level_secret_hash
    for name in _TOP_LEVEL_SECRET_HASH:
        table[name] = checked(state)
    return table
