"""Client credentials against LocalCognito: GetClientToken and /oauth2/token, custom scopes.

The API method accepts only access tokens carrying its scope, as API Gateway
does for a method with OAuth scopes; so the scope and ``send="access"`` are
proven end to end, through both of Cognito's routes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import keybearer
from keybearer import errors
from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi
from support import FakeClock

SERVER = "https://api.example.test/m2m"


@pytest.fixture(scope="module")
def scopes(cognito: LocalCognito, pool: Pool) -> list[str]:
    return cognito.create_resource_server(pool, SERVER, ["pets.read", "pets.write"])


@pytest.fixture(scope="module")
def service_client(cognito: LocalCognito, pool: Pool, scopes: list[str]) -> AppClient:
    return cognito.create_app_client(
        pool,
        f"service-{uuid.uuid4().hex[:6]}",
        secret=True,
        flows=("ALLOW_CLIENT_TOKEN_AUTH",),
        oauth_flows=("client_credentials",),
        scopes=[scopes[0]],  # pets.read only
    )


@pytest.fixture
def scoped_api(pool: Pool, service_client: AppClient, scopes: list[str]) -> Iterator[ProtectedApi]:
    with ProtectedApi(pool.jwks_url, pool.issuer, [service_client.id]) as api:
        api.require_scopes("/pets", [scopes[0]])
        api.require_scopes("/admin", [scopes[1]])
        yield api


def make(
    cognito: LocalCognito,
    pool: Pool,
    app: AppClient,
    clock: FakeClock,
    *,
    domain: bool,
    **options: Any,
) -> keybearer.OAuthClient:
    options.setdefault("scopes", [f"{SERVER}/pets.read"])
    return keybearer.OAuthClient.cognito(
        pool.id,
        app.id,
        app.secret,
        grant="client_credentials",
        idp_url=cognito.url,
        domain=cognito.domain_url if domain else None,
        store=keybearer.MemoryStore(),
        clock=clock,
        **options,
    )


@pytest.mark.parametrize("domain", [False, True], ids=["GetClientToken", "oauth2-token"])
def test_a_service_calls_a_scoped_method(
    cognito: LocalCognito,
    pool: Pool,
    service_client: AppClient,
    scoped_api: ProtectedApi,
    clock: FakeClock,
    domain: bool,
) -> None:
    client = make(cognito, pool, service_client, clock, domain=domain)
    route = "oauth2/token" if domain else "GetClientToken"
    with client.http(base_url=scoped_api.url) as http:
        assert [http.get("/pets").status_code for _ in range(3)] == [200] * 3
        assert cognito.calls[route] == 1
        # A scope the app client is not allowed is not in the token (nor in the
        # one the 401 makes keybearer ask for, once).
        assert http.get("/admin").status_code == 401
    tokens = client.tokens
    assert tokens is not None
    assert tokens.origin == "client_credentials"
    assert tokens.access_claims["token_use"] == "access"
    assert tokens.access_claims["client_id"] == service_client.id
    assert tokens.access_claims["scope"].split() == [f"{SERVER}/pets.read"]
    cognito.reset_counts()
    clock.advance(3600)
    with client.http(base_url=scoped_api.url) as http:
        assert http.get("/pets").status_code == 200
    assert cognito.calls[route] == 1


@pytest.mark.parametrize("domain", [False, True], ids=["GetClientToken", "oauth2-token"])
def test_no_scopes_asked_means_every_allowed_scope(
    cognito: LocalCognito,
    pool: Pool,
    service_client: AppClient,
    clock: FakeClock,
    domain: bool,
) -> None:
    client = make(cognito, pool, service_client, clock, domain=domain, scopes=None)
    assert client.valid_tokens().access_claims["scope"].split() == [f"{SERVER}/pets.read"]


@pytest.mark.parametrize("domain", [False, True], ids=["GetClientToken", "oauth2-token"])
def test_a_scope_not_allowed_says_so(
    cognito: LocalCognito,
    pool: Pool,
    service_client: AppClient,
    clock: FakeClock,
    domain: bool,
) -> None:
    client = make(
        cognito, pool, service_client, clock, domain=domain, scopes=[f"{SERVER}/pets.write"]
    )
    with pytest.raises(errors.ConfigurationError, match="custom scopes") as caught:
        client.valid_tokens()
    assert f"{SERVER}/pets.write" in str(caught.value)


@pytest.mark.parametrize("domain", [False, True], ids=["GetClientToken", "oauth2-token"])
def test_a_wrong_secret_says_so_without_showing_it(
    cognito: LocalCognito,
    pool: Pool,
    service_client: AppClient,
    clock: FakeClock,
    domain: bool,
) -> None:
    wrong = AppClient(
        id=service_client.id,
        secret="wrong-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        name=service_client.name,
        pool_id=pool.id,
    )
    client = make(cognito, pool, wrong, clock, domain=domain)
    with pytest.raises(errors.ConfigurationError, match="secret") as caught:
        client.valid_tokens()
    assert "wrong-secret" not in str(caught.value)
    assert service_client.secret not in str(caught.value)


def test_an_app_client_without_the_grant(
    cognito: LocalCognito, pool: Pool, secret_client: AppClient, clock: FakeClock
) -> None:
    for domain in (False, True):
        client = make(cognito, pool, secret_client, clock, domain=domain)
        with pytest.raises(errors.ConfigurationError, match=r"ALLOW_CLIENT_TOKEN_AUTH|grant"):
            client.valid_tokens()
