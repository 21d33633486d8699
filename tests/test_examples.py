"""The examples run as a user runs them, in a new process, and never print a secret."""

from __future__ import annotations

import builtins
import getpass
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi, User

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: A JWT's header: base64url of '{"' is "eyJ"; then more header and the first dot.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.")


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (nothing may run on import)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, *args: str) -> str:
    """Run an example with this interpreter; return stdout and stderr after checking exit 0."""
    env = {
        **os.environ,
        # The demos keep tokens in a FileStore or MemoryStore: any keyring use fails.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    finished = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output
    return output


def assert_no_secret(output: str, *passwords: str) -> None:
    leaked = JWT.search(output)
    assert leaked is None, f"a JWT was printed: {leaked.group()[:8]}..."
    for password in passwords:
        assert password not in output


def test_quickstart_runs_every_step_without_printing_a_secret() -> None:
    output = run_example("quickstart")
    quickstart = load_example("quickstart")

    steps = [line.split(")")[0] for line in output.splitlines() if re.match(r"\d\) ", line)]
    assert steps == [str(n) for n in range(1, 9)]
    assert "Cognito answers with a challenge: NewPasswordRequired(" in output
    assert "TokenSet(origin='password', username='alice'" in output
    assert "GET /pets through client.http" in output
    assert '-> 200 [{"id": 1, "type": "dog"' in output
    assert "refreshes at Cognito: 0 -> 1; the API saw 200" in output
    assert "the API saw 401 (token revoked), then 200; refreshes at Cognito: 1 -> 2" in output
    assert re.search(r"\| process \d+: found a session for 'alice', no sign-in", output)
    assert re.search(r"\| process \d+: GET /pets -> 200", output)
    assert "Cognito calls made by the second process: none" in output
    assert "client.logout() -> True" in output
    assert "client.tokens=None, store entry gone" in output
    assert "Traceback" not in output
    assert_no_secret(output, quickstart.TEMPORARY_PASSWORD, quickstart.NEW_PASSWORD)


def test_async_app_runs_locally_without_printing_a_secret() -> None:
    output = run_example("async_app", "--local")
    async_app = load_example("async_app")

    for path in ("/pets", "/pets/1", "/pets/2", "/pets/3"):
        assert f"GET {path} -> 200 " in output
    assert "statuses: [200]; refreshes at Cognito: 0 -> 1" in output
    assert "revoked at Cognito: True" in output
    assert "client.tokens=None" in output
    assert "6) Done" in output
    assert "Traceback" not in output
    assert_no_secret(output, async_app.LOCAL_PASSWORD)


@pytest.mark.parametrize("name", ["quickstart", "password_login", "async_app"])
def test_importing_an_example_runs_nothing(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> str:
        raise AssertionError("an example prompted on import")

    monkeypatch.setattr(builtins, "input", refuse)
    monkeypatch.setattr(getpass, "getpass", refuse)

    assert callable(load_example(name).main)
    assert capsys.readouterr() == ("", "")


@pytest.fixture
def password_login(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
    api: ProtectedApi,
) -> ModuleType:
    monkeypatch.setenv("COGNITO_USER_POOL_ID", pool.id)
    monkeypatch.setenv("COGNITO_CLIENT_ID", public_client.id)
    monkeypatch.setenv("COGNITO_IDP_URL", cognito.url)
    monkeypatch.setenv("API_URL", api.url)
    monkeypatch.setenv("KEYBEARER_TOKEN_FILE", str(tmp_path / "tokens.json"))
    monkeypatch.delenv("COGNITO_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("API_PATH", raising=False)
    return load_example("password_login")


def answer_prompts(
    monkeypatch: pytest.MonkeyPatch, typed: list[str], hidden: list[str]
) -> list[str]:
    """Answer input() with ``typed`` and getpass() with ``hidden``, in order.

    Returns the list the prompts shown are appended to.
    """
    shown: list[str] = []

    def reply(answers: list[str]) -> Callable[[str], str]:
        def prompt(text: str = "") -> str:
            shown.append(text)
            assert answers, f"unexpected prompt {text!r}"
            return answers.pop(0)

        return prompt

    monkeypatch.setattr(builtins, "input", reply(typed))
    monkeypatch.setattr(getpass, "getpass", reply(hidden))
    return shown


def test_password_login_answers_new_password_then_reuses_the_session(
    password_login: ModuleType,
    temp_user: User,
    cognito: LocalCognito,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    new_password = "Brand-New-Pass-3!"
    answer_prompts(
        monkeypatch, [temp_user.username], [temp_user.password, new_password, new_password]
    )

    assert password_login.main([]) == 0
    first = capsys.readouterr().out
    assert f"Signed in as {temp_user.username}" in first
    assert "GET /pets -> 200" in first
    assert cognito.calls["RespondToAuthChallenge"] == 1

    answer_prompts(monkeypatch, [], [])  # the second run must not prompt
    before = cognito.calls.snapshot()
    assert password_login.main([]) == 0
    second = capsys.readouterr().out
    assert f"Using the saved session of {temp_user.username}" in second
    assert cognito.calls.snapshot() == before
    assert_no_secret(first + second, temp_user.password, new_password)


@pytest.fixture
def mfa_pool(
    cognito: LocalCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Pool]:
    """A pool that requires an authenticator app, with its own API; the env points at both."""
    pool = cognito.create_pool()
    cognito.admin_client.set_user_pool_mfa_config(
        UserPoolId=pool.id,
        SoftwareTokenMfaConfiguration={"Enabled": True},
        MfaConfiguration="ON",
    )
    app = cognito.create_app_client(pool)
    with ProtectedApi(pool.jwks_url, pool.issuer, [app.id]) as api:
        monkeypatch.setenv("COGNITO_USER_POOL_ID", pool.id)
        monkeypatch.setenv("COGNITO_CLIENT_ID", app.id)
        monkeypatch.setenv("COGNITO_IDP_URL", cognito.url)
        monkeypatch.setenv("API_URL", api.url)
        monkeypatch.setenv("KEYBEARER_TOKEN_FILE", str(tmp_path / "tokens.json"))
        monkeypatch.delenv("COGNITO_CLIENT_SECRET", raising=False)
        monkeypatch.delenv("API_PATH", raising=False)
        yield pool


def test_password_login_shows_the_totp_secret_only_after_a_warning_and_a_yes(
    mfa_pool: Pool,
    cognito: LocalCognito,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    password_login = load_example("password_login")
    cognito.create_user(mfa_pool, "dave", "Temporary-Pass-1!", temporary=True)
    new = "Brand-New-Pass-3!"
    answer_prompts(monkeypatch, ["dave", "y", "123456"], ["Temporary-Pass-1!", new, new])

    assert password_login.main([]) == 0
    out = capsys.readouterr().out
    assert out.index("WARNING: the next line contains the secret") < out.index("otpauth://totp/")
    assert "GET /pets -> 200" in out
    assert cognito.calls["VerifySoftwareToken"] == 1

    # Signing in again (a new token file: no saved session) asks for the app's code.
    monkeypatch.setenv("KEYBEARER_TOKEN_FILE", str(tmp_path / "other.json"))
    shown = answer_prompts(monkeypatch, ["dave", "654321"], [new])
    assert password_login.main([]) == 0
    assert "Code from your authenticator app: " in shown
    assert_no_secret(out + capsys.readouterr().out, "Temporary-Pass-1!", new)


def test_password_login_declining_totp_set_up_shows_no_secret(
    mfa_pool: Pool,
    cognito: LocalCognito,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    password_login = load_example("password_login")
    cognito.create_user(mfa_pool, "erin", "Temporary-Pass-1!", temporary=True)
    new = "Brand-New-Pass-3!"
    answer_prompts(monkeypatch, ["erin", "n"], ["Temporary-Pass-1!", new, new])

    with pytest.raises(SystemExit, match="cancelled"):
        password_login.main([])
    out = capsys.readouterr().out
    assert "WARNING" in out
    assert "otpauth" not in out
    assert "secret=" not in out
    assert cognito.calls["AssociateSoftwareToken"] == 0
