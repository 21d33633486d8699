"""Shared fixtures: a local Cognito (moto), an API behind a Cognito authorizer, a keyring.

The local Cognito is the one keybearer's own pytest plugin gives every app
(``local_cognito``, ``cognito_pool``, ``cognito_app_client``): this suite uses
the same set-up, under the shorter names its tests were written with. The
plugin resets call counts and planned failures before each test that uses it
and checks every cognito-idp exchange against botocore's service model.
Servers start once per session, on free 127.0.0.1 ports, and only when a test
asks for them; the API's log, revocations, clock and scopes are reset per test.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyrings.alt.file import PlaintextKeyring
from pytest_httpx import HTTPXMock

from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi, User
from keybearer.testing._dispatch import TARGET_PREFIX
from keybearer.testing._shapes import ShapeChecker

# The SDK tests' own fixtures (clock, person, make_client, ...) live in support.py;
# the API Gateway stand-in built on CognitoVerifier in authorizer_fixtures.py;
# a real redis-server for RedisStore in redis_peer.py.
pytest_plugins = ["support", "oidc_fixtures", "authorizer_fixtures", "redis_peer"]

#: The scope a route may require in tests; no token from InitiateAuth has it.
ADMIN_SCOPE = "https://api.example.test/admin"
#: The only scope of access tokens from InitiateAuth (real Cognito and moto).
USER_ADMIN_SCOPE = "aws.cognito.signin.user.admin"


@pytest.fixture(scope="session")
def cognito(local_cognito: LocalCognito) -> LocalCognito:
    """The plugin's session-wide LocalCognito."""
    return local_cognito


@pytest.fixture(scope="session")
def pool(cognito_pool: Pool) -> Pool:
    """The plugin's user pool."""
    return cognito_pool


@pytest.fixture(scope="session")
def public_client(cognito_app_client: AppClient) -> AppClient:
    """The plugin's public app client (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH)."""
    return cognito_app_client


@pytest.fixture(scope="session")
def secret_client(cognito: LocalCognito, pool: Pool) -> AppClient:
    return cognito.create_app_client(pool, "confidential", secret=True)


@pytest.fixture(scope="session")
def users(cognito: LocalCognito, pool: Pool) -> dict[str, User]:
    """Users with permanent passwords, by name: ``alice`` (with an email) and ``bob``."""
    return {
        "alice": cognito.create_user(
            pool,
            "alice",
            "Correct-Horse-1",
            attributes={"email": "alice@example.test", "email_verified": "true"},
        ),
        "bob": cognito.create_user(pool, "bob", "Battery-Staple-2"),
    }


@pytest.fixture
def temp_user(cognito: LocalCognito, pool: Pool) -> User:
    """A fresh user whose first sign-in answers NEW_PASSWORD_REQUIRED."""
    return cognito.create_user(
        pool, f"temp-{uuid.uuid4().hex[:12]}", "Temporary-Pass-1", temporary=True
    )


@pytest.fixture(scope="session")
def api(pool: Pool, public_client: AppClient, secret_client: AppClient) -> Iterator[ProtectedApi]:
    """The API: ``/admin`` wants an access token with ADMIN_SCOPE, the rest an ID token."""
    with ProtectedApi(
        pool.jwks_url,
        pool.issuer,
        [public_client.id, secret_client.id],
        scopes={"/admin": [ADMIN_SCOPE]},
    ) as protected_api:
        yield protected_api


@pytest.fixture(autouse=True)
def _fresh_peers(request: pytest.FixtureRequest) -> None:
    """Reset the API a test uses, without starting it for tests that do not.

    (The plugin resets LocalCognito's counts and failures.)
    """
    if "api" in request.fixturenames:
        protected_api: ProtectedApi = request.getfixturevalue("api")
        protected_api.reset()


@pytest.fixture(scope="session")
def shape_checker() -> ShapeChecker:
    """botocore's cognito-idp service model, loaded once."""
    return ShapeChecker()


@pytest.fixture(autouse=True)
def _replayed_cognito_requests_fit_the_model(request: pytest.FixtureRequest) -> Iterator[None]:
    """What keybearer sends to a replayed cognito-idp (pytest-httpx) must fit AWS's model too.

    The plugin checks the calls that reach LocalCognito; this checks the ones a
    test answers with pytest-httpx.
    """
    if "httpx_mock" not in request.fixturenames:
        yield
        return
    mock: HTTPXMock = request.getfixturevalue("httpx_mock")
    checker: ShapeChecker = request.getfixturevalue("shape_checker")
    yield
    found: list[str] = []
    for sent in mock.get_requests():
        target = sent.headers.get("X-Amz-Target", "")
        if not target.startswith(TARGET_PREFIX):
            continue
        try:
            body = json.loads(sent.content or b"{}")
        except ValueError:
            body = None
        found += checker.check_request(target.removeprefix(TARGET_PREFIX), body)
    if found:
        listed = "\n".join(f"  - {v}" for v in dict.fromkeys(found))
        pytest.fail("requests that do not fit botocore's service model:\n" + listed, pytrace=False)


@pytest.fixture(autouse=True)
def _throttle_retries_do_not_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """keybearer resends throttled calls after a real back-off; tests never wait for it."""
    from keybearer._io import drive as _drive

    async def no_wait(seconds: float) -> None:
        return None

    quiet = dataclasses.replace(_drive.RETRY, sleep=lambda seconds: None, asleep=no_wait)
    monkeypatch.setattr(_drive, "RETRY", quiet)


@pytest.fixture
def keyring_backend(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    """A plain-text file keyring in ``tmp_path``, installed as keyring's backend."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    previous: KeyringBackend = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
