"""keybearer's pytest plugin: the fixtures an app uses, the shape check, and its manners."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import keybearer
import keybearer.testing.plugin
from keybearer.testing import FrozenClock, LocalCognito, Pool, ProtectedApi, User
from keybearer.testing._dispatch import Call, Reply
from keybearer.testing._shapes import ShapeChecker

ROOT = Path(__file__).resolve().parent.parent


def test_the_plugin_is_registered_through_the_pytest11_entry_point(
    pytestconfig: pytest.Config,
) -> None:
    entry_points = importlib.metadata.entry_points(group="pytest11")
    assert [e.value for e in entry_points if e.name == "keybearer"] == ["keybearer.testing.plugin"]
    assert pytestconfig.pluginmanager.get_plugin("keybearer") is keybearer.testing.plugin


def test_an_app_test_needs_only_the_fixtures(
    keybearer_client: keybearer.OAuthClient,
    cognito_user: Callable[..., User],
    protected_api: ProtectedApi,
) -> None:
    user = cognito_user(attributes={"email": "pat@example.test"})
    keybearer_client.login_password(user.username, user.password)

    with keybearer_client.http(base_url=protected_api.url) as http:
        pets = http.get("/pets")
        me = http.get("/me")

    assert pets.status_code == 200
    assert me.json()["username"] == user.username
    assert protected_api.requests[-1].token_use == "id"


def test_advance_expires_the_token_and_the_client_refreshes_once(
    keybearer_client: keybearer.OAuthClient,
    cognito_user: Callable[..., User],
    protected_api: ProtectedApi,
    local_cognito: LocalCognito,
    advance: Callable[[float], float],
    frozen_clock: FrozenClock,
) -> None:
    user = cognito_user()
    first = keybearer_client.login_password(user.username, user.password)
    assert isinstance(first, keybearer.TokenSet)
    assert local_cognito.clock is frozen_clock
    assert protected_api.clock is frozen_clock

    advance(3600)
    with keybearer_client.http(base_url=protected_api.url) as http:
        assert http.get("/pets").status_code == 200

    assert local_cognito.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 1
    tokens = keybearer_client.tokens
    assert tokens is not None
    assert tokens.expires_at == frozen_clock() + 3600


def test_cognito_user_makes_challenges(
    keybearer_client: keybearer.OAuthClient, cognito_user: Callable[..., User]
) -> None:
    temporary = cognito_user(temporary=True)
    with_mfa = cognito_user(mfa="SOFTWARE_TOKEN_MFA")

    new_password = keybearer_client.login_password(temporary.username, temporary.password)
    mfa = keybearer_client.login_password(with_mfa.username, with_mfa.password)

    assert isinstance(new_password, keybearer.NewPasswordRequired)
    assert isinstance(mfa, keybearer.SoftwareTokenMfa)


def test_protected_api_with_scopes_wants_an_access_token(
    keybearer_client: keybearer.OAuthClient,
    cognito_user: Callable[..., User],
    protected_api: ProtectedApi,
) -> None:
    user = cognito_user()
    keybearer_client.login_password(user.username, user.password)
    protected_api.require_scopes("/admin", ["https://api.example.test/admin"])

    with keybearer_client.http(base_url=protected_api.url) as http:
        refused = http.get("/admin")

    assert refused.status_code == 401
    assert protected_api.requests[-1].reason == "route has scopes: an access token is required"


def test_after_a_test_the_servers_are_back_on_the_real_clock(
    local_cognito: LocalCognito, protected_api: ProtectedApi
) -> None:
    assert not isinstance(local_cognito.clock, FrozenClock)
    assert not isinstance(protected_api.clock, FrozenClock)
    assert protected_api.requests == []


# --- the shape check ---------------------------------------------------------------------


def exchange(operation: str, request: object, status: int, answer: object) -> list[str]:
    call = Call(operation, "/", "POST", {}, json.dumps(request).encode())
    reply = Reply(status, json.dumps(answer).encode())
    return CHECKER.check(call, reply)


CHECKER = ShapeChecker()
TOKEN = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"


def test_a_valid_exchange_has_no_violations() -> None:
    request = {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": "c" * 26,
        "AuthParameters": {"USERNAME": "u", "PASSWORD": "p"},
    }
    result = {"AccessToken": TOKEN, "IdToken": TOKEN, "ExpiresIn": 3600, "TokenType": "Bearer"}

    assert exchange("InitiateAuth", request, 200, {"AuthenticationResult": result}) == []


def test_the_shape_check_catches_bad_requests_and_answers_without_showing_values() -> None:
    request = {"ClientId": "c" * 26, "AuthParameters": {"PASSWORD": "hunter2-secret"}, "Oops": 1}
    answer = {
        "AuthenticationResult": {"AccessToken": TOKEN, "ExpiresIn": "3600", "Extra": True},
        "ChallengeName": "NOT_A_CHALLENGE",
    }
    found = "\n".join(exchange("InitiateAuth", request, 200, answer))

    assert "AuthFlow" in found  # required, missing
    assert "Oops" in found  # unknown parameter
    assert "ExpiresIn: expected an integer" in found
    assert "Extra: not a member of AuthenticationResultType" in found
    assert "'NOT_A_CHALLENGE' is not one of ChallengeNameType's values" in found
    assert "hunter2-secret" not in found
    assert TOKEN not in found


def test_the_shape_check_knows_which_errors_an_operation_declares() -> None:
    declared = {"__type": "NotAuthorizedException", "message": "Incorrect username or password."}
    undeclared = {"__type": "RefreshTokenReuseException", "message": "no"}

    assert exchange("GetTokensFromRefreshToken", {}, 400, undeclared) != []  # missing members
    assert exchange("InitiateAuth", {"AuthFlow": "X", "ClientId": "c"}, 400, declared) == []
    assert exchange("InitiateAuth", {"AuthFlow": "X", "ClientId": "c"}, 400, undeclared) == [
        "InitiateAuth error: RefreshTokenReuseException is not an error InitiateAuth declares"
    ]


def test_answers_planned_with_fail_next_are_not_checked(
    local_cognito: LocalCognito,
) -> None:
    checker = ShapeChecker()
    local_cognito.add_observer(checker)
    try:
        local_cognito.fail_next("GetUser", status=400, error_type="Made-up", body=b"not json")
        planned = httpx.post(
            local_cognito.url,
            content=b"{}",
            headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.GetUser"},
        )
    finally:
        local_cognito.remove_observer(checker)
    assert planned.status_code == 400
    assert checker.take() == []


PROJECT_TEST = """
    import httpx


    def test_sends_a_request_the_model_refuses(local_cognito):
        httpx.post(
            local_cognito.url,
            content=b'{"Unknown": 1}',
            headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.GetUser",
                     "Content-Type": "application/x-amz-json-1.1"},
        )
