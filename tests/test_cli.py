"""The ``keybearer`` command, against the local Cognito stand-in and the protected API.

Every test runs with its own config file and a FileStore in ``tmp_path``
(``KEYBEARER_CONFIG``, ``KEYBEARER_STORE``), so nothing touches the real home
directory or keyring. Every output of every command is checked, after the
test, against every token and secret the store ever held: only ``keybearer
token`` may print a token, and only on stdout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import keyring.backends.fail
import keyring.core
import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr

from keybearer import TotpSetup, cli
from keybearer._challenges import MfaSetup, NewPasswordRequired, SelectMfaType, SmsMfa
from keybearer._profiles import read_config
from keybearer.cli import challenges, main, terminal, wording
from keybearer.errors import (
    ConfigurationError,
    InvalidCredentialsError,
    KeyringUnavailableError,
    LoginRequiredError,
    NetworkError,
    StateMismatchError,
)
from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi
from peers.oidc_peer import OidcPeer, sign_in
from support import Person

ENTRY_POINT = Path(sys.executable).parent / "keybearer"


@dataclass
class Run:
    args: Sequence[str]
    stdout: str
    stderr: str
    shows_token: bool


@dataclass
class Kb:
    """Runs the command in-process and remembers what it printed and what it stored."""

    home: Path
    runs: list[Run] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    @property
    def config(self) -> Path:
        return self.home / "config.toml"

    @property
    def token_file(self) -> Path:
        return self.home / "tokens.json"

    def __call__(self, *args: str, input: str | None = None, shows_token: bool = False) -> Result:
        result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.runs.append(Run(args, result.stdout, result.stderr, shows_token))
        self.collect()
        return result

    def collect(self) -> None:
        """Remember every token and secret the store holds now."""
        if not self.token_file.exists():
            return
        for value in json.loads(self.token_file.read_text()).values():
            try:
                data = json.loads(value)
            except ValueError:
                self.secrets.add(value)  # a client secret
                continue
            for name in ("access_token", "id_token", "refresh_token"):
                token = data.get(name)
                if token:
                    self.secrets.add(token)
                    # The signature alone would do harm too.
                    self.secrets.add(token.rsplit(".", 1)[-1])

    def check_no_secret_printed(self) -> None:
        for run in self.runs:
            shown = run.stderr if run.shows_token else run.stdout + run.stderr
            for secret in self.secrets:
                assert secret not in shown, f"`keybearer {' '.join(run.args)}` printed a secret"


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kb]:
    for name in list(os.environ):
        if name.startswith("KEYBEARER_") or name == "NO_COLOR":
            monkeypatch.delenv(name)
    runner = Kb(tmp_path)
    monkeypatch.setenv("KEYBEARER_CONFIG", str(runner.config))
    monkeypatch.setenv("KEYBEARER_STORE", f"file:{runner.token_file}")
    yield runner
    runner.check_no_secret_printed()


def stand_in_flags(cognito: LocalCognito, pool: Pool, app: AppClient) -> list[str]:
    return [
        "--user-pool-id",
        pool.id,
        "--client-id",
        app.id,
        "--idp-url",
        cognito.url,
        "--jwks-url",
        pool.jwks_url,
    ]


@pytest.fixture
def configured(
    kb: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient, api: ProtectedApi
) -> Kb:
    """A default profile pointing at the stand-in and the API."""
    flags = stand_in_flags(cognito, pool, public_client)
    result = kb("configure", *flags, "--api-url", api.url)
    assert result.exit_code == 0, result.output
    return kb


@pytest.fixture
def signed_in(configured: Kb, person: Person) -> Kb:
    result = configured("login", "-u", person.username, "--password-stdin", input=person.password)
    assert result.exit_code == 0, result.output
    return configured


def stored_tokens(kb: Kb) -> dict[str, Any]:
    entries = json.loads(kb.token_file.read_text())
    (value,) = [v for k, v in entries.items() if k.startswith("cognito:")]
    data: dict[str, Any] = json.loads(value)
    return data


# -- the command line itself --


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["configure"],
        ["login"],
        ["whoami"],
        ["token"],
        ["get"],
        ["post"],
        ["put"],
        ["patch"],
        ["delete"],
        ["logout"],
        ["profiles"],
        ["completion"],
        ["doctor"],
    ],
)
def test_every_command_has_help(kb: Kb, command: list[str]) -> None:
    result = kb(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout


def test_the_group_lists_every_command(kb: Kb) -> None:
    listed = kb("--help").stdout
    for name in ("configure", "login", "whoami", "token", "get", "logout", "profiles", "doctor"):
        assert f"  {name} " in listed


def test_a_usage_error_exits_2(kb: Kb) -> None:
    assert kb("token", "--kind", "refresh").exit_code == 2
    assert kb("no-such-command").exit_code == 2


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigurationError("x"), 2),
        (KeyringUnavailableError("x"), 2),
        (StateMismatchError("x"), 2),
        (LoginRequiredError("x"), 3),
        (InvalidCredentialsError("x"), 1),
        (NetworkError("x"), 1),
    ],
)
def test_errors_map_to_exit_codes(error: Exception, code: int) -> None:
    assert cli.exit_code_for(error) == code


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert terminal.colour(Tty())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not terminal.colour(Tty())  # type: ignore[arg-type]


def test_output_to_a_pipe_has_no_colour(kb: Kb) -> None:
    result = kb("whoami")
    assert "\x1b[" not in result.stdout + result.stderr


# -- configure --


def test_configure_writes_the_profile_non_interactively(
    kb: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient, api: ProtectedApi
) -> None:
    flags = stand_in_flags(cognito, pool, public_client)
    result = kb(
        "configure",
        "--profile",
        "dev",
        *flags,
        "--api-url",
        api.url,
        "--scopes",
        "openid email",
        "--send",
        "id",
    )
    assert result.exit_code == 0, result.output
    assert "Saved profile 'dev'" in result.stdout

    profile = read_config(kb.config).profiles["dev"]
    assert profile == {
        "user_pool_id": pool.id,
        "client_id": public_client.id,
        "idp_url": cognito.url,
        "jwks_url": pool.jwks_url,
        "api_url": api.url,
        "scopes": ["openid", "email"],
        "send": "id",
    }


def test_configure_updates_only_what_is_given_and_removes_empty(
    configured: Kb, api: ProtectedApi
) -> None:
    assert configured("configure", "--send", "access", "--api-url", "").exit_code == 0
    profile = read_config(configured.config).profiles["default"]
    assert profile["send"] == "access"
    assert "api_url" not in profile
    assert "user_pool_id" in profile


def test_configure_keeps_the_client_secret_out_of_the_file(
    kb: Kb,
    cognito: LocalCognito,
    pool: Pool,
    secret_client: AppClient,
    api: ProtectedApi,
    person: Person,
) -> None:
    assert secret_client.secret is not None
    flags = stand_in_flags(cognito, pool, secret_client)
    flags += ["--api-url", api.url, "--client-secret-stdin"]
    result = kb("configure", "-p", "conf", *flags, input=secret_client.secret)
    assert result.exit_code == 0, result.output
    text = kb.config.read_text()
    assert secret_client.secret not in text
    assert "confidential = true" in text
    stored = json.loads(kb.token_file.read_text())
    assert stored[f"client-secret:conf:{secret_client.id}"] == secret_client.secret

    login = kb(
        "login", "-p", "conf", "-u", person.username, "--password-stdin", input=person.password
    )
    assert login.exit_code == 0, login.output
    # A 401 makes keybearer refresh once, with the SECRET_HASH that moto checks on
    # refresh: the API's answer (not a failed refresh) proves the stored secret works.
    refused = kb("get", "-p", "conf", "/admin")
    assert refused.exit_code == 1
    assert "HTTP 401" in refused.stderr
    assert cognito.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 1


def test_configure_keeps_the_comments_of_the_profiles_file(configured: Kb) -> None:
    text = configured.config.read_text()
    text = text.replace("[profiles.default]", "# the shared team pool\n[profiles.default]")
    text = text.replace("api_url =", "# where the API lives\napi_url =")
    configured.config.write_text(text + "\n# a profile for later\n")
    assert configured("configure", "--send", "access", "--scopes", "openid email").exit_code == 0
    after = configured.config.read_text()
    assert "# the shared team pool\n[profiles.default]" in after
    assert "# where the API lives\napi_url =" in after
    assert after.rstrip().endswith("# a profile for later")
    profile = read_config(configured.config).profiles["default"]
    assert profile["send"] == "access"
    assert profile["scopes"] == ["openid", "email"]


def test_configure_without_the_required_settings_exits_2(kb: Kb) -> None:
    result = kb("configure", "--api-url", "https://api.example.test")
    assert result.exit_code == 2
    assert "--user-pool-id and --client-id" in result.stderr
    assert not kb.config.exists()


def test_configure_refuses_a_bad_value_naming_file_profile_and_field(kb: Kb) -> None:
    result = kb("configure", "-p", "dev", "--user-pool-id", "us-east-1_X", "--client-id", "bad id!")
    assert result.exit_code == 2
    assert f"profile 'dev' in {kb.config}" in result.stderr
    assert "client_id" in result.stderr
    assert not kb.config.exists()


def test_configure_checks_the_pools_keys(
    kb: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient, api: ProtectedApi
) -> None:
    flags = stand_in_flags(cognito, pool, public_client)[:-2]
    result = kb("configure", *flags, "--jwks-url", f"{api.url}/no-keys-here")
    assert result.exit_code == 2
    assert "HTTP 401" in result.stderr
    assert "--no-verify" in result.stderr
    assert not kb.config.exists()

    skipped = kb("configure", *flags, "--jwks-url", f"{api.url}/no-keys-here", "--no-verify")
    assert skipped.exit_code == 0


def test_configure_saves_anyway_when_the_keys_cannot_be_reached(
    kb: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient
) -> None:
    flags = stand_in_flags(cognito, pool, public_client)[:-2]
    result = kb("configure", *flags, "--jwks-url", "http://127.0.0.1:9/jwks.json")
    assert result.exit_code == 0
    assert "could not reach 127.0.0.1:9" in result.stderr
    assert "the profile is saved" in result.stderr
    assert kb.config.exists()


def test_configure_checks_the_endpoints_the_environment_names(
    kb: Kb,
    monkeypatch: pytest.MonkeyPatch,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
) -> None:
    monkeypatch.setenv("KEYBEARER_IDP_URL", cognito.url)
    monkeypatch.setenv("KEYBEARER_JWKS_URL", pool.jwks_url)
    result = kb("configure", "--user-pool-id", pool.id, "--client-id", public_client.id)
    assert result.exit_code == 0, result.output
    assert "could not reach" not in result.stderr
    # The environment is used for the check, not written to the file.
    assert "jwks_url" not in read_config(kb.config).profiles["default"]


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """keyring's own "no backend" keyring, chosen as a user would (keyring caches its choice)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    no_backend = keyring.backends.fail.Keyring()  # type: ignore[no-untyped-call]
    monkeypatch.setattr(keyring.core, "_keyring_backend", no_backend)


