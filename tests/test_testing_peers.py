"""The stand-ins in ``keybearer.testing`` behave like Cognito and API Gateway.

Everything here talks to the servers with plain httpx, as the SDK will, so a
failure points at the stand-in and not at the SDK.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi, User

#: Required on ``/admin`` by the ``api`` fixture; no token from InitiateAuth has it.
ADMIN_SCOPE = "https://api.example.test/admin"
#: The only scope of access tokens from InitiateAuth (real Cognito and moto).
USER_ADMIN_SCOPE = "aws.cognito.signin.user.admin"

# --- helpers ----------------------------------------------------------------------


def cognito_call(cognito: LocalCognito, operation: str, body: dict[str, Any]) -> httpx.Response:
    """POST one cognito-idp JSON call, the way the SDK sends it."""
    return httpx.post(
        cognito.url,
        content=json.dumps(body),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
        },
    )


def secret_hash(client: AppClient, username: str) -> str:
    assert client.secret is not None
    digest = hmac.new(
        client.secret.encode(), (username + client.id).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def login(cognito: LocalCognito, client: AppClient, user: User) -> dict[str, Any]:
    """USER_PASSWORD_AUTH; return the AuthenticationResult."""
    params = {"USERNAME": user.username, "PASSWORD": user.password}
    if client.secret:
        params["SECRET_HASH"] = secret_hash(client, user.username)
    response = cognito_call(
        cognito,
        "InitiateAuth",
        {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client.id, "AuthParameters": params},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["AuthenticationResult"]
    return result


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_claims(token: str, **changes: Any) -> str:
    """The token with changed claims and its original (now wrong) signature."""
    header, _, signature = token.split(".")
    claims = claims_of(token) | changes
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


def get(api: ProtectedApi, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": token} if token is not None else {}
    return httpx.get(f"{api.url}{path}", headers=headers)


def last_reason(api: ProtectedApi) -> str | None:
    return api.requests[-1].reason


def _new_server_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Stand-in server threads alive now that were not alive at ``before``."""
    return [
        t
        for t in threading.enumerate()
        if t not in before and t.name.startswith(("LocalCognito", "ProtectedApi"))
    ]


# --- LocalCognito: the cognito-idp calls the SDK makes ---------------------------------


def test_user_password_login_returns_tokens_with_the_aws_issuer(
    cognito: LocalCognito, pool: Pool, public_client: AppClient, users: dict[str, User]
) -> None:
    tokens = login(cognito, public_client, users["alice"])

    assert tokens["TokenType"] == "Bearer"
    assert tokens["ExpiresIn"] == 3600
    id_claims = claims_of(tokens["IdToken"])
    assert id_claims["iss"] == pool.issuer
    assert pool.issuer.startswith("https://cognito-idp.us-east-1.amazonaws.com/")
    assert id_claims["token_use"] == "id"
    assert id_claims["aud"] == public_client.id
    assert id_claims["sub"] == users["alice"].sub
    assert id_claims["cognito:username"] == "alice"
    assert id_claims["email"] == "alice@example.test"
    access_claims = claims_of(tokens["AccessToken"])
    assert access_claims["token_use"] == "access"
    assert access_claims["client_id"] == public_client.id
    assert access_claims["scope"] == USER_ADMIN_SCOPE


def test_wrong_password_is_a_cognito_shaped_400(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    response = cognito_call(
        cognito,
        "InitiateAuth",
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": public_client.id,
            "AuthParameters": {"USERNAME": "alice", "PASSWORD": "not-it"},
        },
    )

    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "NotAuthorizedException"
    assert response.json()["__type"] == "NotAuthorizedException"