"""


def run_pytest(
    tmp_path: Path, test_source: str, conftest: str = ""
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_app.py").write_text(textwrap.dedent(test_source))
    (tmp_path / "conftest.py").write_text(textwrap.dedent(conftest))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_app_whose_request_breaks_the_model_gets_a_failing_test(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, PROJECT_TEST)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "do not fit botocore's service model" in result.stdout
    assert "GetUser request" in result.stdout
    assert "1 passed, 1 error" in result.stdout


def test_without_moto_the_fixtures_fail_clearly_and_other_tests_still_run(tmp_path: Path) -> None:
    hide_moto = """
        import sys

        sys.modules["moto"] = None  # as if the testing extra were not installed
    """
    tests = """
        def test_uses_the_fixture(local_cognito):
            pass


        def test_plain():
            assert 1 + 1 == 2
    """
    result = run_pytest(tmp_path, tests, hide_moto)

    assert "1 passed, 1 error" in result.stdout, result.stdout + result.stderr
    assert "need moto" in result.stdout
    assert "pip install 'keybearer[testing]'" in result.stdout


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, keybearer.testing.plugin\n"
        "heavy = ['moto', 'boto3', 'botocore', 'httpx', 'cryptography', 'keybearer._client']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert shown.stdout.strip() == "[]"


def test_the_example_app_test_passes(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_my_app.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_protected_api_takes_an_m2m_client_made_in_the_test(
    local_cognito: LocalCognito, cognito_pool: Pool, protected_api: ProtectedApi
) -> None:
    scopes = local_cognito.create_resource_server(
        cognito_pool, f"https://api-{uuid.uuid4().hex[:8]}.example.test", ["pets.read"]
    )
    worker = local_cognito.create_app_client(
        cognito_pool,
        secret=True,
        flows=("ALLOW_CLIENT_TOKEN_AUTH",),
        oauth_flows=("client_credentials",),
        scopes=scopes,
    )
    form = {"grant_type": "client_credentials", "scope": scopes[0]}
    assert worker.secret is not None
    answer = httpx.post(
        f"{local_cognito.domain_url}/oauth2/token", data=form, auth=(worker.id, worker.secret)
    )
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    protected_api.require_scopes("/pets", scopes)

    assert httpx.get(f"{protected_api.url}/pets", headers=headers).status_code == 401
    protected_api.allow_clients(worker.id)
    assert httpx.get(f"{protected_api.url}/pets", headers=headers).status_code == 200


@pytest.mark.keybearer_no_shape_check
def test_the_marker_turns_the_shape_check_off(local_cognito: LocalCognito) -> None:
    # Without the marker this test would error at teardown (see the subprocess test above).
    answer = httpx.post(
        local_cognito.url,
        content=b'{"Unknown": 1}',
        headers={
            "X-Amz-Target": "AWSCognitoIdentityProviderService.GetUser",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert answer.status_code == 400
