"""Shared fixtures: a local Cognito (moto), an API behind a Cognito authorizer, a keyring.

The servers start once per session, on free 127.0.0.1 ports, and only when a
test asks for them. Before each test that uses them, call counts, planned
failures and the API's request log, revocations, clock and scopes are reset.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyrings.alt.file import PlaintextKeyring

from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi, User

# The SDK tests' own fixtures (clock, person, make_client, ...) live in support.py.
pytest_plugins = ["support", "oidc_fixtures", "redis_peer"]

#: The scope a route may require in tests; no token from InitiateAuth has it.
ADMIN_SCOPE = "https://api.example.test/admin"
#: The only scope of access tokens from InitiateAuth (real Cognito and moto).
USER_ADMIN_SCOPE = "aws.cognito.signin.user.admin"


@pytest.fixture(scope="session")
def cognito() -> Iterator[LocalCognito]:
    with LocalCognito() as local_cognito:
        yield local_cognito


@pytest.fixture(scope="session")
def pool(cognito: LocalCognito) -> Pool:
    return cognito.create_pool()


@pytest.fixture(scope="session")
def public_client(cognito: LocalCognito, pool: Pool) -> AppClient:
    return cognito.create_app_client(pool, "public")


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
    """Reset the session servers a test uses, without starting the ones it does not."""
    if "cognito" in request.fixturenames:
        local_cognito: LocalCognito = request.getfixturevalue("cognito")
        local_cognito.reset_counts()
        local_cognito.clear_failures()
    if "api" in request.fixturenames:
        protected_api: ProtectedApi = request.getfixturevalue("api")
        protected_api.reset()


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
