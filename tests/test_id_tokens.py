"""The tokens a sign-in, a refresh or a pasted redirect brings are checked before use.

Replays of Cognito's documented answers (pytest-httpx: no peer can be made to
answer with a forged or mismatched token), signed by a test key whose JWKS is
served at the pool's JWKS URL. Issue 11: #5 (refreshed tokens), #12
(``at_hash``) and the unsolicited implicit redirect.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pytest_httpx import HTTPXMock

import keybearer
from cognito_shapes import CLIENT, IDP, ISSUER, POOL, SigningKey, target
from keybearer import errors
from support import FakeClock

DOMAIN = "https://myapp.auth.us-east-1.amazoncognito.com"
TOKEN_URL = f"{DOMAIN}/oauth2/token"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
REDIRECT = "http://localhost:8765/callback"
SUB = "7d8ca528-4931-4254-9273-ea5ee853f271"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def id_token(key: SigningKey, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": SUB,
        "token_use": "id",
        "cognito:username": SUB,
        "iat": now,
        "exp": now + 3600,
    }
    body.update(claims)
    return key.sign({name: value for name, value in body.items() if value is not None})


def access_token(key: SigningKey, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "client_id": CLIENT,
        "sub": SUB,
        "token_use": "access",
        "username": SUB,
        "scope": "openid",
        "iat": now,
        "exp": now + 3600,
    }
    body.update(claims)
    return key.sign({name: value for name, value in body.items() if value is not None})


def unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'kid': 'test-key-1'})}.{part(claims)}."


def hosted_ui(clock: FakeClock) -> keybearer.OAuthClient:
    return keybearer.OAuthClient.cognito(
        POOL,
        CLIENT,
        domain="myapp.auth.us-east-1.amazoncognito.com",
        redirect_uri=REDIRECT,
        store=keybearer.MemoryStore(),
        clock=clock,
    )


def nonce_of(url: str) -> tuple[str, str]:
    params = parse_qs(httpx.URL(url).query.decode())
    return params["state"][0], params["nonce"][0]


def code_sign_in(
    httpx_mock: HTTPXMock, key: SigningKey, client: keybearer.OAuthClient, **id_claims: Any
) -> keybearer.TokenSet:
    state, nonce = nonce_of(client.authorization_url())
    access = access_token(key)
    answer = {
        "access_token": access,
        "id_token": id_token(key, nonce=nonce, **id_claims),
        "refresh_token": "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.opaque.refresh",
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    httpx_mock.add_response(url=TOKEN_URL, json=answer)
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks(), is_optional=True)
    return client.complete_login(f"{REDIRECT}?code=c&state={state}")


# -- at_hash (issue 11 #12) ---------------------------------------------------------------


def test_an_id_token_whose_at_hash_binds_its_access_token_is_accepted(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = hosted_ui(clock)
    state, nonce = nonce_of(client.authorization_url())
    access = access_token(key)
    answer = {
        "access_token": access,
        "id_token": id_token(key, nonce=nonce, at_hash=at_hash(access)),
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    httpx_mock.add_response(url=TOKEN_URL, json=answer)
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())

    tokens = client.complete_login(f"{REDIRECT}?code=c&state={state}")

    assert tokens.access_token.get_secret_value() == access


def test_an_access_token_the_id_tokens_at_hash_does_not_bind_is_refused(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = hosted_ui(clock)
    state, nonce = nonce_of(client.authorization_url())
    swapped = access_token(key, scope="openid admin")
    answer = {
        "access_token": swapped,
        "id_token": id_token(key, nonce=nonce, at_hash=at_hash(access_token(key))),
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    httpx_mock.add_response(url=TOKEN_URL, json=answer)
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())

    with pytest.raises(errors.TokenInvalidError) as caught:
        client.complete_login(f"{REDIRECT}?code=c&state={state}")

    assert caught.value.claim == "at_hash"
    assert swapped.split(".")[2] not in str(caught.value)
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None
    assert client.tokens is None


# -- refreshed tokens (issue 11 #5, OIDC Core 12.2) ----------------------------------------


def refresh_answer(key: SigningKey, **id_claims: Any) -> dict[str, Any]:
    return {
        "access_token": access_token(key),
        "id_token": id_claims.pop("raw", None) or id_token(key, **id_claims),
        "token_type": "Bearer",
        "expires_in": 3600,
    }


@pytest.mark.parametrize(
    ("change", "error", "claim"),
    [
        ({"sub": "someone-else"}, errors.TokenInvalidError, "sub"),
        ({"aud": "another-client"}, errors.WrongAudienceError, "aud"),
        ({"iss": "https://evil.example.com"}, errors.WrongIssuerError, "iss"),
        (
            {"iat": int(time.time()) - 400 * 86400, "exp": int(time.time()) - 365 * 86400},
            errors.TokenExpiredError,
            "exp",
        ),
        ({"token_use": "access"}, errors.WrongTokenUseError, "token_use"),
    ],
    ids=["other-user", "other-audience", "other-issuer", "expired-a-year-ago", "access-as-id"],
)
def test_a_refreshed_id_token_that_fails_the_checks_keeps_the_stored_tokens(
    httpx_mock: HTTPXMock,
    key: SigningKey,
    clock: FakeClock,
    change: dict[str, Any],
    error: type[errors.TokenInvalidError],
    claim: str,
) -> None:
    client = hosted_ui(clock)
    before = code_sign_in(httpx_mock, key, client)
    httpx_mock.add_response(url=TOKEN_URL, json=refresh_answer(key, **change))

    with pytest.raises(error) as caught:
        client.refresh()

    assert type(caught.value) is error
    assert caught.value.claim == claim
    assert caught.value.__context__ is None
    assert client.tokens is before
    assert client.tokens.username == before.username


def test_a_refreshed_id_token_with_alg_none_or_another_key_is_refused(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = hosted_ui(clock)
    before = code_sign_in(httpx_mock, key, client)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": SUB, "token_use": "id", "iat": now}
    claims["exp"] = now + 3600
    forged = SigningKey(kid=key.kid).sign(claims)
    httpx_mock.add_response(url=TOKEN_URL, json=refresh_answer(key, raw=unsigned(claims)))
    httpx_mock.add_response(url=TOKEN_URL, json=refresh_answer(key, raw=forged))

    with pytest.raises(errors.UnsupportedAlgorithmError):
        client.refresh()
    with pytest.raises(errors.BadSignatureError):
        client.refresh()
    assert client.tokens is before


def test_a_good_refreshed_id_token_replaces_the_stored_one(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = hosted_ui(clock)
    before = code_sign_in(httpx_mock, key, client)
    answer = refresh_answer(key, iat=int(time.time()) + 1)
    httpx_mock.add_response(url=TOKEN_URL, json=answer)

    after = client.refresh()

    assert after.id_token is not None
    assert before.id_token is not None
    assert after.id_token.get_secret_value() == answer["id_token"]
    assert after.sub == before.sub


def cognito_api_client(httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock) -> Any:
    client = keybearer.OAuthClient.cognito(POOL, CLIENT, store=keybearer.MemoryStore(), clock=clock)
    result = {
        "AccessToken": access_token(key),
        "IdToken": id_token(key),
        "RefreshToken": "opaque-refresh-token-" + "r" * 40,
        "ExpiresIn": 3600,
        "TokenType": "Bearer",
    }
    httpx_mock.add_response(
        url=IDP,
        match_headers=target("InitiateAuth"),
        json={"AuthenticationResult": result, "ChallengeParameters": {}},
    )
    client.login_password(SUB, "Correct-Horse-1")
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks(), is_optional=True)
    return client


@pytest.mark.parametrize(
    ("access_change", "id_change", "error", "claim"),
    [
        ({"client_id": "another-client"}, {}, errors.WrongAudienceError, "client_id"),
        ({"sub": "someone-else"}, {}, errors.TokenInvalidError, "sub"),
        ({"token_use": "id"}, {}, errors.WrongTokenUseError, "token_use"),
        ({}, {"sub": "someone-else"}, errors.TokenInvalidError, "sub"),
        ({}, {"aud": "another-client"}, errors.WrongAudienceError, "aud"),
    ],
)
def test_cognito_api_refresh_checks_both_tokens_and_keeps_the_stored_ones(
    httpx_mock: HTTPXMock,
    key: SigningKey,
    clock: FakeClock,
    access_change: dict[str, Any],
    id_change: dict[str, Any],
    error: type[errors.TokenInvalidError],
    claim: str,
) -> None:
    client = cognito_api_client(httpx_mock, key, clock)
    before = client.tokens
    result = {
        "AccessToken": access_token(key, **access_change),
        "IdToken": id_token(key, **id_change),
        "ExpiresIn": 3600,
        "TokenType": "Bearer",
    }
    httpx_mock.add_response(
        url=IDP,
        match_headers=target("InitiateAuth"),
        json={"AuthenticationResult": result, "ChallengeParameters": {}},
    )

    with pytest.raises(error) as caught:
        client.refresh()

    assert type(caught.value) is error
    assert caught.value.claim == claim
    assert client.tokens is before


def test_cognito_api_refresh_with_good_tokens_is_stored(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = cognito_api_client(httpx_mock, key, clock)
    result = {
        "AccessToken": access_token(key, jti="new"),
        "IdToken": id_token(key, jti="new"),
        "ExpiresIn": 3600,
        "TokenType": "Bearer",
    }
    httpx_mock.add_response(
        url=IDP,
        match_headers=target("InitiateAuth"),
        json={"AuthenticationResult": result, "ChallengeParameters": {}},
    )

    after = client.refresh()

    assert after.access_token.get_secret_value() == result["AccessToken"]


async def test_async_refresh_runs_the_same_checks(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = hosted_ui(clock)
    before = code_sign_in(httpx_mock, key, client)
    httpx_mock.add_response(url=TOKEN_URL, json=refresh_answer(key, sub="someone-else"))

    with pytest.raises(errors.TokenInvalidError) as caught:
        await client.arefresh()

    assert caught.value.claim == "sub"
    assert client.tokens is before


# -- the unsolicited implicit redirect (issue 11, "The seed's implicit redirect") ----------


def fragment(**values: str) -> str:
    values.setdefault("token_type", "Bearer")
    values.setdefault("expires_in", "3600")
    return f"https://www.example.com/#{'&'.join(f'{k}={v}' for k, v in values.items())}"


def test_an_unsolicited_redirect_is_refused_by_default(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    client = hosted_ui(clock)
    url = fragment(id_token=id_token(key), access_token=access_token(key))

    with pytest.raises(errors.StateMismatchError):
        client.parse_implicit(url)
    assert client.tokens is None


def test_an_unsolicited_redirect_with_good_tokens_is_accepted_when_asked(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())
    client = hosted_ui(clock)
    access = access_token(key)
    url = fragment(id_token=id_token(key, at_hash=at_hash(access)), access_token=access)

    tokens = client.parse_implicit(url, unsolicited=True)

    assert tokens.origin == "implicit"
    assert client.tokens is not None
    assert client.tokens.sub == SUB


@pytest.mark.parametrize(
    ("id_change", "access_change", "error"),
    [
        ({"aud": "another-client"}, {}, errors.WrongAudienceError),
        ({"iss": "https://evil.example.com"}, {}, errors.WrongIssuerError),
        ({"exp": int(time.time()) - 3600}, {}, errors.TokenExpiredError),
        ({"token_use": "access"}, {}, errors.WrongTokenUseError),
        ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, {}, errors.TokenInvalidError),
        ({}, {"client_id": "another-client"}, errors.WrongAudienceError),
        ({}, {"sub": "someone-else"}, errors.TokenInvalidError),
    ],
)
def test_an_unsolicited_redirect_with_a_bad_token_is_refused(
    httpx_mock: HTTPXMock,
    key: SigningKey,
    clock: FakeClock,
    id_change: dict[str, Any],
    access_change: dict[str, Any],
    error: type[errors.TokenInvalidError],
) -> None:
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())
    client = hosted_ui(clock)
    url = fragment(
        id_token=id_token(key, **id_change), access_token=access_token(key, **access_change)
    )

    with pytest.raises(error):
        client.parse_implicit(url, unsolicited=True)
    assert client.tokens is None


def test_an_unsolicited_redirect_with_only_an_access_token_checks_it(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())
    client = hosted_ui(clock)

    tokens = client.parse_implicit(fragment(access_token=access_token(key)), unsolicited=True)
    assert tokens.sub == SUB
    with pytest.raises(errors.WrongTokenUseError):
        client.parse_implicit(fragment(access_token=id_token(key)), unsolicited=True)
    forged = SigningKey(kid=key.kid).sign({"iss": ISSUER, "client_id": CLIENT, "exp": 2**31})
    with pytest.raises(errors.BadSignatureError):
        client.parse_implicit(fragment(access_token=forged), unsolicited=True)


async def test_async_unsolicited_redirect_is_checked_the_same_way(
    httpx_mock: HTTPXMock, key: SigningKey, clock: FakeClock
) -> None:
    httpx_mock.add_response(url=JWKS_URL, json=key.jwks())
    client = hosted_ui(clock)

    with pytest.raises(errors.WrongAudienceError):
        await client.aparse_implicit(
            fragment(id_token=id_token(key, aud="x"), access_token=access_token(key)),
            unsolicited=True,
        )
    tokens = await client.aparse_implicit(
        fragment(id_token=id_token(key), access_token=access_token(key)), unsolicited=True
    )
    assert tokens.origin == "implicit"


# -- lazy loading (issue 10) ------------------------------------------------------------


def test_a_request_with_a_fresh_cached_token_loads_neither_authlib_nor_joserfc() -> None:
    code = f"""
import sys, time
import httpx, keybearer
store = keybearer.MemoryStore()
client = keybearer.OAuthClient.cognito({POOL!r}, {CLIENT!r}, store=store,
                                        api_hosts=["api.example.test"])
tokens = keybearer.TokenSet(access_token="eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
                            id_token="eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
                            refresh_token="opaque", expires_at=time.time() + 3600,
                            obtained_at=time.time(), username="alice")
store.save(client.config.store_key, tokens.to_json())
with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)),
                  auth=client.auth) as http:
    assert http.get("https://api.example.test/pets").status_code == 200
import keybearer.verify
heavy = {{"authlib", "joserfc", "cryptography"}}
print(sorted({{name.split(".")[0] for name in sys.modules}} & heavy))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert out.strip() == "[]"
