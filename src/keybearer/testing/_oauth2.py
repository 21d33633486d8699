"""``POST /oauth2/token`` of LocalCognito: the ``refresh_token`` and ``client_credentials`` grants.

Cognito serves this on the user pool's domain; LocalCognito serves it at
``<url>oauth2/token`` (give ``LocalCognito.domain_url`` as the client's domain).
The app client is found by its id, so one server stands for the domains of
every pool. Client authentication is ``client_secret_basic``
(``Authorization: Basic base64(id:secret)``) or ``client_secret_post``
(``client_id`` and ``client_secret`` in the form); a public client sends only
``client_id``. Errors are ``400 {"error": "<code>"}`` with the codes Cognito
documents: ``invalid_request``, ``invalid_client``, ``invalid_grant``,
``unauthorized_client``, ``unsupported_grant_type``, ``invalid_scope``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs, unquote

from keybearer.testing._dispatch import Call, CognitoError, Handler, Moto, Reply
from keybearer.testing._state import ClientView, IdpState

__all__ = ["token_endpoint"]

_FORM = "application/x-www-form-urlencoded"


class _OAuthError(Exception):
    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def _reply(document: dict[str, Any], status: int = 200) -> Reply:
    # Cognito's token endpoint sends no-store answers with CORS open to any origin.
    headers = (("Cache-Control", "no-store"), ("Access-Control-Allow-Origin", "*"))
    return Reply(status, json.dumps(document).encode(), "application/json", headers=headers)


def _form(call: Call) -> dict[str, str]:
    if call.method != "POST":
        raise _OAuthError("invalid_request", 405)
    if not call.headers.get("content-type", "").lower().startswith(_FORM):
        raise _OAuthError("invalid_request")
    try:
        fields = parse_qs(call.body.decode("ascii"), strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise _OAuthError("invalid_request") from exc
    if any(len(values) > 1 for values in fields.values()):
        raise _OAuthError("invalid_request")  # RFC 6749 3.2: no repeated parameters
    return {name: values[0] for name, values in fields.items()}


def _client(state: IdpState, call: Call, form: dict[str, str]) -> tuple[Any, ClientView]:
    """Authenticate the app client (basic, post, or a public client's bare id)."""
    authorization = call.headers.get("authorization", "")
    secret: str | None
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _OAuthError("invalid_client") from exc
        client_id, sep, raw_secret = decoded.partition(":")
        if not sep or ("client_secret" in form):
            raise _OAuthError("invalid_client")
        client_id, secret = unquote(client_id), unquote(raw_secret)
        if form.get("client_id", client_id) != client_id:
            raise _OAuthError("invalid_client")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
    try:
        pool, client = state.find_client(client_id)
        if client.secret is not None:
            state.check_client_secret(client, secret)
    except CognitoError as exc:
        raise _OAuthError("invalid_client") from exc
    return pool, client


def _refresh_grant(state: IdpState, pool: Any, client: ClientView, form: dict[str, str]) -> Reply:
    if "ALLOW_REFRESH_TOKEN_AUTH" not in client.flows:
        raise _OAuthError("unauthorized_client")
    if not form.get("refresh_token"):
        raise _OAuthError("invalid_request")
    try:
        record = state.live_refresh(pool, client, form["refresh_token"])
        tokens = state.session_tokens(pool, client, record)
        answer = {
            "id_token": tokens["IdToken"],
            "access_token": tokens["AccessToken"],
            "token_type": "Bearer",
            "expires_in": tokens["ExpiresIn"],
        }
        rotated = state.next_refresh_token(pool, client, record)
        if rotated is not None:  # only a rotating app client sends a new refresh token
            answer["refresh_token"] = rotated
    except CognitoError as exc:
        raise _OAuthError("invalid_grant") from exc
    return _reply(answer)


def _client_credentials_grant(
    state: IdpState, pool: Any, client: ClientView, form: dict[str, str]
) -> Reply:
    if client.secret is None:
        raise _OAuthError("invalid_client")
    if "client_credentials" not in client.oauth_flows:
        raise _OAuthError("unauthorized_client")
    try:
        scopes = state.grant_scopes(pool, client, form.get("scope", "").split())
    except CognitoError as exc:
        raise _OAuthError("invalid_scope") from exc
    token, life = state.client_token(pool, client, scopes)
    return _reply({"access_token": token, "expires_in": life, "token_type": "Bearer"})


def token_endpoint(state: IdpState) -> Handler:
    """The ``/oauth2/token`` handler."""

    def handle(call: Call, moto: Moto) -> Reply:
        try:
            form = _form(call)
            grant = form.get("grant_type")
            if not grant:
                raise _OAuthError("invalid_request")
            pool, client = _client(state, call, form)
            if grant == "refresh_token":
                return _refresh_grant(state, pool, client, form)
            if grant == "client_credentials":
                return _client_credentials_grant(state, pool, client, form)
            raise _OAuthError("unsupported_grant_type")
        except _OAuthError as exc:
            return _reply({"error": exc.code}, exc.status)

    return handle