def test_configure_without_a_keyring_keeps_tokens_in_a_private_file(
    kb: Kb, monkeypatch: pytest.MonkeyPatch, no_keyring: None, pool: Pool, public_client: AppClient
) -> None:
    monkeypatch.delenv("KEYBEARER_STORE")
    flags = ["--user-pool-id", pool.id, "--client-id", public_client.id, "--no-verify"]
    result = kb("configure", *flags)
    assert result.exit_code == 0, result.output
    assert "no OS keyring" in result.stderr
    assert "plain text on disk, readable only by you (mode 0600)" in result.stderr
    assert read_config(kb.config).profiles["default"]["store"] == "file:tokens.json"
    assert kb("whoami").exit_code == 3  # the file store works: simply not signed in yet


def test_configure_offers_the_file_store_in_a_terminal(
    kb: Kb, monkeypatch: pytest.MonkeyPatch, no_keyring: None, pool: Pool, public_client: AppClient
) -> None:
    monkeypatch.delenv("KEYBEARER_STORE")
    monkeypatch.setattr(terminal, "stdin_is_tty", lambda: True)
    # pool, client, domain, API URL, send, password flow, remember device, secret; store
    answers = [pool.id, public_client.id, "", "", "", "", "", "", "y"]
    result = kb("configure", "--no-verify", input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "Keep them in" in result.stderr
    assert "plain-text file on disk, readable only by you (mode 0600)" in result.stderr
    assert read_config(kb.config).profiles["default"]["store"] == "file:tokens.json"

    declined = kb(
        "configure", "-p", "other", "--no-verify", input="\n".join(answers[:-1]) + "\nn\n"
    )
    assert declined.exit_code == 2
    assert "--store SPEC" in declined.stderr
    assert "other" not in read_config(kb.config).profiles


def test_configure_asks_in_a_terminal(
    kb: Kb,
    monkeypatch: pytest.MonkeyPatch,
    pool: Pool,
    public_client: AppClient,
    api: ProtectedApi,
) -> None:
    monkeypatch.setattr(terminal, "stdin_is_tty", lambda: True)
    answers = [
        pool.id,  # user pool id
        public_client.id,  # client id
        "",  # domain: none, so neither a redirect URI nor scopes are asked for
        api.url,  # api url
        "",  # send: keep id
        "srp",  # password flow
        "y",  # remember this device
        "",  # client secret: none
    ]
    result = kb("configure", "--profile", "asked", input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "Scopes" not in result.stderr
    profile = read_config(kb.config).profiles["asked"]
    assert profile["user_pool_id"] == pool.id
    assert profile["api_url"] == api.url
    assert "scopes" not in profile
    assert profile["password_flow"] == "srp"
    assert profile["remember_device"] is True


def test_configure_in_a_terminal_asks_again_for_a_bad_answer(
    kb: Kb,
    monkeypatch: pytest.MonkeyPatch,
    pool: Pool,
    public_client: AppClient,
    api: ProtectedApi,
) -> None:
    monkeypatch.setattr(terminal, "stdin_is_tty", lambda: True)
    answers = [
        "us-east-1-oops",  # not a pool id: asked again
        pool.id,
        "bad id!",  # not an app client id: asked again
        public_client.id,
        "auth.example.test",  # a domain: redirect URI and scopes follow
        "",  # redirect URI: the default
        "openid bad\\scope",  # a scope with a backslash: asked again
        "openid email",
        "ftp://api.example.test",  # not an https URL: asked again
        api.url,
        "both",  # neither id nor access: asked again
        "access",
        "",  # password flow: user_password
        "",  # remember this device: no
        "",  # client secret: none
    ]
    result = kb("configure", "--no-verify", input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    problems = [line for line in result.stderr.splitlines() if line.startswith("keybearer: ")]
    assert len(problems) == 5, problems
    assert problems[0].startswith("keybearer: user pool id: must look like")
    assert problems[1].startswith("keybearer: client id: must be the app client id")
    assert "Error:" not in result.stderr
    profile = read_config(kb.config).profiles["default"]
    assert profile["user_pool_id"] == pool.id
    assert profile["client_id"] == public_client.id
    assert profile["redirect_uri"] == "http://localhost:8765/callback"
    assert profile["scopes"] == ["openid", "email"]
    assert profile["send"] == "access"


def test_configure_in_a_terminal_gives_up_after_three_tries(
    kb: Kb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terminal, "stdin_is_tty", lambda: True)
    result = kb("configure", input="nope\nstill-nope\nno_pool\n")
    assert result.exit_code == 2
    assert "no usable user pool id after 3 tries" in result.stderr
    assert not kb.config.exists()


# -- login, whoami, token, get, logout --


def test_password_login_then_every_command(
    signed_in: Kb, api: ProtectedApi, person: Person
) -> None:
    kb = signed_in
    who = kb("whoami")
    assert who.exit_code == 0
    assert person.username in who.stdout
    assert "Bearer <id token>" in who.stdout

    info = json.loads(kb("whoami", "--json").stdout)
    assert info["username"] == person.username
    assert info["profile"] == "default"
    assert info["send"] == "id"
    assert info["expired"] is False
    assert info["refreshable"] is True

    token = kb("token", shows_token=True)
    assert token.exit_code == 0
    raw = token.stdout.strip()
    assert raw == stored_tokens(kb)["id_token"]
    accepted = httpx.get(f"{api.url}/pets", headers={"Authorization": f"Bearer {raw}"})
    assert accepted.status_code == 200
    access = kb("token", "--kind", "access", shows_token=True).stdout.strip()
    assert access == stored_tokens(kb)["access_token"]

    pets = kb("get", "/pets")
    assert pets.exit_code == 0
    assert "HTTP 200" in pets.stderr
    assert json.loads(pets.stdout)[0]["type"] == "dog"
    assert pets.stdout.startswith("[\n  {")  # pretty-printed

    logout = kb("logout")
    assert logout.exit_code == 0
    assert "Signed out of profile 'default'" in logout.stdout
    assert not kb.token_file.exists() or "cognito:" not in kb.token_file.read_text()
    assert kb("whoami").exit_code == 3


def test_login_result_as_json(configured: Kb, person: Person) -> None:
    result = configured(
        "login", "-u", person.username, "--password-stdin", "--json", input=person.password
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["signed_in"] is True
    assert data["username"] == person.username
    assert data["origin"] == "password"


def test_a_wrong_password_exits_1(configured: Kb, person: Person) -> None:
    result = configured("login", "-u", person.username, "--password-stdin", input="wrong-Pass-1")
    assert result.exit_code == 1
    assert "wrong-Pass-1" not in result.output


def test_password_login_without_a_terminal_needs_password_stdin(
    configured: Kb, person: Person
) -> None:
    result = configured("login", "-u", person.username, input=person.password)
    assert result.exit_code == 2
    assert "--password-stdin" in result.stderr


def test_a_temporary_password_is_replaced_from_stdin(configured: Kb, new_person: Person) -> None:
    new_password = "Brand-New-Pass-9!"
    result = configured(
        "login",
        "-u",
        new_person.username,
        "--password-stdin",
        input=f"{new_person.password}\n{new_password}\n",
    )
    assert result.exit_code == 0, result.output
    assert "temporary password" in result.stderr
    assert new_password not in result.output
    configured("logout")
    again = configured("login", "-u", new_person.username, "--password-stdin", input=new_password)
    assert again.exit_code == 0, again.output


def test_a_temporary_password_is_replaced_at_the_terminal_without_echo(
    configured: Kb, new_person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terminal, "stdin_is_tty", lambda: True)
    new_password = "Typed-New-Pass-7!"
    result = configured(
        "login",
        "--password",
        "-u",
        new_person.username,
        input=f"{new_person.password}\n{new_password}\n{new_password}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Repeat the new password" in result.stderr
    assert new_person.password not in result.output
    assert new_password not in result.output


def test_a_wrong_password_at_the_terminal_is_asked_again(
    configured: Kb, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terminal, "stdin_is_tty", lambda: True)
    typed = f"wrong-Pass-1\n{person.password}\n"
    result = configured("login", "--password", "-u", person.username, input=typed)
    assert result.exit_code == 0, result.output
    assert "keybearer: Cognito refused the request" in result.stderr
    assert "try again (2 left)" in result.stderr

    configured("logout")
    thrice = configured("login", "--password", "-u", person.username, input="a-1\nb-2\nc-3\n")
    assert thrice.exit_code == 1
    assert "try again (1 left)" in thrice.stderr


def test_a_new_password_refused_by_the_pool_is_asked_again(
    configured: Kb, new_person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terminal, "stdin_is_tty", lambda: True)
    strong = "Typed-New-Pass-7!"
    typed = [
        new_person.password,
        "weak",  # the pool's policy refuses it: asked again, not sent back to the start
        "weak",
        strong,
        "Typo-New-Pass-7!",  # the two entries differ: asked again
        strong,
        strong,
    ]
    result = configured(
        "login", "--password", "-u", new_person.username, input="\n".join(typed) + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "keybearer: the new password was refused: " in result.stderr
    assert "keybearer: the two entries do not match" in result.stderr
    assert "Error:" not in result.stderr  # click's own style never shows
    configured("logout")
    again = configured("login", "-u", new_person.username, "--password-stdin", input=strong)
    assert again.exit_code == 0, again.output


def test_the_username_setting_is_the_default(configured: Kb, person: Person) -> None:
    assert configured("configure", "--username", person.username).exit_code == 0
    result = configured("login", "--password-stdin", input=person.password)
    assert result.exit_code == 0, result.output


def test_without_a_session_commands_exit_3(configured: Kb) -> None:
    for args in (["whoami"], ["token"], ["get", "/pets"]):
        result = configured(*args)
        assert result.exit_code == 3, args
        assert "keybearer login" in result.stderr


def test_whoami_json_without_a_session_says_signed_out(configured: Kb) -> None:
    result = configured("whoami", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {
        "profile": "default",
        "config": str(configured.config),
        "signed_in": False,
        "ended": False,
    }
    assert "not signed in" in result.stderr


def test_token_json_for_credential_helpers(signed_in: Kb) -> None:
    result = signed_in("token", "--json", shows_token=True)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"token", "expires_at", "token_type"}
    assert data["token"] == stored_tokens(signed_in)["id_token"]
    assert data["token_type"] == "Bearer"
    assert data["expires_at"].endswith("Z")
    access = json.loads(signed_in("token", "--json", "--kind", "access", shows_token=True).stdout)
    assert access["token"] == stored_tokens(signed_in)["access_token"]


def test_a_session_whose_refresh_was_refused_shows_as_ended_everywhere(
    signed_in: Kb, cognito: LocalCognito, person: Person
) -> None:
    kb = signed_in
    cognito.fail_next(
        "InitiateAuth:REFRESH_TOKEN_AUTH",
        status=400,
        error_type="NotAuthorizedException",
        message="Refresh Token has been revoked",
    )
    # The API refuses the token; the one refresh after a 401 is refused too.
    refused = kb("get", "/admin")
    assert refused.exit_code == 3
    assert "the session has ended" in refused.stderr
    assert "keybearer login" in refused.stderr

    # The end is kept in the store, so a process of its own sees it too.
    assert stored_tokens(kb)["ended"] is True
    env = dict(os.environ)
    done = subprocess.run(
        [str(ENTRY_POINT), "whoami"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert "has ended" in done.stderr
    assert done.stdout == ""

    who = kb("whoami")
    assert who.exit_code == 3
    assert "has ended" in who.stderr
    assert json.loads(kb("whoami", "--json").stdout)["ended"] is True
    listed = json.loads(kb("profiles", "--json").stdout)["profiles"][0]
    assert listed["live"] is False
    assert listed["session"]["ended"] is True
    assert "ended: " in kb("profiles").stdout
    for args in (["token"], ["get", "/pets"]):
        assert kb(*args).exit_code == 3, args
    assert cognito.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 1  # never asked again

    again = kb("login", "-u", person.username, "--password-stdin", input=person.password)
    assert again.exit_code == 0, again.output
    assert kb("whoami").exit_code == 0
    assert "signed in as" in kb("profiles").stdout


def test_a_route_that_refuses_the_token_exits_1(signed_in: Kb, api: ProtectedApi) -> None:
    result = signed_in("get", "/admin")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    status = next(i for i, line in enumerate(lines) if line.startswith("HTTP 401"))
    why = next(i for i, line in enumerate(lines) if line.startswith("Why: "))
    assert status < why  # the status line first, then its diagnosis
    assert "OAuth scopes" in result.stderr  # the diagnosis
    assert lines[why + 1].startswith("Fix: ")
    assert "keybearer doctor --api /admin" in result.stderr
    assert json.loads(result.stdout) == {"message": "Unauthorized"}
    # The command line's spelling, not the library's Python arguments.
    assert "keybearer configure --send access" in result.stderr
    assert "send='" not in result.stderr
    assert "scheme=None" not in result.stderr


def test_the_python_spellings_of_library_messages_are_translated() -> None:
    assert (
        wording.cli_words(
            "not signed in (x): sign in first, e.g. with login_password() or login_browser()"
        )
        == "not signed in (x): sign in first, with keybearer login"
    )
    assert wording.cli_words("send the access token instead with send='access'") == (
        "send the access token instead with keybearer configure --send access"
    )
    fix = wording.cli_words("send='id'; some authorizers want the bare token (scheme=None)")
    assert fix == (
        "keybearer configure --send id; some authorizers want the bare token "
        "(keybearer configure --scheme none)"
    )


def test_a_missing_resource_exits_1(signed_in: Kb) -> None:
    result = signed_in("get", "pets/99")
    assert result.exit_code == 1
    assert "HTTP 404" in result.stderr


def test_an_unreachable_api_is_named_by_host_and_port(signed_in: Kb) -> None:
    signed_in("configure", "--api-url", "http://127.0.0.1:9")
    result = signed_in("get", "/pets")
    assert result.exit_code == 1
    assert "keybearer: could not reach the API: http://127.0.0.1:9 (ConnectError" in result.stderr


def test_verbose_and_debug_work_after_the_command_too(
    signed_in: Kb, api: ProtectedApi, cognito: LocalCognito
) -> None:
    quiet = signed_in("get", "/pets", "-v")
    assert quiet.exit_code == 0, quiet.output
    assert "debug:" not in quiet.stderr

    result = signed_in("get", "/admin", "--debug")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "keybearer: debug: " in line]
    assert any(f"GET {api.url}/admin" in line and "401" in line for line in lines), lines
    # The refresh after the 401 is a call to the provider, shown the same way.
    assert any(f"POST {cognito.url}" in line and "200" in line for line in lines), lines
    # ...and named by its cognito-idp operation.
    named = [line for line in lines if "provider call: POST" in line]
    assert any(" InitiateAuth -> HTTP 200" in line for line in named), lines
    assert "refreshed the tokens" in result.stderr

    before = signed_in("--debug", "whoami")
    assert before.exit_code == 0


def test_request_bodies_and_headers(signed_in: Kb, tmp_path: Path) -> None:
    sent = json.loads(signed_in("post", "/things", "--data-json", '{"a": [1, 2]}').stdout)
    assert sent["method"] == "POST"
    assert sent["body"] == {"a": [1, 2]}
    old = signed_in("post", "/things", "--json", '{"a": 1}')  # the old spelling still works
    assert json.loads(old.stdout)["body"] == {"a": 1}
    assert "--json (the request body) is now --data-json" in old.stderr

    body = tmp_path / "body.json"
    body.write_text('{"from": "file"}')
    put = signed_in("put", "/things/1", "-d", f"@{body}", "-H", "Content-Type: application/json")
    assert json.loads(put.stdout)["body"] == {"from": "file"}

    piped = signed_in("patch", "/things/1", "-d", "@-", input="plain text")
    assert json.loads(piped.stdout)["body"] == "plain text"

    deleted = signed_in("delete", "/things/1?hard=yes", "--raw")
    assert deleted.exit_code == 0
    assert json.loads(deleted.stdout)["query"] == {"hard": "yes"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data-json", "{not json"], "not valid JSON"),
        (["-H", "no colon"], "-H wants 'Name: value'"),
        (["-H", "Authorization: Bearer mine"], "sets the Authorization header itself"),
        (["-d", "a", "--data-json", "{}"], "not both"),
    ],
)
def test_bad_request_options_exit_2(signed_in: Kb, args: list[str], message: str) -> None:
    result = signed_in("post", "/things", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_the_token_never_goes_to_another_host(signed_in: Kb) -> None:
    result = signed_in("get", "https://elsewhere.example.test/steal")
    assert result.exit_code == 2
    assert "refusing to send the token to elsewhere.example.test" in result.stderr


def test_get_without_an_api_url_exits_2(signed_in: Kb) -> None:
    signed_in("configure", "--api-url", "")
    result = signed_in("get", "/pets")
    assert result.exit_code == 2
    assert "api_url" in result.stderr


# -- profiles and logout --


def test_two_profiles_keep_two_sessions(
    kb: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient, api: ProtectedApi
) -> None:
    flags = stand_in_flags(cognito, pool, public_client)
    users = {}
    for name in ("one", "two"):
        assert kb("configure", "-p", name, *flags, "--api-url", api.url).exit_code == 0
        users[name] = cognito.create_user(pool, f"{name}-{uuid.uuid4().hex[:8]}", "Pass-word-12")
        login = kb(
            "-p",
            name,
            "login",
            "-u",
            users[name].username,
            "--password-stdin",
            input="Pass-word-12",
        )
        assert login.exit_code == 0, login.output

    for name in ("one", "two"):
        info = json.loads(kb("whoami", "-p", name, "--json").stdout)
        assert info["username"] == users[name].username
        caller = json.loads(kb("get", "/whoami", "-p", name).stdout)
        assert caller["username"] == users[name].username

    listed = json.loads(kb("profiles", "--json").stdout)
    by_name = {p["name"]: p for p in listed["profiles"]}
    assert set(by_name) == {"one", "two"}
    assert by_name["one"]["live"]
    assert by_name["two"]["live"]
    assert by_name["one"]["session"]["username"] == users["one"].username

    assert kb("logout", "-p", "one").exit_code == 0
    assert kb("whoami", "-p", "one").exit_code == 3
    assert kb("whoami", "-p", "two").exit_code == 0


def test_profiles_marks_the_default_and_live_sessions(
    signed_in: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient
) -> None:
    kb = signed_in
    kb("configure", "-p", "other", *stand_in_flags(cognito, pool, public_client))
    text = kb("profiles").stdout.splitlines()
    (default_line,) = [line for line in text if " default " in line]
    (other_line,) = [line for line in text if " other " in line]
    assert default_line.startswith("*")
    assert "signed in as" in default_line
    assert other_line.startswith(" ")
    assert "not signed in" in other_line

    marked = json.loads(kb("profiles", "--json").stdout)["profiles"]
    assert [p["name"] for p in marked if p["default"]] == ["default"]


def test_profiles_on_a_terminal_is_a_table_that_fits(
    signed_in: Kb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terminal, "stdout_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "100")
    with signed_in.config.open("a") as handle:
        handle.write('\n[profiles.broken]\nuser_pool_id = "nope"\nclient_id = "x"\n')
    shown = re.sub(r"\x1b\[[0-9;]*m", "", signed_in("profiles").stdout)
    lines = shown.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 100  # the long error wraps
    assert lines[0].startswith("* default")
    assert "signed in as" in lines[0]


def test_keybearer_profile_moves_the_default_mark(
    signed_in: Kb,
    monkeypatch: pytest.MonkeyPatch,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
) -> None:
    signed_in("configure", "-p", "other", *stand_in_flags(cognito, pool, public_client))
    monkeypatch.setenv("KEYBEARER_PROFILE", "other")
    marked = json.loads(signed_in("profiles", "--json").stdout)["profiles"]
    assert [p["name"] for p in marked if p["default"]] == ["other"]
    assert signed_in("whoami").exit_code == 3  # "other" has no session
    assert signed_in("whoami", "-p", "default").exit_code == 0


def test_profiles_shows_an_invalid_profile_without_failing(signed_in: Kb) -> None:
    with signed_in.config.open("a") as handle:
        handle.write('\n[profiles.broken]\nuser_pool_id = "nope"\nclient_id = "x"\n')
    result = signed_in("profiles", "--json")
    assert result.exit_code == 0
    broken = [p for p in json.loads(result.stdout)["profiles"] if p["name"] == "broken"]
    assert "user_pool_id" in broken[0]["error"]


def test_logout_all_signs_out_every_profile_with_a_session(
    signed_in: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient, person: Person
) -> None:
    kb = signed_in
    kb("configure", "-p", "second", *stand_in_flags(cognito, pool, public_client))
    kb("configure", "-p", "idle", *stand_in_flags(cognito, pool, public_client))
    kb("login", "-p", "second", "-u", person.username, "--password-stdin", input=person.password)

    result = kb("logout", "--all", "--json")
    assert result.exit_code == 0
    outcome = {r["profile"]: r["signed_out"] for r in json.loads(result.stdout)}
    assert outcome == {"default": True, "second": True, "idle": False}
    for name in ("default", "second"):
        assert kb("whoami", "-p", name).exit_code == 3
    assert kb("logout").exit_code == 0  # nothing to do is fine


# -- configuration errors --


def test_a_bad_config_exits_2_naming_file_profile_and_field(kb: Kb) -> None:
    kb.config.write_text(
        '[profiles.dev]\nuser_pool_id = "eu-west-1_Ok"\nclient_id = "abc"\nsend = "both"\n'
    )
    result = kb("whoami", "--profile", "dev")
    assert result.exit_code == 2
    assert str(kb.config) in result.stderr
    assert "profile 'dev'" in result.stderr
    assert "send" in result.stderr


def test_no_config_at_all_exits_2_with_the_next_step(kb: Kb) -> None:
    result = kb("whoami")
    assert result.exit_code == 2
    assert "keybearer configure" in result.stderr


def test_an_unusable_keyring_exits_2_and_leads_with_the_command_lines_fix(
    configured: Kb, no_keyring: None
) -> None:
    result = configured("--store", "keyring", "whoami")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("keybearer: there is no OS keyring on this machine")
    assert "keybearer configure --store file:tokens.json" in lines[1]
    assert "KEYBEARER_STORE=file:PATH" in lines[2]
    assert len(lines) == 3
    assert "FileStore" not in result.stderr  # the Python spelling is for Python users


# -- paste-back login --


@pytest.fixture
def hosted(kb: Kb, pool: Pool, public_client: AppClient) -> Kb:
    result = kb(
        "configure",
        "--user-pool-id",
        pool.id,
        "--client-id",
        public_client.id,
        "--domain",
        "auth.example.test",
        "--redirect-uri",
        "http://localhost:8765/callback",
        "--no-verify",
    )
    assert result.exit_code == 0, result.output
    return kb


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("", "nothing was pasted"),
        ("just some words", "no authorization code"),
        ("http://localhost:8765/callback?code=abc&state=not-ours", "does not belong"),
        ("http://localhost:8765/callback?code=a&code=b&state=s", "more than once"),
    ],
)
def test_paste_login_refuses_what_is_not_its_redirect(
    hosted: Kb, pasted: str, message: str
) -> None:
    result = hosted("login", "--paste", input=pasted + "\n")
    assert result.exit_code == 2, result.output
    assert "https://auth.example.test/oauth2/authorize?" in result.stderr
    assert message in result.stderr


def test_paste_login_reports_a_refusal_by_the_provider(hosted: Kb) -> None:
    result = hosted(
        "login", "--paste", input="http://localhost:8765/callback?error=access_denied\n"
    )
    assert result.exit_code == 1
    assert "access_denied" in result.stderr


def test_paste_login_with_no_input_exits_2(hosted: Kb) -> None:
    result = hosted("login", "--paste", input="")
    assert result.exit_code == 2
    assert "standard input" in result.stderr


def test_browser_login_needs_a_redirect_uri(hosted: Kb) -> None:
    hosted("configure", "--redirect-uri", "")
    result = hosted("login")  # a domain makes the browser the default
    assert result.exit_code == 2
    assert "redirect_uri" in result.stderr


def test_browser_login_without_a_domain_is_refused(configured: Kb) -> None:
    result = configured("login", "--browser")
    assert result.exit_code == 2
    assert "domain" in result.stderr


# -- the real entry point, in a process of its own --


def test_the_installed_command_end_to_end(
    tmp_path: Path,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
    api: ProtectedApi,
    person: Person,
) -> None:
    assert ENTRY_POINT.exists(), "run `pip install -e .` to install the keybearer command"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYBEARER_")}
    env.pop("NO_COLOR", None)
    env["KEYBEARER_CONFIG"] = str(tmp_path / "config.toml")
    env["KEYBEARER_STORE"] = f"file:{tmp_path / 'tokens.json'}"
    outputs: list[tuple[str, str]] = []
    token_file = tmp_path / "tokens.json"
    secrets: set[str] = set()

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(ENTRY_POINT), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if args[0] != "token":
            outputs.append((done.stdout, done.stderr))
        if token_file.exists():
            for value in json.loads(token_file.read_text()).values():
                secrets.update(v for v in json.loads(value).values() if isinstance(v, str))
        return done

    flags = stand_in_flags(cognito, pool, public_client)
    assert run("configure", *flags, "--api-url", api.url).returncode == 0
    assert run("whoami").returncode == 3
    login = run("login", "-u", person.username, "--password-stdin", input=person.password + "\n")
    assert login.returncode == 0, login.stderr
    assert json.loads(run("whoami", "--json").stdout)["username"] == person.username

    token = run("token")
    assert token.returncode == 0
    raw = token.stdout.strip()
    accepted = httpx.get(f"{api.url}/pets", headers={"Authorization": f"Bearer {raw}"})
    assert accepted.status_code == 200
    assert token.stderr == ""

    assert run("get", "/pets").returncode == 0
    assert run("get", "/admin").returncode == 1
    profiles = json.loads(run("profiles", "--json").stdout)
    assert profiles["profiles"][0]["live"] is True
    assert run("logout").returncode == 0
    assert run("whoami").returncode == 3
    assert run("configure", "--send", "both").returncode == 2

    assert raw in secrets
    secrets = {s for s in secrets if len(s) > 40}  # tokens, not "password" or "Bearer"
    assert len(secrets) >= 3  # ID, access and refresh token at least
    for stdout, stderr in outputs:
        for secret in secrets:
            assert secret not in stdout + stderr


def test_shell_completion_offers_profile_names(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.dev]\nclient_id = "x"\n\n[profiles.prod]\nclient_id = "y"\n')
    env = dict(os.environ, KEYBEARER_CONFIG=str(config), _KEYBEARER_COMPLETE="bash_complete")
    env.update(COMP_WORDS="keybearer whoami --profile p", COMP_CWORD="3")
    done = subprocess.run(
        [str(ENTRY_POINT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0
    assert "prod" in done.stdout
    assert "dev" not in done.stdout


def test_completion_prints_the_shell_script(kb: Kb) -> None:
    result = kb("completion", "bash")
    assert result.exit_code == 0
    assert "_KEYBEARER_COMPLETE=bash_complete" in result.stdout


def test_importing_the_library_imports_no_cli_dependency() -> None:
    # httpx itself imports click when its optional CLI extra is half there (its
    # __init__ tries `from ._main import main`); that is httpx's import, not
    # ours, so it is taken out of the picture here.
    code = (
        "import sys\n"
        "sys.modules['httpx._main'] = None\n"
        "import keybearer\n"
        "keybearer.OAuthClient, keybearer.TokenSet, keybearer.errors\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('click', 'platformdirs')\n"
        "          or m in ('keybearer.cli', 'keybearer._profiles', 'tomllib', 'tomli')]\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


# -- browser login, against the oidc-provider peer --

LOOPBACK = "http://127.0.0.1:0/callback"


@pytest.fixture
def peer_api(oidc: OidcPeer) -> Iterator[ProtectedApi]:
    with ProtectedApi(oidc.jwks_url, oidc.issuer, [oidc.public_client.id]) as protected:
        yield protected


def fake_browser(monkeypatch: pytest.MonkeyPatch, oidc: OidcPeer) -> list[str]:
    """Stand in for the person at the browser: sign alice in, follow the redirect."""
    opened: list[str] = []

    def open_url(url: str, new: int = 0, autoraise: bool = True) -> bool:
        opened.append(url)
        httpx.get(sign_in(url, oidc.user.username, oidc.user.password), timeout=10)
        return True

    monkeypatch.setattr("webbrowser.open", open_url)
    return opened


def test_browser_login_with_an_oidc_profile(
    kb: Kb, oidc_clean: OidcPeer, peer_api: ProtectedApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    oidc = oidc_clean
    configured = kb(
        "configure",
        "--issuer",
        oidc.issuer,
        "--client-id",
        oidc.public_client.id,
        "--redirect-uri",
        LOOPBACK,
        "--scopes",
        "openid email",
        "--api-url",
        peer_api.url,
    )
    assert configured.exit_code == 0, configured.output
    opened = fake_browser(monkeypatch, oidc)

    result = kb("login", "--json")  # the browser is the default for an OIDC profile

    assert result.exit_code == 0, result.output
    assert len(opened) == 1
    assert opened[0] in result.stderr  # the link is shown too
    assert "Waiting up to 5 min" in result.stderr
    assert json.loads(result.stdout)["origin"] == "hosted_ui"
    info = json.loads(kb("whoami", "--json").stdout)
    assert info["email"] == oidc.user.email
    assert info["provider"] == "oidc"
    assert kb("get", "/pets").exit_code == 0
    assert kb("logout").exit_code == 0
    assert oidc.counts()["revoke"] == 1


def test_paste_login_with_a_cognito_domain_profile(
    kb: Kb, oidc_clean: OidcPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    oidc = oidc_clean
    configured = kb(
        "configure",
        "--user-pool-id",
        "us-east-1_Peer1",
        "--client-id",
        oidc.public_client.id,
        "--domain",
        oidc.url,
        "--cognito-issuer",
        oidc.issuer,
        "--jwks-url",
        oidc.jwks_url,
        "--redirect-uri",
        "http://localhost:8765/callback",
        "--scopes",
        "openid email",
    )
    assert configured.exit_code == 0, configured.output
    shown: list[str] = []
    real_say = terminal.say

    def say(text: str = "", **kwargs: Any) -> None:
        shown.append(text)
        real_say(text, **kwargs)

    def paste(prompt: str, **kwargs: Any) -> str:
        (url,) = [line.strip() for line in shown if "/oauth2/authorize?" in line]
        return sign_in(url, oidc.user.username, oidc.user.password)  # the address bar

    monkeypatch.setattr(terminal, "say", say)
    monkeypatch.setattr(terminal, "ask", paste)

    result = kb("login", "--paste")

    assert result.exit_code == 0, result.output
    assert oidc.user.username in result.stdout
    assert oidc.counts()["token:authorization_code"] == 1


def test_browser_login_counts_down_and_times_out(
    hosted: Kb, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosted("configure", "--redirect-uri", LOOPBACK)
    monkeypatch.setattr(terminal, "stderr_is_tty", lambda: True)

    result = hosted("login", "--browser", "--no-browser", "--timeout", "1")

    assert result.exit_code == 1
    assert "https://auth.example.test/oauth2/authorize?" in result.stderr
    assert "Open this URL in a browser to sign in" in result.stderr
    assert "If it does not open" not in result.stderr  # --no-browser: nothing to open
    assert "Waiting for the sign-in in the browser (0:0" in result.stderr
    assert "keybearer login --paste" in result.stderr


# -- challenges, answered by a person at a terminal --


class FakeClient:
    """Records what the command answers; gives tokens back."""

    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []

    def respond(self, challenge: Any, **answers: Any) -> str:
        self.answers.append({"challenge": challenge, **answers})
        return "tokens"

    def begin_totp_setup(self, challenge: MfaSetup) -> TotpSetup:
        return TotpSetup(challenge, SecretStr("JBSWY3DPEHPK3PXP"), SecretStr("session-2"))


def answer(
    challenge: Any, typed: str, monkeypatch: pytest.MonkeyPatch, tty: bool = True
) -> tuple[FakeClient, str]:
    monkeypatch.setattr(terminal, "stdin_is_tty", lambda: tty)
    monkeypatch.setattr(terminal, "stderr_is_tty", lambda: tty)
    client = FakeClient()
    runner = CliRunner()
    with runner.isolation(input=typed) as (_, err, _both):
        challenges.answer(client, challenge)  # type: ignore[arg-type]
        shown = err.getvalue().decode()
    return client, shown


def common(name: str) -> dict[str, Any]:
    return {"name": name, "session": SecretStr("session-1"), "username": "alice"}


def test_an_mfa_code_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    challenge = SmsMfa(**common("SMS_MFA"), parameters={"CODE_DELIVERY_DESTINATION": "+***12"})
    client, shown = answer(challenge, "123456\n", monkeypatch)
    assert client.answers[0]["code"] == "123456"
    assert "Code sent by SMS to +***12" in shown


def test_the_mfa_type_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    challenge = SelectMfaType(
        **common("SELECT_MFA_TYPE"), options=("SMS_MFA", "SOFTWARE_TOKEN_MFA")
    )
    client, shown = answer(challenge, "EMAIL\nSOFTWARE_TOKEN_MFA\n", monkeypatch)
    assert client.answers[0]["mfa"] == "SOFTWARE_TOKEN_MFA"
    assert "SMS_MFA, SOFTWARE_TOKEN_MFA" in shown
    assert "keybearer: choose one of SMS_MFA, SOFTWARE_TOKEN_MFA" in shown  # asked again
    assert "Error:" not in shown


def test_required_attributes_are_asked_with_the_new_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    challenge = NewPasswordRequired(
        **common("NEW_PASSWORD_REQUIRED"), required_attributes=("email",)
    )
    client, shown = answer(challenge, "New-Pass-1\nNew-Pass-1\nme@example.test\n", monkeypatch)
    assert client.answers[0]["new_password"] == "New-Pass-1"
    assert client.answers[0]["attributes"] == {"email": "me@example.test"}
    assert "New-Pass-1" not in shown


def test_totp_setup_warns_before_showing_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    challenge = MfaSetup(**common("MFA_SETUP"), options=("SOFTWARE_TOKEN_MFA",))
    client, shown = answer(challenge, "y\n654321\n", monkeypatch)
    assert shown.index("Anyone who sees it") < shown.index("otpauth://totp/")
    assert "JBSWY3DPEHPK3PXP" in shown
    assert isinstance(client.answers[0]["challenge"], TotpSetup)
    assert client.answers[0]["code"] == "654321"


def test_totp_setup_is_refused_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    challenge = MfaSetup(**common("MFA_SETUP"), options=("SOFTWARE_TOKEN_MFA",))
    with pytest.raises(cli.CliError, match="in a terminal"):
        answer(challenge, "", monkeypatch, tty=False)
