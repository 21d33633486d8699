"""The examples run as a user runs them, in a new process, and never print a secret."""

from __future__ import annotations

import builtins
import getpass
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi, User
from peers.oidc_peer import OidcPeer, sign_in

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "examples"
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
    assert steps == [str(n) for n in range(1, 8)]  # as README and the docstring number them
    assert output.rstrip().splitlines()[-1].startswith("Done in ")
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


@pytest.mark.parametrize(
    "name", ["quickstart", "password_login", "async_app", "desktop_login", "cli_session_local"]
)
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


# -- browser sign-in: examples/desktop_login.py and examples/notebook.ipynb --

#: What the examples read; each test starts without any of them.
BROWSER_SETTINGS = (
    "OIDC_ISSUER",
    "COGNITO_USER_POOL_ID",
    "COGNITO_CLIENT_ID",
    "COGNITO_CLIENT_SECRET",
    "COGNITO_TOKEN_AUTH",
    "COGNITO_DOMAIN",
    "COGNITO_REDIRECT_URI",
    "COGNITO_LOGOUT_URI",
    "COGNITO_SCOPES",
    "API_URL",
    "API_PATH",
    "API_SEND",
    "KEYBEARER_TOKEN_FILE",
    "KEYBEARER_SIGN_IN_COMMAND",
)


def test_desktop_login_help_needs_no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in BROWSER_SETTINGS:
        monkeypatch.delenv(name, raising=False)

    output = run_example("desktop_login", "--help")

    assert "usage: desktop_login.py" in output
    for word in ("--logout", "--paste", "--timeout", "COGNITO_DOMAIN", "COGNITO_REDIRECT_URI"):
        assert word in output
    assert "Traceback" not in output


def test_desktop_login_names_a_missing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in BROWSER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    desktop_login = load_example("desktop_login")

    with pytest.raises(SystemExit, match="COGNITO_CLIENT_ID"):
        desktop_login.main([])


@pytest.fixture
def peer_api(oidc: OidcPeer) -> Iterator[ProtectedApi]:
    """An API that accepts the peer's ID tokens, like a Cognito authorizer."""
    with ProtectedApi(oidc.jwks_url, oidc.issuer, [oidc.public_client.id]) as api:
        yield api


@pytest.fixture
def browser_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, oidc_clean: OidcPeer, peer_api: ProtectedApi
) -> OidcPeer:
    """The examples' settings, pointing at the OIDC peer (a hosted-UI stand-in) and its API."""
    for name in BROWSER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OIDC_ISSUER", oidc_clean.issuer)
    monkeypatch.setenv("COGNITO_CLIENT_ID", oidc_clean.public_client.id)
    # The peer accepts any loopback port (Cognito would want the registered one).
    monkeypatch.setenv("COGNITO_REDIRECT_URI", "http://127.0.0.1:0/callback")
    monkeypatch.setenv("API_URL", peer_api.url)
    monkeypatch.setenv("KEYBEARER_TOKEN_FILE", str(tmp_path / "tokens.json"))
    return oidc_clean


def peer_browser(oidc: OidcPeer) -> Callable[[str], None]:
    """An ``open_url`` that signs alice in and follows the redirect, like a browser."""

    def open_url(url: str) -> None:
        httpx.get(sign_in(url, oidc.user.username, oidc.user.password), timeout=10)

    return open_url


