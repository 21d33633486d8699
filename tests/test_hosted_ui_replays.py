"""Cognito's hosted-UI answers that the OIDC peer does not give, replayed.

Shapes from Cognito's documentation of /oauth2/token, /oauth2/revoke and the
redirect formats (see the project's protocol notes).
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pytest_httpx import HTTPXMock

import keybearer
from cognito_shapes import CLIENT, ISSUER, POOL, SigningKey
from keybearer import errors
from support import FakeClock

DOMAIN = "https://myapp.auth.us-east-1.amazoncognito.com"
TOKEN_URL = f"{DOMAIN}/oauth2/token"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
REDIRECT = "http://localhost:8765/callback"
SECRET = "abc+def/ghi=jkl0123456789"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


def client_for(clock: FakeClock, **options: Any) -> keybearer.OAuthClient:
    values: dict[str, Any] = {
        "domain": "myapp.auth.us-east-1.amazoncognito.com",
        "redirect_uri": REDIRECT,
        "store": keybearer.MemoryStore(),
        "clock": clock,
    }
    values.update(options)
    return keybearer.OAuthClient.cognito(POOL, CLIENT, **values)


def id_token(key: SigningKey, nonce: str | None, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "7d8ca528-4931-4254-9273-ea5ee853f271",
        "token_use": "id",
        "cognito:username": "7d8ca528-4931-4254-9273-ea5ee853f271",
        "iat": now,
        "exp": now + 3600,
    }
    if nonce is not None:
        body["nonce"] = nonce
    body.update(claims)
    return key.sign(body)


def state_and_nonce(url: str) -> tuple[str, str]:
    params = parse_qs(httpx.URL(url).query.decode())
    return params["state"][0], params["nonce"][0]


def token_answer(key: SigningKey, nonce: str | None, **extra: Any) -> dict[str, Any]:
    answer = {
        "access_token": "eyJraWQiOiJhY2Nlc3MifQ.e30.sig",
        "id_token": id_token(key, nonce),
        "refresh_token": "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.opaque.refresh",
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    answer.update(extra)
    return answer


def test_authorization_url_has_pkce_s256_state_nonce_and_federation(clock: FakeClock) -> None:
    client = client_for(clock, scopes=["openid", "https://api.example.com/pets.read"])

    url = httpx.URL(client.authorization_url(identity_provider="Google"))
    again = httpx.URL(client.authorization_url())

    assert str(url).startswith(f"{DOMAIN}/oauth2/authorize?")
    params = url.params
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["scope"] == "openid https://api.example.com/pets.read"
    assert params["identity_provider"] == "Google"
    assert params["redirect_uri"] == REDIRECT
    # Every attempt gets fresh secrets.
    assert again.params["state"] != params["state"]
    assert again.params["nonce"] != params["nonce"]
    assert again.params["code_challenge"] != params["code_challenge"]


def test_code_exchange_sends_the_verifier_and_basic_auth(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = client_for(clock, client_secret=SECRET)
    url = client.authorization_url()
    state, nonce = state_and_nonce(url)
    httpx_mock.add_response(url=TOKEN_URL, json=token_answer(key, nonce))
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())

    tokens = client.complete_login(f"{REDIRECT}?code=the-code&state={state}")

    exchange = httpx_mock.get_requests(url=TOKEN_URL)[0]
    form = parse_qs(exchange.content.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["the-code"]
    assert form["redirect_uri"] == [REDIRECT]
    assert len(form["code_verifier"][0]) >= 43
    assert "client_secret" not in form
    expected = base64.b64encode(f"{CLIENT}:abc%2Bdef%2Fghi%3Djkl0123456789".encode()).decode()
    assert exchange.headers["Authorization"] == f"Basic {expected}"
    assert tokens.origin == "hosted_ui"


def test_client_secret_post_sends_the_secret_in_the_form(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = client_for(clock, client_secret=SECRET, token_auth="client_secret_post")
    state, nonce = state_and_nonce(client.authorization_url())
    httpx_mock.add_response(url=TOKEN_URL, json=token_answer(key, nonce))
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())

    client.complete_login(f"{REDIRECT}?code=c&state={state}")

    exchange = httpx_mock.get_requests(url=TOKEN_URL)[0]
    form = parse_qs(exchange.content.decode())
    assert form["client_id"] == [CLIENT]
    assert form["client_secret"] == [SECRET]
    assert "Authorization" not in exchange.headers


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"nonce": "someone-elses-nonce"}, errors.NonceMismatchError),
        ({"aud": "another-client"}, errors.WrongAudienceError),
        ({"iss": "https://evil.example.com"}, errors.WrongIssuerError),
        ({"token_use": "access"}, errors.WrongTokenUseError),
        ({"exp": int(time.time()) - 3600}, errors.TokenExpiredError),
    ],
)
def test_a_bad_id_token_is_refused_and_nothing_is_stored(
    httpx_mock: HTTPXMock,
    key: SigningKey,
    clock: FakeClock,
    claims: dict[str, Any],
    expected: type[Exception],
) -> None:
    client = client_for(clock)
    state, nonce = state_and_nonce(client.authorization_url())
    answer = token_answer(key, nonce)
    answer["id_token"] = id_token(key, claims.pop("nonce", nonce), **claims)
    httpx_mock.add_response(url=TOKEN_URL, json=answer)
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())

    with pytest.raises(expected):
        client.complete_login(f"{REDIRECT}?code=c&state={state}")

    assert client.tokens is None


def test_an_id_token_signed_by_another_key_is_refused(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = client_for(clock)
    state, nonce = state_and_nonce(client.authorization_url())
    forger = SigningKey(kid=key.kid)
    httpx_mock.add_response(url=TOKEN_URL, json=token_answer(forger, nonce))
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())

    with pytest.raises(errors.BadSignatureError):
        client.complete_login(f"{REDIRECT}?code=c&state={state}")
    assert client.tokens is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"error": "invalid_grant"}, errors.LoginError),
        (400, {"error": "invalid_client"}, errors.ConfigurationError),
        (401, {"error": "invalid_client"}, errors.ConfigurationError),
        (400, {"error": "unauthorized_client"}, errors.LoginError),
        (400, {"error": "weird_new_error"}, errors.ProviderError),
        (500, {"error": "server_error"}, errors.ServiceError),
        (429, {}, errors.ThrottledError),
        (200, {"token_type": "Bearer"}, errors.ProtocolError),
        (200, {"access_token": "a", "token_type": "mac"}, errors.ProtocolError),
    ],
)
def test_token_endpoint_errors_are_typed(
    httpx_mock: HTTPXMock,
    clock: FakeClock,
    status: int,
    body: dict[str, Any],
    expected: type[Exception],
) -> None:
    client = client_for(clock)
    state, _ = state_and_nonce(client.authorization_url())
    # Reusable: a throttled (429) call is sent again before it fails.
    httpx_mock.add_response(url=TOKEN_URL, status_code=status, json=body, is_reusable=True)

    with pytest.raises(expected):
        client.complete_login(f"{REDIRECT}?code=c&state={state}")
    assert client.tokens is None


def signed_in(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock, **options: Any
) -> keybearer.OAuthClient:
    client = client_for(clock, **options)
    state, nonce = state_and_nonce(client.authorization_url())
    httpx_mock.add_response(url=TOKEN_URL, json=token_answer(key, nonce))
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())
    client.complete_login(f"{REDIRECT}?code=c&state={state}")
    return client


def test_refresh_without_a_new_refresh_token_keeps_the_old_one(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = signed_in(httpx_mock, key, clock)
    before = client.tokens
    assert before is not None
    answer = token_answer(key, None, access_token="new.access.token")
    del answer["refresh_token"]
    httpx_mock.add_response(url=TOKEN_URL, json=answer)

    after = client.refresh()

    form = parse_qs(httpx_mock.get_requests(url=TOKEN_URL)[-1].content.decode())
    assert form["grant_type"] == ["refresh_token"]
    assert after.refresh_token == before.refresh_token
    assert after.access_token.get_secret_value() == "new.access.token"


def test_refresh_with_invalid_grant_asks_for_login_and_keeps_the_tokens(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = signed_in(httpx_mock, key, clock)
    before = client.tokens
    httpx_mock.add_response(url=TOKEN_URL, status_code=400, json={"error": "invalid_grant"})

    with pytest.raises(errors.LoginRequiredError):
        client.refresh()
    kept = client.tokens
    assert kept is not None
    assert before is not None
    # The same tokens, kept (never wiped), marked as a session that has ended.
    assert kept.ended
    assert kept.to_json() == before.model_copy(update={"ended": True}).to_json()


def test_logout_revokes_at_the_revocation_endpoint(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = signed_in(httpx_mock, key, clock, client_secret=SECRET)
    httpx_mock.add_response(url=f"{DOMAIN}/oauth2/revoke", text="")

    assert client.logout() is True

    revoke = httpx_mock.get_requests(url=f"{DOMAIN}/oauth2/revoke")[0]
    form = parse_qs(revoke.content.decode())
    assert form["token"][0].startswith("eyJjdHkiOiJKV1Qi")
    assert revoke.headers["Authorization"].startswith("Basic ")
    assert client.tokens is None


def test_cognitos_lowercase_bearer_fragment_is_accepted(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = client_for(clock)
    state, nonce = state_and_nonce(client.authorization_url(response_type="token"))
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())
    fragment = (
        f"id_token={id_token(key, nonce)}&access_token=eyJ.e30.x&token_type=bearer"
        f"&expires_in=3600&state={state}"
    )

    tokens = client.parse_implicit(f"{REDIRECT}#{fragment}")

    assert tokens.origin == "implicit"
    assert tokens.expires_in(clock()) == pytest.approx(3600)


# -- what a person can paste --


@pytest.mark.parametrize(
    "pasted",
    [
        "",
        "   ",
        "hello",
        "http://localhost:8765/callback",
        "http://localhost:8765/callback?state=x",
        "http://localhost:8765/callback?code=a&code=b&state=s",
        "http://localhost:8765/callback#access_token=a&expires_in=soon",
        "http://localhost:8765/callback#access_token=a&expires_in=-5",
        "http://[::1:8765/callback?code=x",
        "x" * 70_000,
        "http://localhost/\x00?code=x",
    ],
)
def test_garbage_paste_is_a_clear_typed_error(clock: FakeClock, pasted: str) -> None:
    client = client_for(clock)
    client.authorization_url()

    with pytest.raises(errors.ProtocolError) as caught:
        client.complete_login(pasted)

    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize(
    "pasted",
    [
        f"{REDIRECT}?error=access_denied&error_description=User+cancelled+the+sign-in&state=s",
        f"{REDIRECT}#error=access_denied&error_description=User%20cancelled%20the%20sign-in",
    ],
)
def test_error_redirects_carry_the_providers_description(clock: FakeClock, pasted: str) -> None:
    client = client_for(clock)

    with pytest.raises(errors.LoginError) as caught:
        client.complete_login(pasted)

    assert caught.value.code == "access_denied"
    assert caught.value.provider_message == "User cancelled the sign-in"


def test_a_code_redirect_with_a_tampered_state_exchanges_nothing(
    httpx_mock: HTTPXMock, clock: FakeClock
) -> None:
    client = client_for(clock)
    client.authorization_url()

    with pytest.raises(errors.StateMismatchError):
        client.complete_login(f"{REDIRECT}?code=c&state=tampered")
    assert httpx_mock.get_requests() == []


def test_browser_sign_in_without_a_domain_explains_what_is_missing(clock: FakeClock) -> None:
    client = keybearer.OAuthClient.cognito(
        POOL, CLIENT, redirect_uri=REDIRECT, store=keybearer.MemoryStore()
    )

    with pytest.raises(errors.ConfigurationError, match="domain="):
        client.authorization_url()


def test_a_code_sign_in_refuses_tokens_in_a_fragment(clock: FakeClock) -> None:
    # Tokens slipped into a PKCE sign-in's redirect would skip the PKCE binding.
    client = client_for(clock)
    state, _ = state_and_nonce(client.authorization_url())

    with pytest.raises(errors.StateMismatchError, match="code"):
        client.complete_login(f"{REDIRECT}#access_token=eyJ.e30.x&token_type=bearer&state={state}")
    assert client.tokens is None
