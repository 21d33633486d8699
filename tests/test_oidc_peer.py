"""The oidc-provider peer behaves like Cognito's hosted UI, proved with plain httpx.

No keybearer code is involved: these tests pin what the peer answers, so the
SDK's hosted-UI flows can be tested against it and trusted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from peers.oidc_peer import OidcPeer, OidcPeerError, PeerClient, SignInError, sign_in

# Any free port works: the clients are `application_type: native`.
REDIRECT_URI = "http://127.0.0.1:53682/callback"
API_READ = "https://api.example.test/read"
COGNITO_TOKEN_KEYS = {"access_token", "id_token", "refresh_token", "token_type", "expires_in"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def authorize_url(peer: OidcPeer, client: PeerClient, **params: str) -> str:
    query = {"client_id": client.id, "redirect_uri": REDIRECT_URI, **params}
    return str(httpx.URL(peer.authorize_url, params=query))


def unverified_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def verify(peer: OidcPeer, token: str) -> jwt.Token:
    keys = KeySet.import_key_set(httpx.get(peer.jwks_url).json())
    return jwt.decode(token, keys, algorithms=["RS256"])


def client_auth(client: PeerClient) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    """The form fields and HTTP auth a client uses at the token and revocation endpoints."""
    if client.auth_method == "client_secret_basic":
        assert client.secret is not None
        return {}, httpx.BasicAuth(client.id, client.secret)
    if client.auth_method == "client_secret_post":
        assert client.secret is not None
        return {"client_id": client.id, "client_secret": client.secret}, None
    return {"client_id": client.id}, None


def token_call(peer: OidcPeer, client: PeerClient, **form: str) -> httpx.Response:
    fields, auth = client_auth(client)
    return httpx.post(peer.token_url, data={**fields, **form}, auth=auth)


def sign_in_with_code(
    peer: OidcPeer,
    client: PeerClient,
    scope: str = "openid email",
    *,
    nonce: str | None = None,
) -> tuple[str, str]:
    """Run authorize + sign-in; return (code, code_verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "scope": scope,
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if nonce:
        params["nonce"] = nonce
    final = httpx.URL(sign_in(authorize_url(peer, client, **params), "alice", "Correct-Horse-1"))
    return final.params["code"], verifier


def tokens_for(peer: OidcPeer, client: PeerClient, scope: str = "openid email") -> dict[str, Any]:
    code, verifier = sign_in_with_code(peer, client, scope)
    response = token_call(
        peer,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def refresh(peer: OidcPeer, client: PeerClient, refresh_token: str) -> httpx.Response:
    return token_call(peer, client, grant_type="refresh_token", refresh_token=refresh_token)


def test_discovery_names_cognito_paths_and_only_s256(oidc: OidcPeer) -> None:
    document = httpx.get(oidc.discovery_url).json()

    assert document["issuer"] == oidc.issuer
    assert document["authorization_endpoint"] == f"{oidc.url}/oauth2/authorize"
    assert document["token_endpoint"] == f"{oidc.url}/oauth2/token"
    assert document["revocation_endpoint"] == f"{oidc.url}/oauth2/revoke"
    assert document["userinfo_endpoint"] == f"{oidc.url}/oauth2/userInfo"
    assert document["jwks_uri"] == f"{oidc.url}/.well-known/jwks.json"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert set(document["response_types_supported"]) == {"code", "id_token token"}
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_has_two_rs256_keys_one_for_id_tokens_one_for_access_tokens(oidc: OidcPeer) -> None:
    keys = httpx.get(oidc.jwks_url).json()["keys"]
    tokens = tokens_for(oidc, oidc.public_client, f"openid email {API_READ}")

    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")] * 2
    assert all("d" not in k for k in keys)  # public halves only
    id_kid = verify(oidc, tokens["id_token"]).header["kid"]
    access_kid = verify(oidc, tokens["access_token"]).header["kid"]
    assert {id_kid, access_kid} == {k["kid"] for k in keys}


def test_code_flow_with_pkce_for_public_client_gives_cognito_shaped_tokens(oidc: OidcPeer) -> None:
    verifier, challenge = pkce_pair()
    url = authorize_url(
        oidc,
        oidc.public_client,
        response_type="code",
        scope=f"openid email {API_READ}",
        state="state-123",
        nonce="nonce-456",
        code_challenge=challenge,
        code_challenge_method="S256",
    )

    final = httpx.URL(sign_in(url, "alice", "Correct-Horse-1"))

    assert str(final).startswith(f"{REDIRECT_URI}?")
    assert set(final.params) == {"code", "state", "iss"}
    assert final.params["state"] == "state-123"
    assert final.params["iss"] == oidc.issuer
    response = token_call(
        oidc,
        oidc.public_client,
        grant_type="authorization_code",
        code=final.params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert set(tokens) == COGNITO_TOKEN_KEYS
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 60

    id_token = verify(oidc, tokens["id_token"])
    assert id_token.header["alg"] == "RS256"
    assert id_token.claims["nonce"] == "nonce-456"
    assert id_token.claims["aud"] == oidc.public_client.id
    assert id_token.claims["iss"] == oidc.issuer
    assert id_token.claims["sub"] == oidc.user.sub
    assert id_token.claims["token_use"] == "id"
    assert id_token.claims["cognito:username"] == "alice"
    assert id_token.claims["email"] == oidc.user.email
    assert id_token.claims["email_verified"] is True
    assert id_token.claims["exp"] - id_token.claims["iat"] == 60
    assert isinstance(id_token.claims["auth_time"], int)

    access_token = verify(oidc, tokens["access_token"])
    assert access_token.claims["scope"].split() == ["openid", "email", API_READ]
    assert access_token.claims["client_id"] == oidc.public_client.id
    assert access_token.claims["token_use"] == "access"
    assert access_token.claims["username"] == "alice"
    assert access_token.claims["sub"] == oidc.user.sub
    assert access_token.claims["exp"] - access_token.claims["iat"] == 60
    # Deviation from Cognito: oidc-provider insists on an audience.
    assert access_token.claims["aud"] == oidc.api_identifier

    # Cognito refresh tokens are opaque; so are these.
    assert tokens["refresh_token"].count(".") == 0


def test_code_is_single_use_and_bound_to_the_verifier(oidc: OidcPeer) -> None:
    code, verifier = sign_in_with_code(oidc, oidc.public_client)
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}

    wrong = token_call(oidc, oidc.public_client, **exchange, code_verifier=pkce_pair()[0])
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")

    code, verifier = sign_in_with_code(oidc, oidc.public_client)
    exchange["code"] = code
    assert (
        token_call(oidc, oidc.public_client, **exchange, code_verifier=verifier).status_code == 200
    )
    again = token_call(oidc, oidc.public_client, **exchange, code_verifier=verifier)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_access_token_without_an_api_scope_is_opaque(oidc: OidcPeer) -> None:
    tokens = tokens_for(oidc, oidc.public_client, "openid email")

    assert tokens["access_token"].count(".") == 0  # deviation: Cognito's is always a JWT
    assert verify(oidc, tokens["id_token"]).claims["email"] == oidc.user.email


def test_plain_pkce_is_refused_like_cognito(oidc: OidcPeer) -> None:
    verifier = b64url(secrets.token_bytes(32))
    url = authorize_url(
        oidc,
        oidc.public_client,
        response_type="code",
        scope="openid",
        state="s",
        code_challenge=verifier,
        code_challenge_method="plain",
    )

    response = httpx.get(url)

    assert response.is_redirect
    location = httpx.URL(response.headers["location"])
    assert str(location).startswith(REDIRECT_URI)
    assert location.params["error"] == "invalid_request"
    assert location.params["state"] == "s"


def test_pkce_is_required_even_for_confidential_clients(oidc: OidcPeer) -> None:
    url = authorize_url(oidc, oidc.basic_client, response_type="code", scope="openid", state="s")

    location = httpx.URL(httpx.get(url).headers["location"])

    assert location.params["error"] == "invalid_request"
    assert "PKCE" in location.params["error_description"]


def test_refresh_without_rotation_returns_new_tokens_and_no_refresh_token(
    oidc_clean: OidcPeer,
) -> None:
    tokens = tokens_for(oidc_clean, oidc_clean.public_client, f"openid email {API_READ}")

    response = refresh(oidc_clean, oidc_clean.public_client, tokens["refresh_token"])

    assert response.status_code == 200, response.text
    refreshed = response.json()
    assert set(refreshed) == COGNITO_TOKEN_KEYS - {"refresh_token"}
    assert refreshed["access_token"] != tokens["access_token"]
    assert verify(oidc_clean, refreshed["access_token"]).claims["scope"].split() == [
        "openid",
        "email",
        API_READ,
    ]
    assert verify(oidc_clean, refreshed["id_token"]).claims["sub"] == oidc_clean.user.sub
    # The same refresh token keeps working.
    assert refresh(oidc_clean, oidc_clean.public_client, tokens["refresh_token"]).status_code == 200


def test_refresh_with_rotation_returns_a_new_refresh_token_and_retires_the_old(
    oidc_clean: OidcPeer,
) -> None:
    oidc_clean.set_rotation(True)
    tokens = tokens_for(oidc_clean, oidc_clean.public_client)

    response = refresh(oidc_clean, oidc_clean.public_client, tokens["refresh_token"])

    assert response.status_code == 200, response.text
    rotated = response.json()
    assert set(rotated) == COGNITO_TOKEN_KEYS
    assert rotated["refresh_token"] != tokens["refresh_token"]
    reused = refresh(oidc_clean, oidc_clean.public_client, tokens["refresh_token"])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    # oidc-provider treats reuse as theft and revokes the whole grant (Cognito
    # has a grace period and a RefreshTokenReuseException instead).
    after = refresh(oidc_clean, oidc_clean.public_client, rotated["refresh_token"])
    assert after.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("which", ["basic_client", "post_client"])
def test_confidential_clients_authenticate_at_the_token_endpoint(
    oidc: OidcPeer, which: str
) -> None:
    client: PeerClient = getattr(oidc, which)

    tokens = tokens_for(oidc, client, f"openid {API_READ}")

    assert verify(oidc, tokens["access_token"]).claims["client_id"] == client.id
    assert verify(oidc, tokens["id_token"]).claims["aud"] == client.id
    assert refresh(oidc, client, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize("which", ["basic_client", "post_client"])
def test_confidential_clients_with_a_wrong_secret_get_invalid_client(
    oidc: OidcPeer, which: str
) -> None:
    client: PeerClient = getattr(oidc, which)
    tokens = tokens_for(oidc, client)
    impostor = PeerClient(client.id, "not-the-secret", client.auth_method)

    response = refresh(oidc, impostor, tokens["refresh_token"])

    assert response.status_code == 401  # Cognito: 400 or 401, unconfirmed
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("which", "other_method"),
    [("basic_client", "client_secret_post"), ("post_client", "client_secret_basic")],
)
def test_a_secret_client_may_send_its_secret_either_way_like_cognito(
    oidc: OidcPeer, which: str, other_method: str
) -> None:
    client: PeerClient = getattr(oidc, which)
    tokens = tokens_for(oidc, client)

    response = refresh(
        oidc, PeerClient(client.id, client.secret, other_method), tokens["refresh_token"]
    )

    assert response.status_code == 200, response.text


def test_a_secret_client_without_its_secret_gets_invalid_client(oidc: OidcPeer) -> None:
    tokens = tokens_for(oidc, oidc.basic_client)
    as_public = PeerClient(oidc.basic_client.id, None, "none")

    response = refresh(oidc, as_public, tokens["refresh_token"])

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_revoked_refresh_token_then_refresh_is_invalid_grant(oidc: OidcPeer) -> None:
    tokens = tokens_for(oidc, oidc.public_client, f"openid email {API_READ}")

    revoked = httpx.post(
        oidc.revoke_url,
        data={"token": tokens["refresh_token"], "client_id": oidc.public_client.id},
    )

    assert (revoked.status_code, revoked.content) == (200, b"")
    response = refresh(oidc, oidc.public_client, tokens["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    # Like Cognito, the access tokens minted from it are dead too.
    userinfo = httpx.get(
        oidc.userinfo_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["www-authenticate"]


def test_revocation_by_a_confidential_client_uses_its_auth(oidc: OidcPeer) -> None:
    tokens = tokens_for(oidc, oidc.basic_client)
    fields, auth = client_auth(oidc.basic_client)

    revoked = httpx.post(
        oidc.revoke_url, data={**fields, "token": tokens["refresh_token"]}, auth=auth
    )

    assert revoked.status_code == 200
    assert refresh(oidc, oidc.basic_client, tokens["refresh_token"]).status_code == 400


def test_revoking_an_unknown_token_is_still_200(oidc: OidcPeer) -> None:
    response = httpx.post(
        oidc.revoke_url, data={"token": "no-such-token", "client_id": oidc.public_client.id}
    )

    assert response.status_code == 200


@pytest.mark.parametrize("scope", [f"openid email {API_READ}", "openid email"])
def test_userinfo_answers_for_jwt_and_opaque_access_tokens(oidc: OidcPeer, scope: str) -> None:
    tokens = tokens_for(oidc, oidc.public_client, scope)

    response = httpx.get(
        oidc.userinfo_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "sub": oidc.user.sub,
        "username": "alice",
        "email": oidc.user.email,
        "email_verified": "true",  # a string at userInfo, as Cognito documents it
    }


def test_userinfo_refuses_a_missing_or_forged_token(oidc: OidcPeer) -> None:
    tokens = tokens_for(oidc, oidc.public_client, f"openid {API_READ}")
    header, _, signature = tokens["access_token"].split(".")
    claims = unverified_claims(tokens["access_token"])
    forged_payload = b64url(json.dumps({**claims, "sub": "someone-else"}).encode())

    missing = httpx.get(oidc.userinfo_url)
    forged = httpx.get(
        oidc.userinfo_url,
        headers={"Authorization": f"Bearer {header}.{forged_payload}.{signature}"},
    )

    assert missing.status_code in (400, 401)
    assert forged.status_code == 401
    assert forged.json()["error"] == "invalid_token"


def test_expired_access_token_is_refused_at_once(oidc_clean: OidcPeer) -> None:
    oidc_clean.configure(access_token_ttl=1)
    tokens = tokens_for(oidc_clean, oidc_clean.public_client, f"openid {API_READ}")
    claims = verify(oidc_clean, tokens["access_token"]).claims
    assert tokens["expires_in"] == 1
    assert claims["exp"] - claims["iat"] == 1

    time.sleep(max(0.0, claims["exp"] - time.time()) + 0.05)  # clockTolerance is 0

    response = httpx.get(
        oidc_clean.userinfo_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 401


def test_cognito_implicit_request_gives_cognito_fragment(oidc: OidcPeer) -> None:
    url = authorize_url(
        oidc,
        oidc.public_client,
        response_type="token",
        scope=f"openid email {API_READ}",
        state="state-789",
    )

    final = sign_in(url, "alice", "Correct-Horse-1")

    before, _, fragment = final.partition("#")
    assert before == REDIRECT_URI
    pairs = list(httpx.QueryParams(fragment).multi_items())
    assert [key for key, _ in pairs] == [
        "id_token",
        "access_token",
        "token_type",
        "expires_in",
        "state",
    ]
    values = dict(pairs)
    assert values["token_type"] == "bearer"  # as Cognito's documentation shows it
    assert values["expires_in"] == "60"
    assert values["state"] == "state-789"
    assert verify(oidc, values["id_token"]).claims["aud"] == oidc.public_client.id
    access = verify(oidc, values["access_token"]).claims
    assert access["scope"].split() == ["openid", "email", API_READ]
    assert access["client_id"] == oidc.public_client.id


def test_implicit_without_openid_is_unsupported(oidc: OidcPeer) -> None:
    url = authorize_url(oidc, oidc.public_client, response_type="token", scope=API_READ, state="s")

    location = httpx.get(url).headers["location"]

    # Deviation: Cognito would return a bare access token here.
    assert "error=unsupported_response_type" in location


def test_wrong_password_shows_the_form_again_with_an_error(oidc: OidcPeer) -> None:
    _, challenge = pkce_pair()
    url = authorize_url(
        oidc,
        oidc.public_client,
        response_type="code",
        scope="openid",
        code_challenge=challenge,
        code_challenge_method="S256",
    )

    with pytest.raises(SignInError, match="Incorrect username or password") as caught:
        sign_in(url, "alice", "wrong")

    assert caught.value.response.status_code == 200
    assert '<form method="post"' in caught.value.response.text


def test_unregistered_redirect_uri_stays_on_an_error_page(oidc: OidcPeer) -> None:
    url = str(
        httpx.URL(
            oidc.authorize_url,
            params={
                "client_id": oidc.public_client.id,
                "redirect_uri": "http://127.0.0.1:53682/elsewhere",
                "response_type": "code",
                "scope": "openid",
            },
        )
    )

    with pytest.raises(SignInError, match="redirect_uri") as caught:
        sign_in(url, "alice", "Correct-Horse-1")

    assert caught.value.response.status_code == 400


def test_redirect_uri_on_localhost_any_port_is_accepted(oidc: OidcPeer) -> None:
    _, challenge = pkce_pair()
    url = str(
        httpx.URL(
            oidc.authorize_url,
            params={
                "client_id": oidc.public_client.id,
                "redirect_uri": "http://localhost:61000/callback",
                "response_type": "code",
                "scope": "openid",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
    )

    final = httpx.URL(sign_in(url, "alice", "Correct-Horse-1"))

    assert (final.host, final.port, final.path) == ("localhost", 61000, "/callback")
    assert "code" in final.params


def test_sign_in_flow_is_authorize_login_resume_redirect(oidc: OidcPeer) -> None:
    _, challenge = pkce_pair()
    url = authorize_url(
        oidc,
        oidc.public_client,
        response_type="code",
        scope="openid",
        state="s",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    with httpx.Client() as browser:
        first = browser.get(url)
        login = browser.get(httpx.URL(url).join(first.headers["location"]))
        posted = browser.post(login.url, data={"username": "alice", "password": "Correct-Horse-1"})
        resumed = browser.get(posted.headers["location"])

    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?")
    assert login.status_code == 200
    assert posted.status_code == 303
    assert posted.headers["location"].startswith(f"{oidc.url}/oauth2/authorize/")
    assert resumed.status_code == 303
    assert resumed.headers["location"].startswith(f"{REDIRECT_URI}?code=")


def test_logout_redirects_to_logout_uri_and_ends_the_hosted_ui_session(oidc: OidcPeer) -> None:
    def code_url() -> str:
        _, challenge = pkce_pair()
        return authorize_url(
            oidc,
            oidc.public_client,
            response_type="code",
            scope="openid",
            code_challenge=challenge,
            code_challenge_method="S256",
        )

    logout_uri = "http://127.0.0.1:53682/signed-out"
    with httpx.Client() as browser:
        sign_in(code_url(), "alice", "Correct-Horse-1", client=browser)
        # Signed in: the next authorize answers at once, no form.
        again = browser.get(code_url())
        assert again.headers["location"].startswith(f"{REDIRECT_URI}?code=")

        logout = browser.get(
            oidc.logout_url,
            params={"client_id": oidc.public_client.id, "logout_uri": logout_uri},
        )
        assert (logout.status_code, logout.headers["location"]) == (302, logout_uri)

        after = browser.get(code_url())
        assert after.headers["location"].startswith("/login?")


def test_prompt_login_lets_another_user_sign_in_over_a_session(oidc: OidcPeer) -> None:
    verifier, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    with httpx.Client() as browser:
        first = authorize_url(
            oidc, oidc.public_client, response_type="code", scope="openid", **pkce
        )
        sign_in(first, "alice", "Correct-Horse-1", client=browser)
        url = authorize_url(
            oidc,
            oidc.public_client,
            response_type="code",
            scope="openid email",
            prompt="login",
            **pkce,
        )
        final = httpx.URL(sign_in(url, "bob", "Battery-Staple-2", client=browser))

    response = token_call(
        oidc,
        oidc.public_client,
        grant_type="authorization_code",
        code=final.params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    claims = verify(oidc, response.json()["id_token"]).claims
    assert claims["sub"] == oidc.users["bob"].sub
    assert claims["cognito:username"] == "bob"
    assert "email" not in claims  # bob has none


def test_prompt_none_without_a_session_redirects_login_required(oidc: OidcPeer) -> None:
    _, challenge = pkce_pair()
    url = authorize_url(
        oidc,
        oidc.public_client,
        response_type="code",
        scope="openid",
        state="s",
        prompt="none",
        code_challenge=challenge,
        code_challenge_method="S256",
    )

    location = httpx.URL(httpx.get(url).headers["location"])

    assert location.params["error"] == "login_required"
    assert location.params["state"] == "s"


def test_logout_refuses_an_unregistered_logout_uri(oidc: OidcPeer) -> None:
    response = httpx.get(
        oidc.logout_url,
        params={"client_id": oidc.public_client.id, "logout_uri": "https://evil.example/"},
    )

    assert response.status_code == 400


def test_logout_does_not_revoke_tokens(oidc: OidcPeer) -> None:
    tokens = tokens_for(oidc, oidc.public_client)

    httpx.get(
        oidc.logout_url,
        params={"client_id": oidc.public_client.id, "logout_uri": "http://localhost/signed-out"},
    )

    assert refresh(oidc, oidc.public_client, tokens["refresh_token"]).status_code == 200


def test_counts_token_calls_by_grant_type(oidc_clean: OidcPeer) -> None:
    tokens = tokens_for(oidc_clean, oidc_clean.public_client)
    refresh(oidc_clean, oidc_clean.public_client, tokens["refresh_token"])
    refresh(oidc_clean, oidc_clean.public_client, "garbage")

    counts = oidc_clean.counts()

    assert counts["token"] == 3
    assert counts["token:authorization_code"] == 1
    assert counts["token:refresh_token"] == 2  # failed calls count too
    assert counts["authorize"] == 1
    oidc_clean.reset_counts()
    assert oidc_clean.counts() == {}


def test_configure_rejects_unknown_settings(oidc: OidcPeer) -> None:
    with pytest.raises(RuntimeError, match="unknown setting"):
        oidc.configure(no_such_thing=True)


def test_a_peer_that_cannot_start_says_why() -> None:
    with (
        pytest.raises(OidcPeerError, match="exited with code 1") as caught,
        OidcPeer(access_token_ttl=0),
    ):
        pass

    assert "OIDC_PEER_ACCESS_TOKEN_TTL must be a positive integer" in str(caught.value)
