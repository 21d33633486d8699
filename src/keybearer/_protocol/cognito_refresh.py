"""Trading a refresh token for fresh ID and access tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keybearer._protocol import Flow
from keybearer._protocol.app_client import CognitoAppClient
from keybearer._protocol.cognito_idp import (
    Purpose,
    parse,
    request,
    tokens_from_result,
    with_secret_hash,
)
from keybearer._tokens import TokenSet
from keybearer.errors import LoginRequiredError


def refresh(
    config: CognitoAppClient, tokens: TokenSet, clock: Callable[[], float]
) -> Flow[TokenSet]:
    """Refresh through cognito-idp, by the route the session's origin calls for."""
    if tokens.refresh_token is None:
        raise LoginRequiredError(
            "this session has no refresh token (an implicit-grant sign-in has none); log in again"
        )
    refresh_token = tokens.refresh_token.get_secret_value()
    if tokens.origin == "rotating" or config.rotate_refresh_tokens:
        # Rotation clients refuse REFRESH_TOKEN_AUTH; this call takes the raw secret.
        body: dict[str, Any] = {"ClientId": config.client_id, "RefreshToken": refresh_token}
        if config.client_secret is not None:
            body["ClientSecret"] = config.client_secret.get_secret_value()
        response = yield request(config, "GetTokensFromRefreshToken", body)
    else:
        # SECRET_HASH must use Cognito's username (from the token), not the login alias.
        params = with_secret_hash(config, tokens.username or "", {"REFRESH_TOKEN": refresh_token})
        body = {
            "AuthFlow": "REFRESH_TOKEN_AUTH",
            "ClientId": config.client_id,
            "AuthParameters": params,
        }
        response = yield request(config, "InitiateAuth", body)
    data = parse(response, Purpose.REFRESH, secrets=(refresh_token,))
    return tokens_from_result(
        data.get("AuthenticationResult"), config=config, now=clock(), previous=tokens
    )
