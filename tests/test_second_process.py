"""A second run of an app makes its first API call from the tokens in the keyring.

The issue's promise: a new process finds the session the first one stored in
the OS keyring and calls the API with no login and no call to Cognito while the
token is fresh. Both runs are real processes using the default store,
``KeyringStore()``; the keyring is keyrings.alt's plain-text file backend,
chosen with ``PYTHON_KEYRING_BACKEND`` and put in ``tmp_path`` with
``XDG_DATA_HOME``, so nothing touches the developer's real keyring or home.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi

PASSWORD = "Second-Run-Pass-4!"

FIRST_RUN = """
import sys

import keyring

import keybearer

pool_id, client_id, idp_url, api_url, username, password = sys.argv[1:]
backend = keyring.get_keyring()
print("backend", f"{type(backend).__module__}.{type(backend).__qualname__}")
print("file", backend.file_path)
client = keybearer.OAuthClient.cognito(pool_id, client_id, idp_url=idp_url)  # default store
tokens = client.login_password(username, password)
assert isinstance(tokens, keybearer.TokenSet), tokens
with client.http(base_url=api_url) as http:
    print("status", http.get("/pets").status_code)
"""

SECOND_RUN = """
import sys

import keybearer

pool_id, client_id, idp_url, api_url = sys.argv[1:]
client = keybearer.OAuthClient.cognito(pool_id, client_id, idp_url=idp_url)  # default store
print("signed_in", client.tokens is not None)
with client.http(base_url=api_url) as http:
    print("status", http.get("/pets").status_code)
"""


def run(code: str, env: dict[str, str], *args: str) -> dict[str, str]:
    """Run ``code`` in a new interpreter; return its ``name value`` lines as a dict."""
    finished = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return dict(line.split(" ", 1) for line in finished.stdout.splitlines())


def test_a_second_process_calls_the_api_from_the_keyring_without_cognito(
    tmp_path: Path,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
    api: ProtectedApi,
) -> None:
    username = f"second-run-{uuid.uuid4().hex[:8]}"
    cognito.create_user(pool, username, PASSWORD)
    home, data, config = tmp_path / "home", tmp_path / "data", tmp_path / "config"
    home.mkdir()
    real_keyring_file = Path.home() / ".local/share/python_keyring/keyring_pass.cfg"
    real_before = real_keyring_file.stat().st_mtime_ns if real_keyring_file.exists() else None
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(data),
        "XDG_CONFIG_HOME": str(config),  # no keyringrc.cfg of the developer's
        "XDG_STATE_HOME": str(tmp_path / "state"),  # the keyring's private lock folder
        "HOME": str(home),  # whatever ignores XDG_DATA_HOME would land here
    }
    ids = (pool.id, public_client.id, cognito.url, api.url)

    first = run(FIRST_RUN, env, *ids, username, PASSWORD)

    keyring_file = data / "python_keyring" / "keyring_pass.cfg"
    assert first["backend"] == "keyrings.alt.file.PlaintextKeyring"
    assert Path(first["file"]) == keyring_file
    assert "[keybearer]" in keyring_file.read_text()  # the KeyringStore service
    assert first["status"] == "200"
    assert cognito.calls["InitiateAuth:USER_PASSWORD_AUTH"] == 1

    before = cognito.calls.snapshot()
    seen = len(api.requests)

    second = run(SECOND_RUN, env, *ids)

    assert second == {"signed_in": "True", "status": "200"}
    assert cognito.calls.snapshot() == before  # no login, no refresh, no call at all
    assert [r.status for r in api.requests[seen:]] == [200]
    assert list(home.iterdir()) == []
    real_after = real_keyring_file.stat().st_mtime_ns if real_keyring_file.exists() else None
    assert real_after == real_before
