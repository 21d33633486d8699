"""An app's tests with keybearer's pytest plugin: no conftest.py, no AWS account.

``pip install 'keybearer[testing]'`` registers the plugin; these tests ask for
its fixtures by name and get a local Cognito, a user, an API behind a Cognito
authorizer and a client that signs in to one and calls the other. CI runs this
file (tests/test_testing_plugin.py): ``pytest examples/test_my_app.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import keybearer
from keybearer import errors
from keybearer.testing import AppClient, LocalCognito, ProtectedApi, User


# --- the app under test -----------------------------------------------------------------
def cheapest_pet(client: keybearer.OAuthClient, api_url: str) -> dict[str, Any]:
    """The app's code: call the protected API with the signed-in user's token."""
    with client.http(base_url=api_url) as http:
        response = http.get("/pets")
        response.raise_for_status()
        pets: list[dict[str, Any]] = response.json()
    return min(pets, key=lambda pet: float(pet["price"]))


# --- its tests ----------------------------------------------------------------------------
def test_pets(
    keybearer_client: keybearer.OAuthClient,
    cognito_user: Callable[..., User],
    protected_api: ProtectedApi,
) -> None:
    user = cognito_user()
    keybearer_client.login_password(user.username, user.password)

    assert cheapest_pet(keybearer_client, protected_api.url)["type"] == "fish"


def test_pets_after_the_token_expired(
    keybearer_client: keybearer.OAuthClient,
    cognito_user: Callable[..., User],
    protected_api: ProtectedApi,
    advance: Callable[[float], float],
) -> None:
    user = cognito_user()
    keybearer_client.login_password(user.username, user.password)
    advance(2 * 3600)  # the ID token expired an hour ago; the client refreshes it first

    assert cheapest_pet(keybearer_client, protected_api.url)["type"] == "fish"
    assert protected_api.count(path="/pets", status=401) == 0


def test_a_user_who_must_change_the_password(
    keybearer_client: keybearer.OAuthClient, cognito_user: Callable[..., User]
) -> None:
    user = cognito_user(temporary=True)

    challenge = keybearer_client.login_password(user.username, user.password)
    assert isinstance(challenge, keybearer.NewPasswordRequired)
    tokens = keybearer_client.respond(challenge, new_password="A-Brand-New-Pass-2")
    assert isinstance(tokens, keybearer.TokenSet)


def test_cognito_outage_during_login(
    keybearer_client: keybearer.OAuthClient,
    cognito_user: Callable[..., User],
    local_cognito: LocalCognito,
) -> None:
    user = cognito_user()
    local_cognito.fail_next("InitiateAuth", status=500)

    with pytest.raises(errors.ServiceError):
        keybearer_client.login_password(user.username, user.password)


def test_a_session_revoked_elsewhere_asks_for_login(
    keybearer_client: keybearer.OAuthClient,
    cognito_user: Callable[..., User],
    cognito_app_client: AppClient,
    protected_api: ProtectedApi,
    local_cognito: LocalCognito,
    advance: Callable[[float], float],
) -> None:
    user = cognito_user()
    tokens = keybearer_client.login_password(user.username, user.password)
    assert isinstance(tokens, keybearer.TokenSet)
    assert tokens.refresh_token is not None
    # Another device logs out: RevokeToken kills the refresh token at Cognito.
    local_cognito.admin_client.revoke_token(
        Token=tokens.refresh_token.get_secret_value(), ClientId=cognito_app_client.id
    )
    advance(3600)  # the ID token has expired too

    with (
        keybearer_client.http(base_url=protected_api.url) as http,
        pytest.raises(errors.LoginRequiredError),
    ):
        http.get("/pets")
