"""The ``keybearer`` command with SRP, remembered devices and passwordless codes (LocalCognito)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from keybearer.cli import challenges, main, terminal
from keybearer.testing import AppClient, LocalCognito, Pool
from support import PASSWORD

_names = itertools.count()
FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_AUTH")


@pytest.fixture(scope="module")
def tracked_pool(cognito: LocalCognito) -> Pool:
    pool = cognito.create_pool()
    cognito.track_devices(pool)
    return pool


@pytest.fixture(scope="module")
def app(cognito: LocalCognito, tracked_pool: Pool) -> AppClient:
    return cognito.create_app_client(tracked_pool, flows=FLOWS)


class Kb:
    """Runs the command in-process; remembers every output, to check none shows a secret."""

    def __init__(self, home: Path) -> None:
        self.store = home / "tokens.json"
        self.outputs: list[str] = []

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.outputs.append(result.stdout + result.stderr)
        return result

    def stored_secrets(self) -> set[str]:
        found: set[str] = set()
        if not self.store.exists():
            return found
        for value in json.loads(self.store.read_text()).values():
            try:
                data: Any = json.loads(value)
            except ValueError:
                continue
            for name in ("access_token", "id_token", "refresh_token", "password", "device_key"):
                if isinstance(data, dict) and isinstance(data.get(name), str):
                    found.add(data[name])
        return found


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kb]:
    for name in list(os.environ):
        if name.startswith("KEYBEARER_") or name == "NO_COLOR":
            monkeypatch.delenv(name)
    runner = Kb(tmp_path)
    monkeypatch.setenv("KEYBEARER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("KEYBEARER_STORE", f"file:{runner.store}")
    yield runner
    secrets = runner.stored_secrets()
    for output in runner.outputs:
        for secret in secrets:
            assert secret not in output


def _configure(kb: Kb, cognito: LocalCognito, pool: Pool, app: AppClient, *extra: str) -> None:
    result = kb(
        "configure",
        "--user-pool-id",
        pool.id,
        "--client-id",
        app.id,
        "--idp-url",
        cognito.url,
        "--no-verify",
        *extra,
    )
    assert result.exit_code == 0, result.output


def test_login_by_srp_with_a_remembered_device_then_forget_it(
    kb: Kb, cognito: LocalCognito, tracked_pool: Pool, app: AppClient
) -> None:
    name = f"cli-srp{next(_names)}"
    cognito.create_user(tracked_pool, name, PASSWORD)
    _configure(kb, cognito, tracked_pool, app, "--password-flow", "srp", "--remember-device")

    login = kb("login", "-u", name, "--password-stdin", input=PASSWORD)

    assert login.exit_code == 0, login.output
    assert f"Signed in as {name}" in login.stdout
    assert cognito.calls["InitiateAuth:USER_SRP_AUTH"] == 1
    assert cognito.devices(tracked_pool, name) != []

    forgotten = kb("forget-device", "--json")
    assert forgotten.exit_code == 0, forgotten.output
    assert json.loads(forgotten.stdout)["forgotten"] is True
    assert cognito.devices(tracked_pool, name) == []
    again = kb("forget-device")
    assert "No device is remembered" in again.stdout


def test_login_passwordless_with_an_emailed_code(
    kb: Kb,
    cognito: LocalCognito,
    tracked_pool: Pool,
    app: AppClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"cli-otp{next(_names)}"
    cognito.create_user(tracked_pool, name, PASSWORD, attributes={"email": f"{name}@example.test"})
    _configure(kb, cognito, tracked_pool, app)
    asked: list[str] = []

    def ask(label: str, *, what: str, **options: Any) -> str:
        asked.append(label)
        return cognito.email_code(name) or ""

    monkeypatch.setattr(challenges.terminal, "ask", ask)

    login = kb("login", "--passwordless", "-u", name)

    assert login.exit_code == 0, login.output
    assert asked == [f"Code sent by email to {name[0]}***@e***"]
    assert cognito.calls["InitiateAuth:USER_AUTH"] == 1


def test_login_passwordless_for_a_user_without_email_says_so(
    kb: Kb, cognito: LocalCognito, tracked_pool: Pool, app: AppClient
) -> None:
    name = f"cli-nomail{next(_names)}"
    cognito.create_user(tracked_pool, name, PASSWORD)
    _configure(kb, cognito, tracked_pool, app)

    login = kb("login", "--passwordless", "-u", name)

    assert login.exit_code != 0
    assert "no sign-in by an emailed or texted code" in login.stderr


def test_configure_asks_for_the_password_flow_and_the_device(
    kb: Kb,
    cognito: LocalCognito,
    tracked_pool: Pool,
    app: AppClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(terminal, "stdin_is_tty", lambda: True)
    answers = [tracked_pool.id, app.id, "", "", "", "bogus", "srp", "y", ""]

    result = kb("configure", "--no-verify", input="\n".join(answers) + "\n")

    assert result.exit_code == 0, result.output
    assert "Password sign-in" in result.stderr
    assert "Remember this device" in result.stderr
    assert "password flow: must be" in result.stderr  # "bogus" was asked again
    text = (Path(os.environ["KEYBEARER_CONFIG"])).read_text()
    assert 'password_flow = "srp"' in text
    assert "remember_device = true" in text