def test_refresh_returns_new_id_and_access_tokens_but_no_refresh_token(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    tokens = login(cognito, public_client, users["alice"])

    response = cognito_call(
        cognito,
        "InitiateAuth",
        {
            "AuthFlow": "REFRESH_TOKEN_AUTH",
            "ClientId": public_client.id,
            "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]},
        },
    )

    assert response.status_code == 200, response.text
    result = response.json()["AuthenticationResult"]
    assert set(result) >= {"IdToken", "AccessToken", "ExpiresIn", "TokenType"}
    assert "RefreshToken" not in result
    assert claims_of(result["IdToken"])["sub"] == users["alice"].sub


def test_refresh_with_a_secret_client_checks_the_secret_hash(
    cognito: LocalCognito, secret_client: AppClient, users: dict[str, User]
) -> None:
    tokens = login(cognito, secret_client, users["alice"])

    def refresh(params: dict[str, str]) -> httpx.Response:
        params = {"REFRESH_TOKEN": tokens["RefreshToken"], **params}
        return cognito_call(
            cognito,
            "InitiateAuth",
            {
                "AuthFlow": "REFRESH_TOKEN_AUTH",
                "ClientId": secret_client.id,
                "AuthParameters": params,
            },
        )

    assert refresh({}).status_code == 400
    assert refresh({"SECRET_HASH": "AAAA"}).json()["__type"] == "NotAuthorizedException"
    assert refresh({"SECRET_HASH": secret_hash(secret_client, "alice")}).status_code == 200


def test_temporary_password_gets_new_password_required_then_tokens(
    cognito: LocalCognito, public_client: AppClient, temp_user: User
) -> None:
    first = cognito_call(
        cognito,
        "InitiateAuth",
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": public_client.id,
            "AuthParameters": {"USERNAME": temp_user.username, "PASSWORD": temp_user.password},
        },
    ).json()
    assert first["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert first["ChallengeParameters"]["USERNAME"] == temp_user.username

    answer = cognito_call(
        cognito,
        "RespondToAuthChallenge",
        {
            "ClientId": public_client.id,
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": first["Session"],
            "ChallengeResponses": {
                "USERNAME": temp_user.username,
                "NEW_PASSWORD": "Brand-New-Pass-9",
            },
        },
    )

    assert answer.status_code == 200, answer.text
    assert claims_of(answer.json()["AuthenticationResult"]["IdToken"])["sub"] == temp_user.sub


def test_global_sign_out_kills_the_refresh_token(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    tokens = login(cognito, public_client, users["bob"])

    signed_out = cognito_call(cognito, "GlobalSignOut", {"AccessToken": tokens["AccessToken"]})
    refresh = cognito_call(
        cognito,
        "InitiateAuth",
        {
            "AuthFlow": "REFRESH_TOKEN_AUTH",
            "ClientId": public_client.id,
            "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]},
        },
    )

    assert signed_out.status_code == 200
    assert signed_out.json() == {}
    assert refresh.status_code == 400
    assert refresh.json()["__type"] == "NotAuthorizedException"


def test_jwks_serves_an_rs256_key_for_the_tokens_kid(
    cognito: LocalCognito, pool: Pool, public_client: AppClient, users: dict[str, User]
) -> None:
    tokens = login(cognito, public_client, users["alice"])
    header = json.loads(base64.urlsafe_b64decode(tokens["IdToken"].split(".")[0] + "=="))

    keys = httpx.get(pool.jwks_url).json()["keys"]

    assert header["alg"] == "RS256"
    assert header["kid"] in {k["kid"] for k in keys}
    assert all(k["kty"] == "RSA" and k["alg"] == "RS256" for k in keys)


# --- LocalCognito: counting and planned failures ------------------------------------


def test_calls_are_counted_by_operation_and_auth_flow(
    cognito: LocalCognito, pool: Pool, public_client: AppClient, users: dict[str, User]
) -> None:
    tokens = login(cognito, public_client, users["alice"])
    for _ in range(2):
        cognito_call(
            cognito,
            "InitiateAuth",
            {
                "AuthFlow": "REFRESH_TOKEN_AUTH",
                "ClientId": public_client.id,
                "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]},
            },
        )
    cognito_call(cognito, "GetUser", {"AccessToken": tokens["AccessToken"]})
    httpx.get(pool.jwks_url)

    assert cognito.calls["InitiateAuth"] == 3
    assert cognito.calls["InitiateAuth:USER_PASSWORD_AUTH"] == 1
    assert cognito.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 2
    assert cognito.calls["GetUser"] == 1
    assert cognito.calls["JWKS"] == 1
    assert cognito.calls["GlobalSignOut"] == 0
    assert "GlobalSignOut" not in cognito.calls

    cognito.reset_counts()

    assert cognito.calls.snapshot() == {}


def test_fail_next_answers_the_configured_error_once_then_moto_again(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    cognito.fail_next(
        "InitiateAuth", status=400, error_type="TooManyRequestsException", message="Rate exceeded"
    )
    body = {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": public_client.id,
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": users["alice"].password},
    }

    failed = cognito_call(cognito, "InitiateAuth", body)
    passed = cognito_call(cognito, "InitiateAuth", body)

    assert failed.status_code == 400
    assert failed.headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert failed.headers["content-type"] == "application/x-amz-json-1.1"
    assert failed.json() == {"__type": "TooManyRequestsException", "message": "Rate exceeded"}
    assert passed.status_code == 200
    assert cognito.calls["InitiateAuth"] == 2


def test_fail_next_for_one_auth_flow_leaves_the_other_flows_alone(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> None:
    cognito.fail_next("InitiateAuth:REFRESH_TOKEN_AUTH", times=2)
    tokens = login(cognito, public_client, users["alice"])
    refresh = {
        "AuthFlow": "REFRESH_TOKEN_AUTH",
        "ClientId": public_client.id,
        "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]},
    }

    statuses = [cognito_call(cognito, "InitiateAuth", refresh).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_fail_next_can_send_a_malformed_body(cognito: LocalCognito) -> None:
    cognito.fail_next("GetUser", status=200, error_type=None, body="{not json")

    response = cognito_call(cognito, "GetUser", {"AccessToken": "x"})

    assert response.status_code == 200
    assert response.content == b"{not json"
    assert "x-amzn-errortype" not in response.headers


def test_fail_next_rejects_bad_arguments(cognito: LocalCognito) -> None:
    with pytest.raises(ValueError, match="times"):
        cognito.fail_next("InitiateAuth", times=0)
    with pytest.raises(ValueError, match="999"):
        cognito.fail_next("InitiateAuth", status=999)


def test_clear_failures_drops_the_planned_ones(cognito: LocalCognito) -> None:
    cognito.fail_next("GetUser", status=503)
    cognito.clear_failures()

    response = cognito_call(cognito, "GetUser", {"AccessToken": "x"})

    assert response.status_code == 400  # moto's own answer to a bad token


def test_stop_closes_the_port_and_joins_its_threads() -> None:
    before = set(threading.enumerate())
    local = LocalCognito().start()
    port = int(local.url.rsplit(":", 1)[1].strip("/"))
    with httpx.Client() as client:  # a kept-open client connection must not block stop()
        assert client.get(f"{local.url}moto-api/").status_code == 200

        local.stop()
        local.stop()  # idempotent

    assert not local.running
    assert _new_server_threads(before) == []
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


# --- ProtectedApi: the API Gateway authorizer rules ---------------------------------


def test_id_token_from_moto_is_accepted_bare_or_with_bearer(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    id_token = login(cognito, public_client, users["alice"])["IdToken"]

    bare = get(api, "/profile", id_token)
    bearer = get(api, "/profile", f"Bearer {id_token}")

    assert bare.status_code == bearer.status_code == 200
    assert bare.json() == bearer.json()
    assert bare.json() | {"query": None} == {
        "path": "/profile",
        "method": "GET",
        "query": None,
        "sub": users["alice"].sub,
        "username": "alice",
        "token_use": "id",
        "client_id": public_client.id,
        "scope": None,
        "body": None,
    }
    assert [r.scheme for r in api.requests] == ["bare", "Bearer"]


def test_tokens_of_the_secret_client_are_accepted_too(
    cognito: LocalCognito, api: ProtectedApi, secret_client: AppClient, users: dict[str, User]
) -> None:
    id_token = login(cognito, secret_client, users["bob"])["IdToken"]

    assert get(api, "/pets", id_token).status_code == 200


def test_get_pets_returns_the_pets(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    id_token = login(cognito, public_client, users["alice"])["IdToken"]

    pets = get(api, "/pets", id_token)
    one = get(api, "/pets/2", id_token)
    missing = get(api, "/pets/99", id_token)

    assert pets.status_code == 200
    assert [p["type"] for p in pets.json()] == ["dog", "cat", "fish"]
    assert one.json()["type"] == "cat"
    assert missing.status_code == 404


def test_access_token_is_refused_on_a_route_without_scopes(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    access_token = login(cognito, public_client, users["alice"])["AccessToken"]

    response = get(api, "/pets", f"Bearer {access_token}")

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["content-type"] == "application/json"
    assert last_reason(api) == "route has no scopes: an ID token is required"


def test_scoped_route_wants_an_access_token_with_one_of_its_scopes(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    tokens = login(cognito, public_client, users["alice"])

    id_refused = get(api, "/admin", tokens["IdToken"])
    wrong_scope = get(api, "/admin/users", tokens["AccessToken"])
    api.require_scopes("/admin", [ADMIN_SCOPE, USER_ADMIN_SCOPE])
    accepted = get(api, "/admin/users", tokens["AccessToken"])

    assert id_refused.status_code == 401
    assert wrong_scope.status_code == 401
    assert [r.reason for r in api.requests[:2]] == [
        "route has scopes: an access token is required",
        "token has none of the route's scopes",
    ]
    assert accepted.status_code == 200
    assert accepted.json()["token_use"] == "access"
    assert accepted.json()["username"] == "alice"
    assert accepted.json()["scope"] == USER_ADMIN_SCOPE


def test_reset_restores_the_scopes_given_at_construction(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    access_token = login(cognito, public_client, users["alice"])["AccessToken"]
    api.require_scopes("/admin", [USER_ADMIN_SCOPE])
    assert get(api, "/admin", access_token).status_code == 200

    api.reset()

    assert get(api, "/admin", access_token).status_code == 401
    assert len(api.requests) == 1


def test_tampered_payload_or_signature_is_refused(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    id_token = login(cognito, public_client, users["alice"])["IdToken"]
    header, payload, signature = id_token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]

    assert get(api, "/pets", with_claims(id_token, sub="someone-else")).status_code == 401
    assert get(api, "/pets", f"{header}.{payload}.{flipped}").status_code == 401
    assert {r.reason for r in api.requests} == {"bad signature"}


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "none", "kid": "dummy"}, "alg 'none' is not RS256"),
        ({"alg": "HS256", "kid": "dummy"}, "alg 'HS256' is not RS256"),
        ({"alg": "RS256", "kid": "no-such-key"}, "unknown kid 'no-such-key'"),
        ({"alg": "RS256"}, "JWT header has no kid"),
    ],
)
def test_wrong_algorithm_or_key_id_is_refused(
    cognito: LocalCognito,
    api: ProtectedApi,
    public_client: AppClient,
    users: dict[str, User],
    header: dict[str, str],
    reason: str,
) -> None:
    _, payload, signature = login(cognito, public_client, users["alice"])["IdToken"].split(".")
    forged = f"{b64url(json.dumps(header).encode())}.{payload}.{signature}"

    assert get(api, "/pets", forged).status_code == 401
    assert last_reason(api) == reason


@pytest.mark.parametrize(
    "value", ["", "Bearer", "Bearer a.b", "not-a-jwt", "a.b.c", "Basic dXNlcjpwYXNz"]
)
def test_garbage_authorization_is_refused(api: ProtectedApi, value: str) -> None:
    assert get(api, "/pets", value).status_code == 401


def test_missing_authorization_is_refused(api: ProtectedApi) -> None:
    response = get(api, "/pets", None)

    assert response.status_code == 401
    assert response.headers["x-amzn-errortype"] == "UnauthorizedException"
    assert api.requests[-1].scheme is None
    assert last_reason(api) == "no Authorization header"


def test_expired_token_is_refused_when_the_api_clock_moves_past_exp(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    id_token = login(cognito, public_client, users["alice"])["IdToken"]
    exp = claims_of(id_token)["exp"]

    api.clock = lambda: exp - 1
    still_valid = get(api, "/pets", id_token)
    api.clock = lambda: exp
    expired = get(api, "/pets", id_token)

    assert still_valid.status_code == 200
    assert expired.status_code == 401
    assert last_reason(api) == "token expired"


def test_revoked_token_is_refused_and_a_new_one_is_not(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    first = login(cognito, public_client, users["alice"])["IdToken"]
    second = login(cognito, public_client, users["alice"])["IdToken"]

    api.revoke(f"Bearer {first}")

    assert get(api, "/pets", first).status_code == 401
    assert last_reason(api) == "token revoked"
    assert get(api, "/pets", second).status_code == 200


def test_token_of_an_unlisted_client_or_another_issuer_is_refused(
    cognito: LocalCognito, pool: Pool, api: ProtectedApi, users: dict[str, User]
) -> None:
    stranger = cognito.create_app_client(pool, "stranger")
    id_token = login(cognito, stranger, users["alice"])["IdToken"]
    other_pool = cognito.create_pool()
    other_client = cognito.create_app_client(other_pool)
    carol = cognito.create_user(other_pool, "carol", "Correct-Horse-3")
    foreign = login(cognito, other_client, carol)["IdToken"]

    assert get(api, "/pets", id_token).status_code == 401
    assert last_reason(api) == "aud is not an allowed app client"
    assert get(api, "/pets", foreign).status_code == 401
    assert (last_reason(api) or "").startswith("iss ")


def test_jwks_is_downloaded_once_and_cached(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    id_token = login(cognito, public_client, users["alice"])["IdToken"]
    get(api, "/pets", id_token)  # the session API may have fetched the keys already
    cognito.reset_counts()

    for _ in range(5):
        assert get(api, "/pets", id_token).status_code == 200

    assert cognito.calls["JWKS"] == 0


def test_json_bodies_are_echoed_for_post_put_patch_delete(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    id_token = login(cognito, public_client, users["alice"])["IdToken"]
    headers = {"Authorization": f"Bearer {id_token}"}

    with httpx.Client(base_url=api.url, headers=headers) as client:
        answers = [
            client.request(method, "/pets", params={"dry": "1"}, json={"type": "hamster"})
            for method in ("POST", "PUT", "PATCH", "DELETE")
        ]
        streamed = client.post("/upload", content=iter([b"chunk-1 ", b"chunk-2"]))

    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert [a.json()["method"] for a in answers] == ["POST", "PUT", "PATCH", "DELETE"]
    assert all(a.json()["body"] == {"type": "hamster"} for a in answers)
    assert all(a.json()["query"] == {"dry": "1"} for a in answers)
    assert streamed.json()["body"] == "chunk-1 chunk-2"  # chunked transfer encoding


def test_fifty_concurrent_requests_are_all_answered_and_logged(
    cognito: LocalCognito, api: ProtectedApi, public_client: AppClient, users: dict[str, User]
) -> None:
    id_token = login(cognito, public_client, users["alice"])["IdToken"]
    access_token = login(cognito, public_client, users["alice"])["AccessToken"]
    barrier = threading.Barrier(50)
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)

    with httpx.Client(base_url=api.url, timeout=10, limits=limits) as client:

        def call(i: int) -> int:
            token = id_token if i % 5 else access_token  # every fifth one is refused
            barrier.wait()
            response = client.post(f"/items/{i}", headers={"Authorization": token}, json={"i": i})
            if response.status_code == 200:
                assert response.json()["body"] == {"i": i}
            return response.status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=50) as executor:
            statuses = list(executor.map(call, range(50)))
        elapsed = time.perf_counter() - started

    assert statuses.count(200) == 40
    assert statuses.count(401) == 10
    assert api.count(method="POST", status=200) == 40
    assert api.count(status=401) == 10
    assert len(api.requests) == 50
    assert elapsed < 5


def test_api_stops_cleanly_with_an_open_keep_alive_connection(pool: Pool) -> None:
    before = set(threading.enumerate())
    standalone = ProtectedApi(pool.jwks_url, pool.issuer, ["nobody"]).start()
    port = int(standalone.url.rsplit(":", 1)[1])
    with httpx.Client() as client:
        assert client.get(f"{standalone.url}/pets").status_code == 401

        standalone.stop()

    assert _new_server_threads(before) == []
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


# --- keyring fixture --------------------------------------------------------------------


def test_keyring_backend_fixture_writes_only_inside_tmp_path(
    keyring_backend: PlaintextKeyring, tmp_path: Any
) -> None:
    keyring.set_password("keybearer-test", "alice", "s3cret")

    assert keyring.get_keyring() is keyring_backend
    assert keyring.get_password("keybearer-test", "alice") == "s3cret"
    assert str(keyring_backend.file_path).startswith(str(tmp_path))
