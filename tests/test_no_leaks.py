"""No secret leaks: one test runs every flow and searches everything it could say.

Every flow runs against the stand-ins (moto for cognito-idp, oidc-provider for
the hosted UI, the protected API): password sign-in with a client secret, a
wrong password, a NEW_PASSWORD_REQUIRED challenge, browser sign-in through the
loopback receiver, paste-back (sync and async), a tampered and a replayed
redirect, an error redirect, refreshes (cognito-idp and token endpoint), a
refresh token the provider refuses *and quotes back*, a failing provider, API
calls with a 401 and its diagnosis, ``keybearer.verify`` refusing tokens,
userinfo, revocation and global sign-out; then the command line (configure with
a secret, login, whoami, token, get, doctor, profiles, logout, a failed login),
with ``-vv``.

Logging is at DEBUG for every logger (httpx and httpcore included) and every
record is kept; so are ``repr``/``str`` of every public object met (clients,
configs, token sets, challenges, TOTP set-up, errors, diagnoses, stores,
verifiers, auth, redirects, sign-in attempts), every exception's message and
formatted traceback, and every CLI output. None may contain a token (or its
signature), a refresh token, a password, a client secret, an authorization code,
a PKCE verifier or a challenge session. ``keybearer token``'s stdout is the one
exception: printing the token is its job.

The test's own requests (playing the browser) are not the SDK's output: records
from the test's thread are set aside while it plays the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

import keybearer
from keybearer import errors
from keybearer.cli import main
from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi
from keybearer.verify import JwtVerifier
from peers.oidc_peer import OidcPeer, sign_in
from support import Person

#: Loggers of the stand-ins themselves (moto and its AWS client), not of the SDK.
PEER_LOGGERS = ("moto", "werkzeug", "botocore", "boto3", "urllib3", "s3transfer")
NEW_PASSWORD = "Brand-New-Password-7"
WRONG_PASSWORD = "Wrong-Password-9"


class Everything(logging.Handler):
    """Every log record of every logger, formatted, with its arguments' reprs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.count = 0
        self._paused: set[int] = set()
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(PEER_LOGGERS) or record.thread in self._paused:
            return
        self.count += 1
        try:
            text = self._formatter.format(record)
        except Exception as exc:  # a record that cannot format is itself a finding
            text = f"unformattable record {record.name}: {exc!r}"
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        self.texts.append(text + " | " + " | ".join(repr(a) for a in args))

    @contextlib.contextmanager
    def playing_the_browser(self) -> Iterator[None]:
        """Set aside what *this* thread logs: the test's own httpx calls to the peer."""
        ident = threading.get_ident()
        self._paused.add(ident)
        try:
            yield
        finally:
            self._paused.discard(ident)


@dataclass
class Haystack:
    """Everything the SDK said or showed, and every secret it was given or got."""

    log: Everything
    texts: list[tuple[str, str]] = field(default_factory=list)  # (where, text)
    secrets: set[str] = field(default_factory=set)
    objects: int = 0
    errors: int = 0
    cli_runs: int = 0

    def show(self, where: str, obj: object) -> None:
        """Keep repr(), str() and, where there is one, the notebook view of ``obj``."""
        self.objects += 1
        self.texts.append((f"repr({where})", repr(obj)))
        self.texts.append((f"str({where})", str(obj)))
        html = getattr(obj, "_repr_html_", None)
        if callable(html):
            self.texts.append((f"html({where})", str(html())))

    def error(self, where: str, exc: BaseException) -> None:
        self.errors += 1
        self.show(where, exc)
        self.texts.append((f"args({where})", repr(exc.args)))
        self.texts.append((f"traceback({where})", "".join(traceback.format_exception(exc))))
        for name in ("provider_message", "code", "diagnosis"):
            value = getattr(exc, name, None)
            if value is not None:
                self.texts.append((f"{name}({where})", repr(value)))

    @contextlib.contextmanager
    def expect(self, where: str, kind: type[BaseException]) -> Iterator[None]:
        try:
            yield
        except kind as exc:
            self.error(where, exc)
        else:
            raise AssertionError(f"{where}: expected {kind.__name__}")

    def tokens(self, tokens: keybearer.TokenSet | None) -> None:
        if tokens is None:
            return
        for secret in (tokens.access_token, tokens.id_token, tokens.refresh_token):
            if secret is not None:
                self.secret(secret.get_secret_value())
        self.show("TokenSet", tokens)

    def secret(self, value: str | None) -> None:
        if not value:
            return
        self.secrets.add(value)
        if value.count(".") == 2:  # a JWT: its signature alone would do harm too
            self.secrets.add(value.rsplit(".", 1)[1])

    def client(self, client: keybearer.OAuthClient) -> None:
        self.show("OAuthClient", client)
        self.show("config", client.config)
        self.tokens(client.tokens)

    def check(self) -> list[str]:
        found = []
        everything = [*self.texts, *(("log", text) for text in self.log.texts)]
        for where, text in everything:
            for secret in self.secrets:
                if secret in text:
                    found.append(f"{where}: ...{text[max(0, text.find(secret) - 60) :][:160]}")
        return found


