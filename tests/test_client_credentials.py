"""The client-credentials grant: a service's own token, obtained on first use, renewed ahead.

Against oidc-provider (a confidential client allowed ``client_credentials``, a
resource server issuing JWT access tokens with custom scopes) and an API that
accepts only access tokens carrying the scope; Cognito's own shapes
(``GetClientToken``, its ``/oauth2/token`` errors) replayed with pytest-httpx.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pytest_httpx import HTTPXMock

import keybearer
from cognito_shapes import CLIENT, IDP, POOL, SECRET, error, fake_jwt, target
from keybearer import errors
from keybearer.testing import AppClient, LocalCognito, ProtectedApi
from peers.oidc_peer import OidcPeer, PeerClient
from redis_peer import RedisServer
from support import FakeClock, MakeClient, Person

DOMAIN = "https://myapp.auth.us-east-1.amazoncognito.com"
SCOPE = "https://api.example.com/pets.read"


def service(
    oidc: OidcPeer, clock: FakeClock, app: PeerClient | None = None, **options: Any
) -> keybearer.OAuthClient:
    app = app or oidc.service_client
    options.setdefault("store", keybearer.MemoryStore())
    return keybearer.OAuthClient.oidc(
        oidc.issuer,
        app.id,
        app.secret,
        grant="client_credentials",
        scopes=[oidc.api_scopes[0]],
        clock=clock,
        **options,
    )


def issued(oidc: OidcPeer) -> int:
    return oidc.counts().get("token:client_credentials", 0)


@pytest.fixture
def api(oidc_clean: OidcPeer) -> Iterator[ProtectedApi]:
    ids = [oidc_clean.service_client.id, oidc_clean.service_post_client.id]
    scopes = {"/pets": [oidc_clean.api_scopes[0]]}
    with ProtectedApi(oidc_clean.jwks_url, oidc_clean.issuer, ids, scopes=scopes) as protected:
        yield protected


# -- against oidc-provider --


def test_the_first_use_obtains_a_token_and_the_next_reuse_it(
    oidc_clean: OidcPeer, clock: FakeClock
) -> None:
    client = service(oidc_clean, clock)
    tokens = client.tokens
    assert tokens is not None
    assert tokens.origin == "client_credentials"
    assert tokens.refresh_token is None
    assert tokens.id_token is None
    assert tokens.access_claims["client_id"] == oidc_clean.service_client.id
    assert oidc_clean.api_scopes[0] in tokens.access_claims["scope"].split()
    assert client.valid_tokens() is tokens
    assert client.tokens is tokens
    assert issued(oidc_clean) == 1
    assert client.config.send == "access"


def test_requests_carry_the_access_token_to_a_scoped_api_method(
    oidc_clean: OidcPeer, api: ProtectedApi, clock: FakeClock
) -> None:
    client = service(oidc_clean, clock)
    with client.http(base_url=api.url) as http:
        assert [http.get("/pets").status_code for _ in range(5)] == [200] * 5
    assert [r.token_use for r in api.requests] == ["access"] * 5
    assert issued(oidc_clean) == 1


def test_a_new_token_comes_ahead_of_expiry(
    oidc_clean: OidcPeer, api: ProtectedApi, clock: FakeClock
) -> None:
    client = service(oidc_clean, clock)
    first = client.valid_tokens()
    clock.advance(20)  # 60 s tokens: renewed from their half-life on
    assert client.valid_tokens() is first
    clock.advance(15)
    second = client.valid_tokens()
    assert second.access_token != first.access_token
    assert issued(oidc_clean) == 2
    with client.http(base_url=api.url) as http:
        assert http.get("/pets").status_code == 200


def test_logout_forgets_the_token_and_the_next_use_gets_another(
    oidc_clean: OidcPeer, clock: FakeClock
) -> None:
    store = keybearer.MemoryStore()
    client = service(oidc_clean, clock, store=store)
    first = client.valid_tokens()
    assert store.load(client.config.store_key) is not None
    assert client.logout() is False  # a client-credentials token cannot be revoked
    assert store.load(client.config.store_key) is None
    assert client.valid_tokens().access_token != first.access_token
    assert issued(oidc_clean) == 2


def test_client_secret_post(oidc_clean: OidcPeer, clock: FakeClock) -> None:
    client = service(
        oidc_clean, clock, oidc_clean.service_post_client, token_auth="client_secret_post"
    )
    assert client.valid_tokens().origin == "client_credentials"
    assert issued(oidc_clean) == 1


def test_explicit_refresh_always_gets_a_new_token(oidc_clean: OidcPeer, clock: FakeClock) -> None:
    client = service(oidc_clean, clock)
    first = client.valid_tokens()
    assert client.refresh().access_token != first.access_token
    assert issued(oidc_clean) == 2


def test_threads_share_one_token_request(oidc_clean: OidcPeer, clock: FakeClock) -> None:
    store = keybearer.MemoryStore()
    clients = [service(oidc_clean, clock, store=store) for _ in range(8)]
    barrier = threading.Barrier(len(clients) * 2)
    seen: list[str] = []

    def work(client: keybearer.OAuthClient) -> None:
        barrier.wait()
        seen.append(client.valid_tokens().access_token.get_secret_value())

    threads = [threading.Thread(target=work, args=(c,)) for c in clients * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 16
    assert len(set(seen)) == 1
    assert issued(oidc_clean) == 1


async def test_tasks_share_one_token_request(
    oidc_clean: OidcPeer, api: ProtectedApi, clock: FakeClock
) -> None:
    client = service(oidc_clean, clock)
    results = await asyncio.gather(*(client.avalid_tokens() for _ in range(20)))
    assert len({id(t) for t in results}) == 1
    async with client.async_http(base_url=api.url) as http:
        statuses = await asyncio.gather(*(http.get("/pets") for _ in range(10)))
    assert [r.status_code for r in statuses] == [200] * 10
    clock.advance(40)
    renewed = await asyncio.gather(*(client.avalid_tokens() for _ in range(10)))
    assert len({id(t) for t in renewed}) == 1
    assert issued(oidc_clean) == 2


def test_a_wrong_secret_says_what_to_check(oidc_clean: OidcPeer, clock: FakeClock) -> None:
    wrong = "not-the-service-secret-0123456789abcdefghij"
    client = keybearer.OAuthClient.oidc(
        oidc_clean.issuer,
        oidc_clean.service_client.id,
        wrong,
        grant="client_credentials",
        store=keybearer.MemoryStore(),
        clock=clock,
    )
    with pytest.raises(errors.ConfigurationError, match="invalid_client") as caught:
        client.valid_tokens()
    assert "client secret" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in repr(client)


# -- configuration --


def test_configuration_defaults_and_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYBEARER_CLIENT_SECRET", raising=False)
    with pytest.raises(errors.ConfigurationError, match="KEYBEARER_CLIENT_SECRET"):
        keybearer.OAuthClient.cognito(POOL, CLIENT, grant="client_credentials")
    with pytest.raises(errors.ConfigurationError, match="'openid' is not a scope"):
        keybearer.OAuthClient.cognito(
            POOL, CLIENT, SECRET, grant="client_credentials", scopes=["openid", SCOPE]
        )
    monkeypatch.setenv("KEYBEARER_CLIENT_SECRET", SECRET)
    client = keybearer.OAuthClient.cognito(
        POOL, CLIENT, grant="client_credentials", store=keybearer.MemoryStore()
    )
    config = client.config
    assert config.client_secret is not None
    assert config.client_secret.get_secret_value() == SECRET
    assert config.send == "access"
    assert config.scopes == ()
    assert SECRET not in repr(client)
    assert SECRET not in repr(config)
    # A person's session and the service token never share a store key.
    person = keybearer.OAuthClient.cognito(POOL, CLIENT, SECRET, store=keybearer.MemoryStore())
    assert person.config.send == "id"
    assert person.config.scopes == ("openid",)
    assert person.config.store_key != config.store_key
    scoped = keybearer.OAuthClient.cognito(
        POOL, CLIENT, grant="client_credentials", scopes=[SCOPE], send="id"
    )
    assert scoped.config.store_key != config.store_key
    assert scoped.config.send == "id"


# -- Cognito's shapes, replayed --


def cognito_service(**options: Any) -> keybearer.OAuthClient:
    return keybearer.OAuthClient.cognito(
        POOL,
        CLIENT,
        SECRET,
        grant="client_credentials",
        scopes=[SCOPE, "https://api.example.com/pets.write"],
        store=keybearer.MemoryStore(),
        **options,
    )


def access_token() -> str:
    return fake_jwt({"client_id": CLIENT, "token_use": "access", "scope": SCOPE, "sub": CLIENT})


def test_cognito_get_client_token_without_a_domain(httpx_mock: HTTPXMock) -> None:
    token = access_token()
    httpx_mock.add_response(
        url=IDP,
        match_headers=target("GetClientToken"),
        json={
            "ClientAuthenticationResult": {
                "AccessToken": token,
                "ExpiresIn": 3600,
                "TokenType": "Bearer",
            }
        },
    )
    tokens = cognito_service().valid_tokens()
    assert tokens.access_token.get_secret_value() == token
    assert tokens.origin == "client_credentials"
    request = httpx_mock.get_requests()[0]
    assert request.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert json.loads(request.content) == {
        "ClientId": CLIENT,
        "Secret": SECRET,
        "Scopes": [SCOPE, "https://api.example.com/pets.write"],
    }


@pytest.mark.parametrize(
    ("error_type", "message", "hint"),
    [
        ("NotAuthorizedException", "Client secret is invalid.", "ALLOW_CLIENT_TOKEN_AUTH"),
        ("InvalidParameterException", "Invalid scope requested.", "custom scopes"),
        ("ResourceNotFoundException", "User pool client does not exist.", "app client"),
        ("MissingAuthenticationTokenException", "Missing Authentication Token", "domain="),
        ("UnrecognizedClientException", "The security token is invalid.", "domain="),
        ("OperationNotEnabledException", "Not enabled.", "domain="),
    ],
)
def test_cognito_get_client_token_errors_say_what_to_change(
    httpx_mock: HTTPXMock, error_type: str, message: str, hint: str
) -> None:
    httpx_mock.add_response(
        url=IDP,
        status_code=400,
        headers={"x-amzn-errortype": f"{error_type}:"},
        json=error(error_type, f"{message} ({SECRET})"),
    )
    with pytest.raises(errors.ConfigurationError, match=hint) as caught:
        cognito_service().valid_tokens()
    assert caught.value.code == error_type
    assert SECRET not in str(caught.value)
    assert SECRET not in (caught.value.provider_message or "")


def test_cognito_get_client_token_throttled_is_transient(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=IDP,
        status_code=400,
        json=error("TooManyRequestsException", "Rate exceeded"),
        is_reusable=True,
    )
    with pytest.raises(errors.ThrottledError):
        cognito_service().valid_tokens()


def test_cognito_get_client_token_malformed_answers(httpx_mock: HTTPXMock) -> None:
    for body in (
        {},
        {"ClientAuthenticationResult": {"ExpiresIn": 3600}},
        {"ClientAuthenticationResult": {"AccessToken": "t", "ExpiresIn": "3600"}},
        {"ClientAuthenticationResult": {"AccessToken": "t", "TokenType": "DPoP"}},
    ):
        httpx_mock.add_response(url=IDP, json=body)
        with pytest.raises(errors.ProtocolError):
            cognito_service().valid_tokens()


def test_cognito_token_endpoint_with_a_domain(httpx_mock: HTTPXMock) -> None:
    token = access_token()
    httpx_mock.add_response(
        url=f"{DOMAIN}/oauth2/token",
        json={"access_token": token, "expires_in": 3600, "token_type": "Bearer"},
    )
    tokens = cognito_service(domain=DOMAIN).valid_tokens()
    assert tokens.access_token.get_secret_value() == token
    request = httpx_mock.get_requests()[0]
    basic = base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()
    assert basic.split(":", 1)[0] == CLIENT
    form = parse_qs(request.content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "scope": [f"{SCOPE} https://api.example.com/pets.write"],
    }


def test_cognito_token_endpoint_client_secret_post(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{DOMAIN}/oauth2/token",
        json={"access_token": access_token(), "expires_in": 3600, "token_type": "Bearer"},
    )
    cognito_service(domain=DOMAIN, token_auth="client_secret_post").valid_tokens()
    request = httpx_mock.get_requests()[0]
    assert "Authorization" not in request.headers
    form = parse_qs(request.content.decode())
    assert form["client_id"] == [CLIENT]
    assert form["client_secret"] == [SECRET]


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("invalid_client", "Check the client secret"),
        ("invalid_scope", "custom scopes"),
        ("unauthorized_client", "Client credentials"),
    ],
)
def test_cognito_token_endpoint_errors_say_what_to_change(
    httpx_mock: HTTPXMock, code: str, hint: str
) -> None:
    httpx_mock.add_response(
        url=f"{DOMAIN}/oauth2/token",
        status_code=400,
        json={"error": code, "error_description": f"refused {SECRET}"},
    )
    with pytest.raises(errors.ConfigurationError, match=hint) as caught:
        cognito_service(domain=DOMAIN).valid_tokens()
    assert caught.value.code == code
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.__cause__)
    assert SECRET not in repr(caught.value.__context__)


def test_a_refresh_that_fails_keeps_the_valid_token(
    httpx_mock: HTTPXMock, clock: FakeClock
) -> None:
    httpx_mock.add_response(
        url=IDP, json={"ClientAuthenticationResult": {"AccessToken": access_token()}}
    )
    client = cognito_service(clock=clock)
    first = client.valid_tokens()
    clock.advance(3500)  # inside the renewal window, still valid
    httpx_mock.add_response(url=IDP, status_code=503, is_reusable=True)
    assert client.valid_tokens() is first
    with pytest.raises(errors.ServiceError):
        client.refresh()
    assert client.tokens is first


def test_no_login_is_needed_and_none_is_offered(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=IDP, json={"ClientAuthenticationResult": {"AccessToken": access_token()}}
    )
    client = cognito_service()
    assert client.tokens is not None
    assert httpx_mock.get_requests()[0].headers["X-Amz-Target"].endswith("GetClientToken")
    assert isinstance(client.auth, httpx.Auth)


# -- RedisStore in one process: the async path and a person's session --


async def test_tasks_through_redis_share_one_token_request(
    oidc_clean: OidcPeer, redis_clean: RedisServer, api: ProtectedApi, clock: FakeClock
) -> None:
    store = keybearer.RedisStore(url=redis_clean.url, prefix="async:")
    client = service(oidc_clean, clock, store=store)
    results = await asyncio.gather(*(client.avalid_tokens() for _ in range(20)))
    assert len({id(t) for t in results}) == 1
    clock.advance(40)
    async with client.async_http(base_url=api.url) as http:
        statuses = await asyncio.gather(*(http.get("/pets") for _ in range(10)))
    assert [r.status_code for r in statuses] == [200] * 10
    assert issued(oidc_clean) == 2
    # What Redis holds is the current token, sealed.
    stored = store.sealed_with(oidc_clean.service_client.secret).load(client.config.store_key)
    assert stored is not None
    assert client.tokens is not None
    assert client.tokens.access_token.get_secret_value() in stored
    with redis_clean.client() as raw:
        at_rest = raw.get("async:" + client.config.store_key)
    assert at_rest is not None
    assert client.tokens.access_token.get_secret_value().encode() not in at_rest
    # The lock is not left behind.
    with redis_clean.client() as raw:
        assert raw.get("async:" + client.config.store_key + ":lock") is None


def test_a_person_s_session_in_redis(
    make_client: MakeClient,
    secret_client: AppClient,
    person: Person,
    redis_clean: RedisServer,
    clock: FakeClock,
    cognito: LocalCognito,
) -> None:
    """RedisStore is a store like the others: a backend acting for one user uses it too."""
    store = keybearer.RedisStore(url=redis_clean.url, prefix="person:")
    client = make_client(secret_client, store=store)
    first = client.login_password(person.username, person.password)
    assert isinstance(first, keybearer.TokenSet)
    cognito.reset_counts()
    clock.advance(3600)
    renewed = client.valid_tokens()
    assert renewed.access_token != first.access_token
    assert renewed.refresh_token == first.refresh_token
    assert cognito.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 1
    client.logout()
    with redis_clean.client() as raw:
        assert raw.keys("person:*") == []
