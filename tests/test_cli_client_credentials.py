"""The command line with a client-credentials profile: configure, token, get, login.

The secret goes to the profile's token store through --client-secret-stdin,
never to the file; ``keybearer token`` and requests obtain a token without a
sign-in; the API method accepts only access tokens with its custom scope.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keybearer._jose.unverified import unverified_claims
from keybearer.cli import main
from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi

SERVER = "https://api.example.test/cli-m2m"


@pytest.fixture(scope="module")
def service(cognito: LocalCognito, pool: Pool) -> tuple[AppClient, str]:
    scopes = cognito.create_resource_server(pool, SERVER, ["pets.read"])
    app = cognito.create_app_client(
        pool,
        f"cli-service-{uuid.uuid4().hex[:6]}",
        secret=True,
        flows=("ALLOW_CLIENT_TOKEN_AUTH",),
        oauth_flows=("client_credentials",),
        scopes=scopes,
    )
    return app, scopes[0]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("KEYBEARER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEYBEARER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("KEYBEARER_STORE", f"file:{tmp_path / 'tokens.json'}")
    return tmp_path


@pytest.fixture
def scoped_api(pool: Pool, service: tuple[AppClient, str]) -> Iterator[ProtectedApi]:
    app, scope = service
    with ProtectedApi(pool.jwks_url, pool.issuer, [app.id]) as api:
        api.require_scopes("/pets", [scope])
        yield api


def kb(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def configure_flags(cognito: LocalCognito, pool: Pool, app: AppClient, api_url: str) -> list[str]:
    return [
        "configure",
        "--user-pool-id", pool.id,
        "--client-id", app.id,
        "--idp-url", cognito.url,
        "--jwks-url", pool.jwks_url,
        "--api-url", api_url,
        "--grant", "client-credentials",
    ]  # fmt: skip


def test_a_service_profile_end_to_end(
    home: Path,
    cognito: LocalCognito,
    pool: Pool,
    service: tuple[AppClient, str],
    scoped_api: ProtectedApi,
) -> None:
    app, scope = service
    assert app.secret is not None
    flags = configure_flags(cognito, pool, app, scoped_api.url)
    configured = kb(*flags, "--client-secret-stdin", input=app.secret + "\n")
    assert configured.exit_code == 0, configured.output
    text = (home / "config.toml").read_text()
    assert 'grant = "client-credentials"' in text
    assert app.secret not in text
    assert app.secret not in configured.output

    token = kb("token")
    assert token.exit_code == 0, token.output
    claims = unverified_claims(token.stdout.strip())
    assert claims["token_use"] == "access"
    assert claims["scope"].split() == [scope]
    assert cognito.calls["GetClientToken"] == 1

    pets = kb("get", "/pets")
    assert pets.exit_code == 0, pets.output
    assert "HTTP 200" in pets.stderr
    assert cognito.calls["GetClientToken"] == 1  # the stored token, not a new one

    login = kb("login")
    assert login.exit_code == 0, login.output
    assert "client credentials: nobody signs in" in login.stdout
    for result in (token, pets, login):
        assert app.secret not in result.stderr
    assert app.secret not in pets.stdout + login.stdout
    stored = json.loads((home / "tokens.json").read_text())
    assert app.secret in stored.values()  # the secret is in the token store


def test_a_service_profile_needs_its_secret(
    home: Path,
    cognito: LocalCognito,
    pool: Pool,
    service: tuple[AppClient, str],
) -> None:
    app, _ = service
    result = kb(*configure_flags(cognito, pool, app, "https://api.example.test"))
    assert result.exit_code != 0
    assert "--client-secret-stdin" in result.stderr
