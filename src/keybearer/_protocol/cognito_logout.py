"""Ending a session at Cognito: RevokeToken and GlobalSignOut."""

from __future__ import annotations

from typing import Any

from keybearer._protocol import Flow
from keybearer._protocol.app_client import CognitoAppClient
from keybearer._protocol.cognito_idp import Purpose, parse, request
from keybearer._tokens import TokenSet
from keybearer.errors import KeybearerError


def revoke(
    config: CognitoAppClient, tokens: TokenSet, *, everywhere: bool, refresh: bool = True
) -> Flow[None]:
    """Revoke the refresh token (and what was minted from it); optionally sign out globally.

    GlobalSignOut goes first: it needs the access token, which RevokeToken kills.
    If it fails, the refresh token is still revoked before the failure is raised.
    """
    failure: KeybearerError | None = None
    if everywhere:
        body: dict[str, Any] = {"AccessToken": tokens.access_token.get_secret_value()}
        try:
            response = yield request(config, "GlobalSignOut", body)
            parse(response, Purpose.OTHER, secrets=(body["AccessToken"],))
        except KeybearerError as exc:
            failure = exc
    if refresh and tokens.refresh_token is not None:
        body = {"Token": tokens.refresh_token.get_secret_value(), "ClientId": config.client_id}
        if config.client_secret is not None:
            body["ClientSecret"] = config.client_secret.get_secret_value()
        response = yield request(config, "RevokeToken", body)
        parse(response, Purpose.OTHER, secrets=(body["Token"],))
    if failure is not None:
        raise failure
