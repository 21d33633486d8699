"""LocalCognito follows Cognito where moto alone does not: one test (or a few) per rule.

The calls go out with plain httpx, as any SDK sends them, so a failure points
at the stand-in. docs/testing.md lists the same rules.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import keybearer
from keybearer.testing import AppClient, FrozenClock, LocalCognito, Pool, ProtectedApi, User
from keybearer.testing._dispatch import Call, Moto, Reply
from keybearer.testing._state import secret_hash

PASSWORD = "Correct-Horse-1"
#: A wrong client secret that still fits the model's ClientSecretType (24-64 characters).
WRONG_SECRET = "w" * 40
#: A resource server of its own: the session pool is shared with other modules.
API = f"https://api-{uuid.uuid4().hex[:8]}.example.test"


def call(cognito: LocalCognito, operation: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        cognito.url,
        content=json.dumps(body),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
        },
    )


def refused(response: httpx.Response, error_type: str, message: str | None = None) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["__type"] == error_type
    assert response.headers["x-amzn-errortype"] == error_type
    if message is not None:
        assert body["message"] == message


def password_auth(
    cognito: LocalCognito, client: AppClient, user: User, *, hashed: str | None = "right"
) -> httpx.Response:
    params = {"USERNAME": user.username, "PASSWORD": user.password}
    if hashed == "right":
        assert client.secret is not None
        params["SECRET_HASH"] = secret_hash(client.secret, user.username, client.id)
    elif hashed is not None:
        params["SECRET_HASH"] = hashed
    body = {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client.id, "AuthParameters": params}
    return call(cognito, "InitiateAuth", body)


def sign_in(cognito: LocalCognito, client: AppClient, user: User) -> dict[str, Any]:
    response = password_auth(cognito, client, user, hashed="right" if client.secret else None)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["AuthenticationResult"]
    return result


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def fresh_user(cognito: LocalCognito, pool: Pool, **options: Any) -> User:
    return cognito.create_user(pool, f"rules-{uuid.uuid4().hex[:10]}", PASSWORD, **options)


@pytest.fixture
def clock(cognito: LocalCognito) -> Iterator[FrozenClock]:
    frozen = FrozenClock()
    cognito.clock = frozen
    yield frozen
    cognito.clock = time.time


def rotate(
    cognito: LocalCognito, client: AppClient, refresh_token: str, secret: str | None = None
) -> httpx.Response:
    body = {"ClientId": client.id, "RefreshToken": refresh_token}
    if secret is not None:
        body["ClientSecret"] = secret
    return call(cognito, "GetTokensFromRefreshToken", body)


# --- SECRET_HASH ----------------------------------------------------------------------


def test_user_password_auth_checks_the_secret_hash(
    cognito: LocalCognito, pool: Pool, secret_client: AppClient
) -> None:
    user = fresh_user(cognito, pool)

    refused(password_auth(cognito, secret_client, user, hashed=None), "NotAuthorizedException")
    refused(
        password_auth(cognito, secret_client, user, hashed="bm90LXRoZS1oYXNo"),
        "NotAuthorizedException",
        f"Unable to verify secret hash for client {secret_client.id}",
    )
    assert password_auth(cognito, secret_client, user).status_code == 200


def test_a_challenge_answer_checks_the_secret_hash_over_cognitos_username(
    cognito: LocalCognito, pool: Pool, secret_client: AppClient
) -> None:
    user = fresh_user(cognito, pool, temporary=True)
    challenge = password_auth(cognito, secret_client, user).json()
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    answers = {"USERNAME": user.username, "NEW_PASSWORD": "Brand-New-Pass-2"}
    body = {
        "ClientId": secret_client.id,
        "ChallengeName": "NEW_PASSWORD_REQUIRED",
        "Session": challenge["Session"],
        "ChallengeResponses": answers,
    }

    refused(call(cognito, "RespondToAuthChallenge", body), "NotAuthorizedException")
    assert secret_client.secret is not None
    answers["SECRET_HASH"] = secret_hash(secret_client.secret, user.username, secret_client.id)
    answered = call(cognito, "RespondToAuthChallenge", body)
    assert answered.status_code == 200, answered.text
    assert "AuthenticationResult" in answered.json()


@pytest.mark.parametrize("operation", ["SignUp", "ForgotPassword", "ResendConfirmationCode"])
def test_top_level_secret_hash_is_checked(
    cognito: LocalCognito, secret_client: AppClient, operation: str
) -> None:
    body: dict[str, Any] = {"ClientId": secret_client.id, "Username": "someone"}
    if operation == "SignUp":
        body["Password"] = PASSWORD
    refused(call(cognito, operation, body), "NotAuthorizedException")
    body["SecretHash"] = "d3Jvbmc="
    refused(call(cognito, operation, body), "NotAuthorizedException")


def test_get_tokens_from_refresh_token_checks_the_raw_client_secret(
    cognito: LocalCognito, pool: Pool, secret_client: AppClient
) -> None:
    tokens = sign_in(cognito, secret_client, fresh_user(cognito, pool))
    assert secret_client.secret is not None

    refused(rotate(cognito, secret_client, tokens["RefreshToken"]), "NotAuthorizedException")
    refused(
        rotate(cognito, secret_client, tokens["RefreshToken"], WRONG_SECRET),
        "NotAuthorizedException",
    )
    assert rotate(cognito, secret_client, tokens["RefreshToken"], secret_client.secret).is_success


# --- ExplicitAuthFlows ------------------------------------------------------------------


def test_a_flow_the_app_client_does_not_allow_is_refused_with_cognitos_text(
    cognito: LocalCognito, pool: Pool
) -> None:
    srp_only = cognito.create_app_client(pool, flows=("ALLOW_USER_SRP_AUTH",))
    user = fresh_user(cognito, pool)

    refused(
        password_auth(cognito, srp_only, user, hashed=None),
        "InvalidParameterException",
        "USER_PASSWORD_AUTH flow not enabled for this client",
    )


def test_refresh_needs_allow_refresh_token_auth(cognito: LocalCognito, pool: Pool) -> None:
    no_refresh = cognito.create_app_client(pool, flows=("ALLOW_USER_PASSWORD_AUTH",))
    tokens = sign_in(cognito, no_refresh, fresh_user(cognito, pool))
    body = {
        "AuthFlow": "REFRESH_TOKEN_AUTH",
        "ClientId": no_refresh.id,
        "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]},
    }

    refused(
        call(cognito, "InitiateAuth", body),
        "InvalidParameterException",
        "REFRESH_TOKEN_AUTH flow not enabled for this client",
    )


def test_legacy_flow_names_count_and_no_flows_means_cognitos_default(
    cognito: LocalCognito, pool: Pool
) -> None:
    legacy = cognito.create_app_client(pool, flows=("USER_PASSWORD_AUTH",))
    default = cognito.create_app_client(pool, flows=())
    user = fresh_user(cognito, pool)

    assert password_auth(cognito, legacy, user, hashed=None).status_code == 200
    # Without ExplicitAuthFlows Cognito allows SRP, custom auth and refresh only.
    refused(password_auth(cognito, default, user, hashed=None), "InvalidParameterException")


# --- lifetimes and the clock --------------------------------------------------------------


def test_token_lifetimes_come_from_the_app_client_and_times_from_the_clock(
    cognito: LocalCognito, pool: Pool, clock: FrozenClock
) -> None:
    client = cognito.create_app_client(
        pool,
        access_token_validity=5,
        id_token_validity=10,
        validity_units={"AccessToken": "minutes", "IdToken": "minutes"},
    )
    clock.advance(12_345)
    result = sign_in(cognito, client, fresh_user(cognito, pool))
    access, identity = claims(result["AccessToken"]), claims(result["IdToken"])

    assert result["ExpiresIn"] == 300
    assert access["iat"] == identity["iat"] == int(clock())
    assert access["exp"] - access["iat"] == 300
    assert identity["exp"] - identity["iat"] == 600
    assert access["auth_time"] == int(clock())


def test_default_lifetimes_are_one_hour(
    cognito: LocalCognito, pool: Pool, public_client: AppClient
) -> None:
    result = sign_in(cognito, public_client, fresh_user(cognito, pool))
    access = claims(result["AccessToken"])

    assert result["ExpiresIn"] == 3600
    assert access["exp"] - access["iat"] == 3600


def test_a_refresh_token_expires_after_the_refresh_token_validity(
    cognito: LocalCognito, pool: Pool, clock: FrozenClock
) -> None:
    client = cognito.create_app_client(
        pool, refresh_token_validity=60, validity_units={"RefreshToken": "minutes"}
    )
    tokens = sign_in(cognito, client, fresh_user(cognito, pool))
    body = {
        "AuthFlow": "REFRESH_TOKEN_AUTH",
        "ClientId": client.id,
        "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]},
    }
    clock.advance(3599)
    refreshed = call(cognito, "InitiateAuth", body)
    assert refreshed.status_code == 200
    assert "RefreshToken" not in refreshed.json()["AuthenticationResult"]
    # auth_time stays that of the sign-in
    assert claims(refreshed.json()["AuthenticationResult"]["AccessToken"])["auth_time"] == int(
        clock() - 3599
    )

    clock.advance(1)
    refused(
        call(cognito, "InitiateAuth", body), "NotAuthorizedException", "Refresh Token has expired"
    )


def test_refresh_tokens_are_opaque_like_cognitos(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    refresh_token = sign_in(cognito, public_client, users["bob"])["RefreshToken"]

    assert refresh_token.count(".") == 4  # a JWE, as Cognito's: never a bare UUID
    with pytest.raises(ValueError, match="hexadecimal"):
        uuid.UUID(refresh_token)


# --- rotation -------------------------------------------------------------------------------


def test_rotation_issues_a_new_refresh_token_and_keeps_the_old_for_the_grace_period(
    cognito: LocalCognito, pool: Pool, clock: FrozenClock
) -> None:
    client = cognito.create_app_client(pool, rotation=True, grace_period=10)
    first = sign_in(cognito, client, fresh_user(cognito, pool))["RefreshToken"]

    rotated = rotate(cognito, client, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["AuthenticationResult"]["RefreshToken"]
    assert second != first
    clock.advance(10)
    assert rotate(cognito, client, first).status_code == 200  # a retry inside the grace period

    clock.advance(1)
    refused(rotate(cognito, client, first), "RefreshTokenReuseException")
    assert rotate(cognito, client, second).status_code == 200


def test_without_a_grace_period_the_old_refresh_token_dies_at_once(
    cognito: LocalCognito, pool: Pool
) -> None:
    client = cognito.create_app_client(pool, rotation=True)
    first = sign_in(cognito, client, fresh_user(cognito, pool))["RefreshToken"]

    assert rotate(cognito, client, first).status_code == 200
    refused(rotate(cognito, client, first), "RefreshTokenReuseException")


def test_a_rotating_client_refuses_refresh_token_auth(cognito: LocalCognito, pool: Pool) -> None:
    client = cognito.create_app_client(pool, rotation=True)
    tokens = sign_in(cognito, client, fresh_user(cognito, pool))
    body = {
        "AuthFlow": "REFRESH_TOKEN_AUTH",
        "ClientId": client.id,
        "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]},
    }

    refused(call(cognito, "InitiateAuth", body), "NotAuthorizedException")


def test_without_rotation_get_tokens_from_refresh_token_returns_no_refresh_token(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    tokens = sign_in(cognito, public_client, users["bob"])
    answer = rotate(cognito, public_client, tokens["RefreshToken"])

    assert answer.status_code == 200
    assert set(answer.json()["AuthenticationResult"]) == {
        "AccessToken",
        "IdToken",
        "ExpiresIn",
        "TokenType",
    }


def test_keybearer_refreshes_a_rotating_session_through_get_tokens_from_refresh_token(
    cognito: LocalCognito, pool: Pool
) -> None:
    app = cognito.create_app_client(pool, rotation=True)
    user = fresh_user(cognito, pool)
    with keybearer.OAuthClient.cognito(
        pool.id,
        app.id,
        idp_url=cognito.url,
        store=keybearer.MemoryStore(),
        rotate_refresh_tokens=True,
    ) as client:
        signed_in = client.login_password(user.username, user.password)
        assert isinstance(signed_in, keybearer.TokenSet)
        refreshed = client.refresh()

    assert refreshed.origin == "rotating"
    assert refreshed.refresh_token is not None
    assert signed_in.refresh_token is not None
    assert refreshed.refresh_token.get_secret_value() != signed_in.refresh_token.get_secret_value()
    assert cognito.calls["GetTokensFromRefreshToken"] == 1
    assert cognito.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 0


# --- revocation -------------------------------------------------------------------------------


def test_revoke_token_kills_the_refresh_token_and_its_access_tokens(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    tokens = sign_in(cognito, public_client, users["alice"])
    assert "origin_jti" in claims(tokens["AccessToken"])
    revoke = {"Token": tokens["RefreshToken"], "ClientId": public_client.id}

    assert call(cognito, "RevokeToken", revoke).json() == {}
    refused(
        rotate(cognito, public_client, tokens["RefreshToken"]),
        "NotAuthorizedException",
        "Refresh Token has been revoked",
    )
    refused(
        call(cognito, "GetUser", {"AccessToken": tokens["AccessToken"]}), "NotAuthorizedException"
    )


def test_revoke_token_needs_revocation_on_and_a_refresh_token(
    cognito: LocalCognito, pool: Pool, public_client: AppClient, users: dict[str, User]
) -> None:
    no_revocation = cognito.create_app_client(pool, revocation=False)
    tokens = sign_in(cognito, no_revocation, fresh_user(cognito, pool))
    assert "origin_jti" not in claims(tokens["AccessToken"])  # Cognito adds it only with revocation

    refused(
        call(
            cognito, "RevokeToken", {"Token": tokens["RefreshToken"], "ClientId": no_revocation.id}
        ),
        "UnsupportedOperationException",
    )
    mine = sign_in(cognito, public_client, users["bob"])
    refused(
        call(cognito, "RevokeToken", {"Token": mine["AccessToken"], "ClientId": public_client.id}),
        "UnsupportedTokenTypeException",
    )


# --- scopes and client credentials --------------------------------------------------------------


@pytest.fixture(scope="module")
def m2m(cognito: LocalCognito, pool: Pool) -> tuple[AppClient, list[str]]:
    """A confidential client for GetClientToken and /oauth2/token, allowed pets.read only."""
    scopes = cognito.create_resource_server(pool, API, ["pets.read", "pets.write"])
    client = cognito.create_app_client(
        pool,
        secret=True,
        flows=("ALLOW_CLIENT_TOKEN_AUTH",),
        oauth_flows=("client_credentials",),
        scopes=(scopes[0],),
        access_token_validity=15,
        validity_units={"AccessToken": "minutes"},
    )
    return client, scopes


def client_token(cognito: LocalCognito, client: AppClient, **extra: Any) -> httpx.Response:
    return call(
        cognito, "GetClientToken", {"ClientId": client.id, "Secret": client.secret, **extra}
    )


def test_api_sign_in_tokens_carry_only_the_user_admin_scope(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    access = claims(sign_in(cognito, public_client, users["bob"])["AccessToken"])
    assert access["scope"] == "aws.cognito.signin.user.admin"


def test_get_client_token_issues_an_access_token_with_the_custom_scopes(
    cognito: LocalCognito, m2m: tuple[AppClient, list[str]], pool: Pool
) -> None:
    client, scopes = m2m
    answer = client_token(cognito, client, Scopes=[scopes[0]])

    assert answer.status_code == 200, answer.text
    result = answer.json()["ClientAuthenticationResult"]
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == 900
    access = claims(result["AccessToken"])
    assert access["scope"] == f"{API}/pets.read"
    assert access["sub"] == access["client_id"] == client.id
    assert access["token_use"] == "access"
    assert "username" not in access
    with ProtectedApi(pool.jwks_url, pool.issuer, [client.id]) as api:
        api.require_scopes("/pets", [f"{API}/pets.read"])
        headers = {"Authorization": f"Bearer {result['AccessToken']}"}
        assert httpx.get(f"{api.url}/pets", headers=headers).status_code == 200


def test_get_client_token_refuses_what_cognito_refuses(
    cognito: LocalCognito, m2m: tuple[AppClient, list[str]], pool: Pool, secret_client: AppClient
) -> None:
    client, scopes = m2m

    refused(client_token(cognito, client, Scopes=[scopes[1]]), "InvalidParameterException")
    refused(
        call(cognito, "GetClientToken", {"ClientId": client.id, "Secret": WRONG_SECRET}),
        "NotAuthorizedException",
    )
    refused(
        client_token(cognito, secret_client),
        "InvalidParameterException",
        "ALLOW_CLIENT_TOKEN_AUTH flow not enabled for this client",
    )
    default = client_token(cognito, client)  # no Scopes: every custom scope the client may have
    assert claims(default.json()["ClientAuthenticationResult"]["AccessToken"])["scope"] == (
        f"{API}/pets.read"
    )


def oauth_token(
    cognito: LocalCognito, form: dict[str, str], auth: tuple[str, str] | None = None
) -> httpx.Response:
    return httpx.post(f"{cognito.domain_url}/oauth2/token", data=form, auth=auth)


def test_token_endpoint_client_credentials_with_basic_or_post_authentication(
    cognito: LocalCognito, m2m: tuple[AppClient, list[str]]
) -> None:
    client, scopes = m2m
    assert client.secret is not None
    basic = oauth_token(
        cognito,
        {"grant_type": "client_credentials", "scope": scopes[0]},
        (client.id, client.secret),
    )
    post = oauth_token(
        cognito,
        {
            "grant_type": "client_credentials",
            "client_id": client.id,
            "client_secret": client.secret,
        },
    )

    for answer in (basic, post):
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        body = answer.json()
        assert set(body) == {"access_token", "expires_in", "token_type"}
        assert body["expires_in"] == 900
        assert claims(body["access_token"])["scope"] == scopes[0]
    assert cognito.calls["oauth2/token"] == 2


@pytest.mark.parametrize(
    ("form", "secret", "error"),
    [
        ({"grant_type": "client_credentials"}, WRONG_SECRET, "invalid_client"),
        ({"grant_type": "client_credentials", "scope": f"{API}/pets.write"}, None, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": f"{API}/nope"}, None, "invalid_scope"),
        ({"grant_type": "password"}, None, "unsupported_grant_type"),
        ({}, None, "invalid_request"),
    ],
)
def test_token_endpoint_errors(
    cognito: LocalCognito,
    m2m: tuple[AppClient, list[str]],
    form: dict[str, str],
    secret: str | None,
    error: str,
) -> None:
    client, _ = m2m
    assert client.secret is not None
    answer = oauth_token(cognito, form, (client.id, secret or client.secret))

    assert answer.status_code == 400
    assert answer.json() == {"error": error}


def test_client_credentials_need_the_oauth_flow_and_a_secret(
    cognito: LocalCognito, secret_client: AppClient, public_client: AppClient
) -> None:
    assert secret_client.secret is not None
    not_allowed = oauth_token(
        cognito, {"grant_type": "client_credentials"}, (secret_client.id, secret_client.secret)
    )
    public = oauth_token(
        cognito, {"grant_type": "client_credentials", "client_id": public_client.id}
    )

    assert not_allowed.json() == {"error": "unauthorized_client"}
    assert public.json() == {"error": "invalid_client"}


def test_token_endpoint_refresh_grant(
    cognito: LocalCognito, pool: Pool, public_client: AppClient, users: dict[str, User]
) -> None:
    tokens = sign_in(cognito, public_client, users["bob"])
    form = {
        "grant_type": "refresh_token",
        "client_id": public_client.id,
        "refresh_token": tokens["RefreshToken"],
    }
    answer = oauth_token(cognito, form)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"id_token", "access_token", "token_type", "expires_in"}

    rotating = cognito.create_app_client(pool, rotation=True)
    rotating_tokens = sign_in(cognito, rotating, fresh_user(cognito, pool))
    form = {**form, "client_id": rotating.id, "refresh_token": rotating_tokens["RefreshToken"]}
    rotated = oauth_token(cognito, form)
    assert rotated.json()["refresh_token"] != rotating_tokens["RefreshToken"]
    assert oauth_token(cognito, form).json() == {"error": "invalid_grant"}  # reused, no grace


# --- the dispatch table ---------------------------------------------------------------------------


def test_an_operation_can_be_added_or_wrapped_in_the_dispatch_table(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    seen: list[str] = []
    previous = cognito.operations["InitiateAuth"]

    def wrapped(request: Call, moto: Moto) -> Reply:
        seen.append(str(request.json().get("AuthFlow")))
        return previous(request, moto)

    def list_devices(request: Call, moto: Moto) -> Reply:
        return Reply.json({"Devices": []})

    cognito.operations["InitiateAuth"] = wrapped
    cognito.operations["ListDevices"] = list_devices
    try:
        sign_in(cognito, public_client, users["bob"])
        devices = call(cognito, "ListDevices", {"AccessToken": "x"})
    finally:
        cognito.operations["InitiateAuth"] = previous
        del cognito.operations["ListDevices"]

    assert seen == ["USER_PASSWORD_AUTH"]
    assert devices.json() == {"Devices": []}


def test_a_handler_can_finish_a_sign_in_with_the_shared_state(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User], api: ProtectedApi
) -> None:
    """What a server side for flows moto lacks (SRP, devices) does once the user is proved."""
    previous = cognito.operations["InitiateAuth"]

    def custom(request: Call, moto: Moto) -> Reply:
        document = request.json()
        if document.get("AuthFlow") != "CUSTOM_AUTH":
            return previous(request, moto)
        pool, client = cognito.state.find_client(document["ClientId"])
        username = document["AuthParameters"]["USERNAME"]
        result = cognito.state.sign_in(pool, client, username)
        return Reply.json({"AuthenticationResult": result, "ChallengeParameters": {}})

    cognito.operations["InitiateAuth"] = custom
    try:
        flows = cognito.admin_client.describe_user_pool_client(
            UserPoolId=public_client.pool_id, ClientId=public_client.id
        )["UserPoolClient"]["ExplicitAuthFlows"]
        body = {
            "AuthFlow": "CUSTOM_AUTH",
            "ClientId": public_client.id,
            "AuthParameters": {"USERNAME": users["bob"].username},
        }
        answer = call(cognito, "InitiateAuth", body)
    finally:
        cognito.operations["InitiateAuth"] = previous

    assert "ALLOW_CUSTOM_AUTH" not in flows  # the wrapper replaced the rule, as a test may
    result = answer.json()["AuthenticationResult"]
    headers = {"Authorization": result["IdToken"]}
    assert httpx.get(f"{api.url}/pets", headers=headers).status_code == 200
    assert rotate(cognito, public_client, result["RefreshToken"]).status_code == 200


def test_associate_software_token_sends_a_secret_shaped_like_cognitos(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    access_token = sign_in(cognito, public_client, users["bob"])["AccessToken"]
    answer = call(cognito, "AssociateSoftwareToken", {"AccessToken": access_token})

    assert answer.status_code == 200, answer.text
    secret = answer.json()["SecretCode"]
    assert len(secret) == 32
    assert base64.b32decode(secret)  # base32, as authenticator apps expect


def test_an_unknown_app_client_or_a_missing_refresh_token_is_refused_as_cognito_does(
    cognito: LocalCognito, public_client: AppClient
) -> None:
    unknown = {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": "nosuchclient0000000000000",
        "AuthParameters": {"USERNAME": "a", "PASSWORD": "b"},
    }
    missing = {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": public_client.id}

    refused(
        call(cognito, "InitiateAuth", unknown),
        "ResourceNotFoundException",
        "User pool client nosuchclient0000000000000 does not exist.",
    )
    refused(
        call(cognito, "InitiateAuth", missing),
        "InvalidParameterException",
        "Missing required parameter REFRESH_TOKEN",
    )
