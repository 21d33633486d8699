"""``keybearer doctor``: the checklist, its exit codes and its JSON, against the stand-ins.

The command runs in-process with its own config file and a FileStore in
``tmp_path``, as in test_cli.py; after each test every output is checked
against every token the store ever held (doctor never prints one, not even
the signature part). The API is the conftest's ProtectedApi or the
authorizer built on ``CognitoVerifier.authorize`` from test_authorizer_api.py.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from keybearer.cli import terminal
from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi
from peers.oidc_peer import OidcPeer
from support import Person
from test_authorizer_api import AuthorizerApi
from test_cli import ENTRY_POINT, Kb, fake_browser, stand_in_flags
from test_token_scoping import Proxy

#: Every check of a Cognito profile with an API, in the order they are listed.
ALL_CHECKS = [
    "config",
    "jwks",
    "session",
    "token",
    "token_use",
    "audience",
    "issuer",
    "scopes",
    "expiry",
    "signature",
    "api",
    "header",
    "clock",
]
REFRESHES = "InitiateAuth:REFRESH_TOKEN_AUTH"


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


def configure(kb: Kb, cognito: LocalCognito, pool: Pool, app: AppClient, *flags: str) -> None:
    result = kb("configure", *stand_in_flags(cognito, pool, app), *flags)
    assert result.exit_code == 0, result.output


def allow(kb: Kb, authorizer: AuthorizerApi) -> None:
    """Let the profile send its token to the authorizer API too (doctor checks that)."""
    result = kb("configure", "--api-hosts", authorizer.url)
    assert result.exit_code == 0, result.output


def login(kb: Kb, person: Person) -> None:
    result = kb("login", "-u", person.username, "--password-stdin", input=person.password)
    assert result.exit_code == 0, result.output


@pytest.fixture
def configured(
    kb: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient, api: ProtectedApi
) -> Kb:
    configure(kb, cognito, pool, public_client, "--api-url", api.url)
    return kb


@pytest.fixture
def signed_in(configured: Kb, person: Person) -> Kb:
    login(configured, person)
    return configured


def report(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def checks(result: Result) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report(result)["checks"]}


def line(result: Result, name: str) -> str:
    """The checklist line of check ``name`` (status, name, detail)."""
    for text in result.stdout.splitlines():
        parts = text.split()
        if len(parts) >= 2 and parts[1] == name:
            return text
    raise AssertionError(f"no {name!r} line in:\n{result.stdout}")


def assert_no_token_shown(kb: Kb, result: Result) -> None:
    kb.collect()
    assert kb.secrets, "the store should hold tokens"
    for secret in kb.secrets:
        assert secret not in result.stdout + result.stderr


# -- all green --


def test_all_green_prints_a_checklist_and_exits_0(signed_in: Kb, api: ProtectedApi) -> None:
    result = signed_in("doctor")

    assert result.exit_code == 0, result.output
    for name in ALL_CHECKS:
        assert line(result, name).startswith("ok "), line(result, name)
    assert "All checks passed." in result.stdout
    assert f"GET {api.url}: HTTP 200" in line(result, "api")
    assert "Bearer <id token>" in line(result, "token")
    assert "\x1b[" not in result.stdout + result.stderr  # not a terminal: no colour
    assert result.stderr == ""
    assert_no_token_shown(signed_in, result)


def test_all_green_as_json(signed_in: Kb, api: ProtectedApi) -> None:
    result = signed_in("doctor", "--json", "--api", "/pets")

    assert result.exit_code == 0, result.output
    data = report(result)
    assert data["ok"] is True
    assert data["exit_code"] == 0
    assert data["profile"] == "default"
    assert data["config"] == str(signed_in.config)
    assert data["api_url"] == f"{api.url}/pets"
    assert data["diagnosis"] is None
    assert [c["name"] for c in data["checks"]] == ALL_CHECKS
    assert {c["status"] for c in data["checks"]} == {"ok"}
    by_name = checks(result)
    assert by_name["api"]["value"] == 200
    assert 3000 < by_name["expiry"]["value"] <= 3600
    assert abs(by_name["clock"]["value"]) <= 2
    assert set(by_name["config"]) == {"name", "status", "detail"}
    assert_no_token_shown(signed_in, result)


def test_the_authorizer_api_with_the_access_token(
    kb: Kb,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
    person: Person,
    authorizer: AuthorizerApi,
) -> None:
    configure(kb, cognito, pool, public_client, "--api-url", authorizer.url, "--send", "access")
    login(kb, person)

    result = kb("doctor", "--api", "/me")

    assert result.exit_code == 0, result.output
    assert "Bearer <access token>" in line(result, "token")
    assert "client_id" in line(result, "audience")
    assert line(result, "scopes").startswith("warn ")  # no custom scope: said, not failed
    assert "USER_PASSWORD_AUTH" in line(result, "scopes")
    assert authorizer.last().reason == "method scopes: access token carries " + repr(
        "aws.cognito.signin.user.admin"
    )
    assert "All checks passed, 1 with a warning." in result.stdout


def test_without_an_api_the_api_check_is_skipped(
    kb: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient, person: Person
) -> None:
    configure(kb, cognito, pool, public_client)
    login(kb, person)

    result = kb("doctor", "--json")

    assert result.exit_code == 0, result.output
    assert checks(result)["api"]["status"] == "skip"
    assert "--api URL" in checks(result)["api"]["detail"]
    assert "clock" not in checks(result)


def test_colour_only_where_cli_allows_it(signed_in: Kb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terminal, "colour", lambda stream: True)
    coloured = signed_in("doctor")
    assert "\x1b[32m" in coloured.stdout  # green "ok"
    assert "\x1b[" not in signed_in("doctor", "--json").stdout


def test_on_a_terminal_the_checklist_wraps_to_its_width(
    signed_in: Kb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terminal, "stdout_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "72")
    monkeypatch.setenv("NO_COLOR", "1")
    result = signed_in("get", "/admin")  # a refusal: the report gets a diagnosis too
    shown = signed_in("doctor", "--api", "/admin")
    assert shown.exit_code == 1
    lines = re.sub(r"\x1b\[[0-9;]*m", "", shown.stdout).splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 72
    assert any(line.startswith("ok") and "signature" in line for line in lines)
    assert any(line.startswith("Why the API answered 401") for line in lines)
    assert "\x1b[3" not in shown.stdout  # NO_COLOR: no colour, even on a terminal
    assert result.exit_code == 1


# -- not signed in, a dead session, a bad configuration --


def test_not_signed_in_exits_3(configured: Kb) -> None:
    result = configured("doctor")

    assert result.exit_code == 3
    assert line(result, "config").startswith("ok ")
    assert line(result, "jwks").startswith("ok ")
    assert line(result, "session").startswith("fail")
    assert "keybearer login" in line(result, "session")
    as_json = configured("doctor", "--json", "--profile", "default")
    assert as_json.exit_code == 3
    data = report(as_json)
    assert data["exit_code"] == 3
    assert [c["name"] for c in data["checks"]] == ["config", "jwks", "session"]


def test_a_refused_refresh_is_a_dead_session_log_in_again(
    signed_in: Kb, cognito: LocalCognito
) -> None:
    # Make the stored token due for a refresh. The command runs in a process of
    # its own, as a user runs it, so that it reads the store afresh.
    entries = json.loads(signed_in.token_file.read_text())
    (key,) = [k for k in entries if k.startswith("cognito:")]
    tokens = json.loads(entries[key])
    tokens["expires_at"] = time.time() - 60
    entries[key] = json.dumps(tokens)
    signed_in.token_file.write_text(json.dumps(entries))
    cognito.fail_next(
        REFRESHES,
        status=400,
        error_type="NotAuthorizedException",
        message="Refresh Token has been revoked",
    )

    done = subprocess.run(
        [str(ENTRY_POINT), "doctor", "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
        check=False,
    )

    assert done.returncode == 3, done.stderr
    data = json.loads(done.stdout)
    session = {check["name"]: check for check in data["checks"]}["session"]
    assert session["status"] == "fail"
    assert "log in again" in session["detail"]
    assert "Refresh Token has been revoked" in session["detail"]
    assert "api" not in {check["name"] for check in data["checks"]}
    assert cognito.calls[REFRESHES] == 1
    for secret in signed_in.secrets:
        assert secret not in done.stdout + done.stderr


def test_a_bad_configuration_exits_2(kb: Kb) -> None:
    kb.config.write_text(
        '[profiles.default]\nuser_pool_id = "eu-west-1_Ok"\nclient_id = "abc"\nsend = "both"\n'
    )

    result = kb("doctor", "--json")

    assert result.exit_code == 2
    (check,) = report(result)["checks"]
    assert check["name"] == "config"
    assert check["status"] == "fail"
    assert "send" in check["detail"]
    assert str(kb.config) in check["detail"]
    assert kb("doctor").exit_code == 2


def test_an_api_path_without_an_api_url_exits_2(
    kb: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient, person: Person
) -> None:
    configure(kb, cognito, pool, public_client)
    login(kb, person)

    result = kb("doctor", "--api", "/pets")

    assert result.exit_code == 2
    assert "--api-url URL" in line(result, "api")


def test_a_profile_from_the_environment_alone_is_described_so(
    kb: Kb,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEYBEARER_USER_POOL_ID", pool.id)
    monkeypatch.setenv("KEYBEARER_CLIENT_ID", public_client.id)
    monkeypatch.setenv("KEYBEARER_IDP_URL", cognito.url)
    monkeypatch.setenv("KEYBEARER_JWKS_URL", pool.jwks_url)

    result = kb("doctor", "--json")

    assert result.exit_code == 3  # configured, keys reachable, nobody signed in
    config = checks(result)["config"]
    assert config["status"] == "ok"
    assert f"not in {kb.config}" in config["detail"]
    assert "KEYBEARER_USER_POOL_ID" in config["detail"]
    assert checks(result)["jwks"]["status"] == "ok"


def test_doctor_sends_no_token_to_a_host_the_profile_never_named(
    signed_in: Kb, authorizer: AuthorizerApi
) -> None:
    result = signed_in("doctor", "--api", f"{authorizer.url}/me")

    assert result.exit_code == 2
    assert "refusing to send the token" in line(result, "api")
    assert authorizer.decisions == []


def test_a_token_is_never_sent_over_plain_http_to_another_host(signed_in: Kb) -> None:
    result = signed_in("doctor", "--api", "http://api.example.test/pets")

    assert result.exit_code == 2
    assert "https" in line(result, "api")


def test_an_unreachable_jwks_fails_that_check(
    kb: Kb, cognito: LocalCognito, pool: Pool, public_client: AppClient, person: Person
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    jwks_url = f"http://127.0.0.1:{closed}/.well-known/jwks.json"
    result = kb(
        "configure",
        "--user-pool-id",
        pool.id,
        "--client-id",
        public_client.id,
        "--idp-url",
        cognito.url,
        "--jwks-url",
        jwks_url,
        "--no-verify",
    )
    assert result.exit_code == 0, result.output
    login(kb, person)

    started = time.monotonic()
    result = kb("doctor")

    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    jwks = line(result, "jwks")
    assert jwks.startswith("fail")
    assert f"could not reach http://127.0.0.1:{closed}" in jwks
    assert line(result, "signature").startswith("skip")
    assert line(result, "session").startswith("ok ")
    assert "1 check failed." in result.stdout


# -- the API refuses --


def test_an_id_token_to_a_scoped_method_exits_1_with_the_diagnosis(
    signed_in: Kb, authorizer: AuthorizerApi
) -> None:
    allow(signed_in, authorizer)
    result = signed_in("doctor", "--api", f"{authorizer.url}/me")

    assert result.exit_code == 1
    assert line(result, "api").startswith("fail")
    assert "HTTP 401" in line(result, "api")
    assert "Why the API answered 401: " in result.stdout
    assert "Fix: " in result.stdout
    assert "keybearer configure --send access" in result.stdout
    assert "send='" not in result.stdout  # the command line's spelling, not Python's
    probe = line(result, "probe")
    assert probe.startswith("fail")
    assert "access token gets HTTP 200" in probe
    assert "keybearer configure --send access" in probe
    assert "docs/why-401.md" in result.stdout
    assert result.stderr == ""  # the auth's own warning is not repeated
    assert_no_token_shown(signed_in, result)


def test_an_access_token_to_a_method_without_scopes_is_told_send_id(
    kb: Kb,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
    person: Person,
    authorizer: AuthorizerApi,
) -> None:
    configure(kb, cognito, pool, public_client, "--api-url", authorizer.url, "--send", "access")
    login(kb, person)

    result = kb("doctor", "--json", "--api", "/pets")

    assert result.exit_code == 1
    data = report(result)
    assert data["diagnosis"]["status"] == 401
    assert "send='id'" in data["diagnosis"]["fix"]
    assert data["diagnosis"]["details"]["refreshed_and_retried"] is True
    probe = checks(result)["probe"]
    assert probe["status"] == "fail"
    assert "--send id" in probe["detail"]
    assert_no_token_shown(kb, result)


def test_a_missing_scope_is_not_blamed_on_the_token_kind(
    kb: Kb,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
    person: Person,
    authorizer: AuthorizerApi,
) -> None:
    configure(kb, cognito, pool, public_client, "--api-url", authorizer.url, "--send", "access")
    login(kb, person)

    result = kb("doctor", "--api", "/pets/write")

    assert result.exit_code == 1
    assert "USER_PASSWORD_AUTH" in result.stdout
    assert "keybearer login --browser" in result.stdout
    probe = line(result, "probe")
    assert probe.startswith("warn")
    assert "refused with the ID token and with the bare access token too" in probe


def test_a_wrong_path_is_named(signed_in: Kb, authorizer: AuthorizerApi) -> None:
    allow(signed_in, authorizer)
    result = signed_in("doctor", "--api", f"{authorizer.url}/nope")

    assert result.exit_code == 1
    assert "HTTP 403" in line(result, "api")
    assert "Missing Authentication Token" in result.stdout
    assert "no such path" in result.stdout
    assert "probe" not in result.stdout.split()


def test_an_api_clock_hours_ahead_fails_the_clock_check(
    signed_in: Kb, authorizer: AuthorizerApi, cognito: LocalCognito
) -> None:
    allow(signed_in, authorizer)
    authorizer.clock = lambda: time.time() + 3 * 3600

    result = signed_in("doctor", "--json", "--api", f"{authorizer.url}/pets")

    assert result.exit_code == 1
    by_name = checks(result)
    assert by_name["expiry"]["status"] == "ok"  # fine by this machine's clock
    assert by_name["clock"]["status"] == "fail"
    assert (
        "the API's clock is 180 minutes ahead of this machine's and the token issuer's"
        in by_name["clock"]["detail"]
    )
    assert "API server's clock" in by_name["clock"]["detail"]
    assert "180 minutes" in report(result)["diagnosis"]["cause"]
    assert by_name["probe"]["status"] == "warn"
    assert cognito.calls[REFRESHES] == 1  # the one refresh-and-retry


def test_the_protected_api_refusal_exits_1(signed_in: Kb) -> None:
    result = signed_in("doctor", "--api", "/admin")

    assert result.exit_code == 1
    assert "OAuth scopes" in result.stdout
    assert "1 check failed, 1 warning." in result.stdout  # the probe: refused with both


# -- an OpenID Connect profile --


def test_an_oidc_profile_checks_discovery_and_verifies_with_its_jwks(
    kb: Kb, oidc_clean: OidcPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    oidc = oidc_clean
    with ProtectedApi(oidc.jwks_url, oidc.issuer, [oidc.public_client.id]) as peer_api:
        configured = kb(
            "configure",
            "--issuer",
            oidc.issuer,
            "--client-id",
            oidc.public_client.id,
            "--redirect-uri",
            "http://127.0.0.1:0/callback",
            "--api-url",
            peer_api.url,
        )
        assert configured.exit_code == 0, configured.output
        fake_browser(monkeypatch, oidc)
        assert kb("login").exit_code == 0

        result = kb("doctor", "--json", "--api", "/pets")

    assert result.exit_code == 0, result.output
    by_name = checks(result)
    assert by_name["discovery"]["status"] == "ok"
    assert oidc.issuer in by_name["discovery"]["detail"]
    assert by_name["jwks"]["status"] == "ok"
    assert by_name["signature"]["status"] == "ok"
    assert {check["status"] for check in by_name.values()} <= {"ok", "warn"}
    assert by_name["api"]["value"] == 200


# -- the command line --


def test_doctor_has_help_and_is_listed(kb: Kb) -> None:
    helped = kb("doctor", "--help")
    assert helped.exit_code == 0
    assert "--api URL|PATH" in helped.stdout
    assert "  doctor " in kb("--help").stdout


def test_a_proxy_in_the_environment_never_sees_doctors_loopback_calls(
    signed_in: Kb, api: ProtectedApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Doctor's own clients (provider, JWKS, the 401 probe) follow the proxy rule too."""
    assert signed_in("doctor").exit_code == 0  # the stand-in API has its keys before the proxy
    proxy = Proxy()
    try:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy", "all_proxy"):
            monkeypatch.delenv(name, raising=False)

        result = signed_in("doctor")
    finally:
        proxy.stop()

    assert result.exit_code == 0, result.output
    assert proxy.connections == 0