def test_desktop_login_signs_in_then_reuses_the_session_then_logs_out(
    browser_env: OidcPeer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    oidc = browser_env
    desktop_login = load_example("desktop_login")

    assert desktop_login.main([], open_url=peer_browser(oidc)) == 0
    first = capsys.readouterr().out
    assert f"Signed in as {oidc.user.username}" in first
    assert "GET /pets -> 200" in first
    assert oidc.counts()["token:authorization_code"] == 1

    def no_browser(url: str) -> None:
        raise AssertionError("the second run opened the browser again")

    assert desktop_login.main([], open_url=no_browser) == 0
    second = capsys.readouterr().out
    assert f"Using the saved session of {oidc.user.username}" in second
    assert "GET /pets -> 200" in second

    monkeypatch.setenv("COGNITO_LOGOUT_URI", "http://localhost:8765/signed-out")
    assert desktop_login.main(["--logout"]) == 0
    third = capsys.readouterr().out
    assert "Signed out." in third
    assert "post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8765%2Fsigned-out" in third
    assert oidc.counts()["revoke"] == 1
    assert_no_secret(first + second + third, oidc.user.password)


def test_desktop_login_paste_back(
    browser_env: OidcPeer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    oidc = browser_env
    monkeypatch.setenv("COGNITO_REDIRECT_URI", "http://localhost:8765/callback")
    shown: list[str] = []

    def paste(prompt: str = "") -> str:
        # The person opens the link printed above the prompt and pastes where it ended.
        shown.append(capsys.readouterr().out)
        link = next(line.strip() for line in shown[-1].splitlines() if "/oauth2/" in line)
        return sign_in(link, oidc.user.username, oidc.user.password)

    monkeypatch.setattr(builtins, "input", paste)
    desktop_login = load_example("desktop_login")

    assert desktop_login.main(["--paste"]) == 0
    output = "".join(shown) + capsys.readouterr().out
    assert "code_challenge_method=S256" in output
    assert f"Signed in as {oidc.user.username}" in output
    assert "GET /pets -> 200" in output
    assert_no_secret(output, oidc.user.password)


def notebook_cells() -> list[dict[str, Any]]:
    notebook = json.loads((EXAMPLES / "notebook.ipynb").read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    assert notebook["metadata"]["kernelspec"]["language"] == "python"
    cells: list[dict[str, Any]] = notebook["cells"]
    return cells


def test_the_notebook_is_valid_and_stores_no_outputs() -> None:
    cells = notebook_cells()

    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert len(code) == 5
    for cell in code:
        assert cell["outputs"] == []
        assert cell["execution_count"] is None
        compile("".join(cell["source"]), "<cell>", "exec")
    assert "authorization_url()" in "".join(code[2]["source"])
    assert "complete_login(" in "".join(code[3]["source"])


def test_the_notebook_runs_against_a_provider_given_its_settings(
    browser_env: OidcPeer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run the code cells in order, as a kernel would; the sign-in is automated."""
    oidc = browser_env
    monkeypatch.setenv("COGNITO_REDIRECT_URI", "http://localhost:8765/callback")
    monkeypatch.delenv("KEYBEARER_TOKEN_FILE")  # the notebook's default: MemoryStore
    tests = str(Path(__file__).resolve().parent)
    helper = (
        "import sys; sys.path.insert(0, sys.argv[1]); from peers.oidc_peer import sign_in; "
        "print(sign_in(sys.argv[4], sys.argv[2], sys.argv[3]))"
    )
    command = [sys.executable, "-c", helper, tests, oidc.user.username, oidc.user.password]
    monkeypatch.setenv("KEYBEARER_SIGN_IN_COMMAND", shlex.join(command))

    def refuse(prompt: str = "") -> str:
        raise AssertionError("the notebook prompted although a sign-in command is set")

    monkeypatch.setattr(builtins, "input", refuse)
    import IPython.display

    displayed: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", displayed.append)
    namespace: dict[str, Any] = {}
    for cell in notebook_cells():
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "<cell>", "exec"), namespace)  # noqa: S102

    output = capsys.readouterr().out
    # The sign-in link is a real link, not a 300-character line of text.
    (link,) = [item.data for item in displayed if isinstance(item, IPython.display.HTML)]
    assert link.startswith(f'<a href="{oidc.issuer}')
    assert "Open the sign-in page</a>" in link
    assert "GET /pets -> 200" in output
    client = namespace["client"]
    assert client.tokens.origin == "hosted_ui"
    assert client.tokens.username == oidc.user.username
    shown = client._repr_html_() + client.tokens._repr_html_()
    assert oidc.user.username in shown
    assert_no_secret(output + shown, oidc.user.password)


def test_the_notebook_executes_in_a_jupyter_kernel_without_showing_a_token(
    browser_env: OidcPeer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """examples/notebook.ipynb as Jupyter runs it: nbclient, a python3 kernel, every cell.

    The kernel gets the settings through its environment, and signs in at the
    oidc-provider peer with the sign-in command instead of a person pasting.
    """
    import nbformat
    from nbclient import NotebookClient

    oidc = browser_env
    token_file = tmp_path / "tokens.json"
    sign_in_command = [sys.executable, str(TESTS / "notebook_sign_in.py"), oidc.user.username]
    monkeypatch.setenv("COGNITO_REDIRECT_URI", "http://localhost:8765/callback")
    monkeypatch.setenv("KEYBEARER_TOKEN_FILE", str(token_file))  # to check outputs against
    monkeypatch.setenv("KEYBEARER_SIGN_IN_COMMAND", shlex.join(sign_in_command))
    monkeypatch.setenv("OIDC_PEER_PASSWORD", oidc.user.password)
    kernel_env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}

    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    runner = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,  # seconds per cell
        startup_timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    runner.execute(env=kernel_env)  # raises CellExecutionError on the first failing cell

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    outputs = [output for cell in code for output in cell.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    shown = json.dumps(outputs)
    html_outputs = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any(">Open the sign-in page</a>" in html for html in html_outputs)  # a real link
    assert "GET /pets -> 200" in shown
    assert f"username='{oidc.user.username}'" in shown  # client.tokens, as the 4th cell shows it
    assert_no_secret(shown, oidc.user.password)
    stored = [json.loads(value) for value in json.loads(token_file.read_text()).values()]
    assert len(stored) == 1
    for name in ("id_token", "access_token", "refresh_token"):
        token = stored[0][name]
        assert token
        assert token not in shown, f"the notebook showed the {name}"


# -- the keybearer command: examples/cli_session.sh, run by cli_session_local.py --


def test_the_cli_session_runs_against_the_stand_ins_without_printing_a_token() -> None:
    cli_session_local = load_example("cli_session_local")
    finished = subprocess.run(
        [sys.executable, str(EXAMPLES / "cli_session_local.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the commands shown (stderr) in order with their output
        text=True,
        timeout=300,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("KEYBEARER_")},
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        },
        check=False,
    )
    output = finished.stdout
    assert finished.returncode == 0, output

    shown = [line[2:] for line in output.splitlines() if line.startswith("$ ")]
    commands = [line.split(" --")[0].split("  #")[0] for line in shown]
    expected = [
        "keybearer configure",
        "keybearer login",
        "keybearer whoami",
        "keybearer get /pets",
        'curl -fsS -H "Authorization: Bearer $(keybearer token)" "http',
        "keybearer logout",
        "keybearer whoami",
    ]
    if shutil.which("curl") is None:
        expected.remove(expected[4])
        assert "curl is not installed: skipping the curl step" in output
    assert len(commands) == len(expected), shown
    assert [c[: len(e)] for c, e in zip(commands, expected, strict=True)] == expected

    assert "Saved profile 'example'" in output
    assert "Signed in as alice (profile 'example')." in output
    assert "sends        Authorization: Bearer <id token>" in output
    assert "HTTP 200 OK" in output
    assert '"type": "dog"' in output  # keybearer get, pretty-printed
    if shutil.which("curl") is not None:
        assert '[{"id": 1, "type": "dog"' in output  # curl, as the API sent it
    assert "Signed out of profile 'example'; the session is revoked." in output
    assert "after logout: exit code 3" in output
    assert "exited with 0" in output
    assert "Traceback" not in output
    assert_no_secret(output, cli_session_local.PASSWORD)


def test_the_cli_session_script_names_a_missing_setting() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KEYBEARER_", "COGNITO_", "API_"))
    }
    finished = subprocess.run(
        [bash, str(EXAMPLES / "cli_session.sh")],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert finished.returncode != 0
    assert "COGNITO_USER_POOL_ID" in finished.stderr
    assert finished.stdout == ""


def test_m2m_worker_fleet_shares_one_token_through_redis() -> None:
    output = run_example("m2m_worker")
    assert "1) 3 workers x 4 threads x 5 requests" in output
    assert "API answers: {200: 60}; token requests at Cognito: 1\n" in output
    assert "API answers: {200: 60}; token requests at Cognito: 2\n" in output
    assert "token kinds the API saw: ['access']" in output
    assert_no_secret(output)