@pytest.fixture
def haystack() -> Iterator[Haystack]:
    handler = Everything()
    root = logging.getLogger()
    touched = {
        name: logging.getLogger(name).level for name in ("", "keybearer", "httpx", "httpcore")
    }
    root.addHandler(handler)
    for name in touched:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield Haystack(handler)
    finally:
        root.removeHandler(handler)
        for name, level in touched.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every browser sign-in attempt made (state, nonce, PKCE verifier)."""
    import keybearer._browser_signin as client_module

    made: list[Any] = []
    real = client_module.Attempt

    def recording(*args: Any, **kwargs: Any) -> Any:
        attempt = real(*args, **kwargs)
        made.append(attempt)
        return attempt

    monkeypatch.setattr(client_module, "Attempt", recording)
    return made


def code_of(redirect: str) -> str | None:
    return httpx.URL(redirect).params.get("code")


# -- the flows -----------------------------------------------------------------------------


def password_flows(
    hay: Haystack,
    cognito: LocalCognito,
    pool: Pool,
    app: AppClient,
    api: ProtectedApi,
    person: Person,
    new_person: Person,
) -> None:
    assert app.secret is not None
    hay.secret(app.secret)
    hay.secrets.update({person.password, new_person.password, NEW_PASSWORD, WRONG_PASSWORD})
    client = keybearer.OAuthClient.cognito(
        pool.id,
        app.id,
        client_secret=app.secret,
        idp_url=cognito.url,
        issuer=pool.issuer,
        jwks_url=pool.jwks_url,
        store=keybearer.MemoryStore(),
    )
    hay.client(client)
    with hay.expect("wrong password", errors.InvalidCredentialsError):
        client.login_password(person.username, WRONG_PASSWORD)
    hay.tokens(client.login_password(person.username, person.password))  # type: ignore[arg-type]

    with client.http(base_url=api.url) as http:
        assert http.get("/pets").status_code == 200
        refused = http.get("/admin")  # 401: refresh, replay, 401 again: diagnosis
        assert refused.status_code == 401
        hay.tokens(client.tokens)
        hay.show("Diagnosis", keybearer.explain(refused))
    with client.http(base_url=api.url, raise_on_unauthorized=True) as http:
        with hay.expect("UnauthorizedError", errors.UnauthorizedError):
            http.get("/admin")
        hay.show("KeybearerAuth", http.auth)
    hay.show("auth", client.auth)

    hay.tokens(client.refresh())  # SECRET_HASH on refresh: moto checks it
    tokens = client.tokens
    assert tokens is not None
    verifier = JwtVerifier(pool.issuer, pool.jwks_url, audiences=[app.id])
    hay.show("JwtVerifier", verifier)
    hay.show("Claims", verifier.verify(tokens.token("id"), token_use="id"))
    with hay.expect("wrong token_use", errors.WrongTokenUseError):
        verifier.verify(tokens.token("access"), token_use="id")
    with hay.expect("missing scope", errors.MissingScopeError):
        verifier.verify(tokens.token("id"), required_scopes=["https://api.example.test/admin"])
    forged = tokens.token("id")[:-8] + (
        "A" * 8 if not tokens.token("id").endswith("A" * 8) else "B" * 8
    )
    with hay.expect("bad signature", errors.BadSignatureError):
        verifier.verify(forged)

    # A provider that fails, then one that refuses the refresh token and quotes it back.
    cognito.fail_next("InitiateAuth:REFRESH_TOKEN_AUTH", status=500)
    with hay.expect("refresh 500", errors.ServiceError):
        client.refresh()
    refresh_token = tokens.refresh_token.get_secret_value() if tokens.refresh_token else ""
    cognito.fail_next(
        "InitiateAuth:REFRESH_TOKEN_AUTH",
        status=400,
        error_type="NotAuthorizedException",
        message=f"Invalid Refresh Token: {refresh_token}",
    )
    with hay.expect("refused refresh", errors.LoginRequiredError):
        client.refresh()
    with (
        client.http(base_url=api.url) as http,
        hay.expect("dead session", errors.LoginRequiredError),
    ):
        http.get("/admin")  # a 401 would refresh: the session is known dead, so it fails fast

    # A fresh session, revoked (RevokeToken), and one signed out everywhere.
    hay.tokens(client.login_password(person.username, person.password))  # type: ignore[arg-type]
    assert client.logout() in (True, False)
    hay.tokens(client.login_password(person.username, person.password))  # type: ignore[arg-type]
    client.logout(global_=True)
    with hay.expect("signed out", errors.LoginRequiredError):
        client.valid_tokens()

    # NEW_PASSWORD_REQUIRED.
    challenge = client.login_password(new_person.username, new_person.password)
    assert isinstance(challenge, keybearer.Challenge)
    hay.secret(challenge.session.get_secret_value())
    hay.show("Challenge", challenge)
    with hay.expect("challenge answer missing", errors.ChallengeAnswerError):
        client.respond(challenge)
    hay.tokens(client.respond(challenge, new_password=NEW_PASSWORD))  # type: ignore[arg-type]

    # TOTP set-up, as begin_totp_setup() returns it.
    setup_challenge = keybearer.MfaSetup(
        name="MFA_SETUP", session=SecretStr("mfa-setup-session-" + "m" * 40), username="alice"
    )
    setup = keybearer.TotpSetup(
        challenge=setup_challenge,
        secret=SecretStr("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
        session=SecretStr("totp-session-" + "t" * 40),
    )
    hay.secret(setup_challenge.session.get_secret_value())
    hay.secret(setup.secret.get_secret_value())
    hay.secret(setup.session.get_secret_value())
    hay.show("MfaSetup", setup_challenge)
    hay.show("TotpSetup", setup)
    with hay.expect("totp without code", errors.ChallengeAnswerError):
        client.respond(setup)
    client.close()


def browser_flows(
    hay: Haystack, oidc: OidcPeer, peer_api: ProtectedApi, attempts: list[Any]
) -> None:
    app = oidc.basic_client
    assert app.secret is not None
    hay.secret(app.secret)
    hay.secret(oidc.user.password)

    def make() -> keybearer.OAuthClient:
        return keybearer.OAuthClient.oidc(
            oidc.issuer,
            app.id,
            client_secret=app.secret,
            redirect_uri="http://127.0.0.1:0/callback",
            scopes=["openid", "email"],
            store=keybearer.MemoryStore(),
        )

    def browse(url: str) -> str:
        with hay.log.playing_the_browser():
            redirect = sign_in(url, oidc.user.username, oidc.user.password)
        hay.secret(code_of(redirect))
        return redirect

    def open_url(url: str) -> None:
        redirect = browse(url)
        with hay.log.playing_the_browser():
            httpx.get(redirect, timeout=10)

    client = make()
    hay.client(client)
    hay.tokens(client.login_browser(open_url=open_url, timeout=30))
    with client.http(base_url=peer_api.url) as http:
        assert http.get("/pets").status_code == 200
    hay.show("userinfo", client.userinfo())
    hay.tokens(client.refresh())
    assert client.logout() is True

    # Paste-back, then the same redirect again, a tampered state, an error redirect.
    pasted = browse(client.authorization_url())
    hay.tokens(client.complete_login(pasted))
    with hay.expect("replayed redirect", errors.StateMismatchError):
        client.complete_login(pasted)
    client.authorization_url()
    tampered = pasted.replace("state=", "state=x")
    with hay.expect("tampered state", errors.StateMismatchError):
        client.complete_login(tampered)
    with hay.expect("error redirect", errors.LoginError):
        client.complete_login(
            "http://127.0.0.1:0/callback?error=access_denied&error_description=User+said+no"
        )
    with hay.expect("garbage paste", errors.RedirectParseError):
        client.complete_login("http://127.0.0.1:0/callback?code=a&code=b")
    with hay.expect("wrong code", errors.KeybearerError):
        url = client.authorization_url()
        state = httpx.URL(url).params["state"]
        client.complete_login(f"http://127.0.0.1:0/callback?code=not-a-real-code&state={state}")

    async def paste_back_async() -> None:
        second = make()
        pasted = browse(await second.aauthorization_url())
        hay.tokens(await second.acomplete_login(pasted))
        hay.tokens(await second.arefresh())
        await second.alogout()
        await second.aclose()

    asyncio.run(paste_back_async())
    for attempt in attempts:
        hay.secret(attempt.verifier)
        hay.show("Attempt", attempt)
    client.close()


def cli_flows(
    hay: Haystack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cognito: LocalCognito,
    pool: Pool,
    app: AppClient,
    api: ProtectedApi,
    person: Person,
) -> None:
    for name in list(os.environ):
        if name.startswith("KEYBEARER_") or name == "NO_COLOR":
            monkeypatch.delenv(name)
    token_file = tmp_path / "tokens.json"
    monkeypatch.setenv("KEYBEARER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("KEYBEARER_STORE", f"file:{token_file}")
    runner = CliRunner()

    def run(*args: str, input: str | None = None, shows_token: bool = False) -> Any:
        result = runner.invoke(main, ["-vv", *args], input=input, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        hay.cli_runs += 1
        where = "keybearer " + " ".join(args)
        if not shows_token:
            hay.texts.append((f"stdout of `{where}`", result.stdout))
        hay.texts.append((f"stderr of `{where}`", result.stderr))
        remember_stored()
        return result

    def remember_stored() -> None:
        import json

        if not token_file.exists():
            return
        for value in json.loads(token_file.read_text()).values():
            try:
                data = json.loads(value)
            except ValueError:
                hay.secret(value)  # the client secret
                continue
            for name in ("access_token", "id_token", "refresh_token"):
                hay.secret(data.get(name))

    assert app.secret is not None
    flags = [
        "--user-pool-id",
        pool.id,
        "--client-id",
        app.id,
        "--idp-url",
        cognito.url,
        "--jwks-url",
        pool.jwks_url,
        "--cognito-issuer",
        pool.issuer,
        "--api-url",
        api.url,
    ]
    assert run("configure", *flags, "--client-secret-stdin", input=app.secret).exit_code == 0
    assert (
        run("login", "-u", person.username, "--password-stdin", input=WRONG_PASSWORD).exit_code == 1
    )
    login = run("login", "-u", person.username, "--password-stdin", input=person.password)
    assert login.exit_code == 0, login.output
    assert run("whoami").exit_code == 0
    assert run("whoami", "--json").exit_code == 0
    assert run("token", shows_token=True).exit_code == 0
    assert run("token", "--kind", "access", shows_token=True).exit_code == 0
    assert run("get", "/pets").exit_code == 0
    assert run("get", "/admin").exit_code == 1
    run("doctor")
    run("doctor", "--json", "--api", "/admin")
    assert run("profiles").exit_code == 0
    assert run("profiles", "--json").exit_code == 0
    assert run("logout").exit_code == 0
    assert run("whoami").exit_code == 3


def test_no_secret_leaks_from_any_flow(
    haystack: Haystack,
    attempts: list[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cognito: LocalCognito,
    pool: Pool,
    secret_client: AppClient,
    api: ProtectedApi,
    person: Person,
    new_person: Person,
    oidc_clean: OidcPeer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hay = haystack
    password_flows(hay, cognito, pool, secret_client, api, person, new_person)
    clients = [oidc_clean.public_client.id, oidc_clean.basic_client.id, oidc_clean.post_client.id]
    with ProtectedApi(oidc_clean.jwks_url, oidc_clean.issuer, clients) as peer_api:
        browser_flows(hay, oidc_clean, peer_api, attempts)
    cli_flows(hay, tmp_path, monkeypatch, cognito, pool, secret_client, api, person)
    hay.show("MemoryStore", keybearer.MemoryStore())
    hay.show("FileStore", keybearer.FileStore(tmp_path / "x.json"))
    hay.show("KeyringStore", keybearer.KeyringStore("svc"))

    leaks = hay.check()
    summary = (
        f"{haystack.log.count} log records, {hay.objects} objects shown, {hay.errors} errors, "
        f"{hay.cli_runs} CLI runs, {len(hay.secrets)} secrets searched for: "
        f"{len(leaks)} leaks"
    )
    with capsys.disabled():
        print(f"\n[no-leaks] {summary}")
    assert hay.log.count > 100
    assert len(hay.secrets) > 30
    assert not leaks, "\n".join(leaks[:20])
