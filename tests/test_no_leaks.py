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
from pydantic import SecretStr, ValidationError

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


# -- a provider that quotes back every secret it was sent (finding 4) ---------------------
#
# No stand-in quotes what it was sent, on purpose, in every spelling: this one does. It
# answers every call with an error whose message (and, in one mode, error code) quotes the
# secrets the request carried, as sent, URL-encoded and JSON-escaped, placed so that the
# old 500-character cut fell inside one of them.

#: Body fields that carry a secret, named independently of keybearer's own list.
SECRET_FIELDS = {
    "PASSWORD",
    "NEW_PASSWORD",
    "SECRET_HASH",
    "REFRESH_TOKEN",
    "RefreshToken",
    "ClientSecret",
    "Token",
    "AccessToken",
    "Session",
    "code",
    "code_verifier",
    "refresh_token",
    "token",
    "client_secret",
}
QUOTE_SECRET = "quote-me-client-secret-0123456789abcdefghijklmnop"
QUOTE_PASSWORD = "Quoted-Password-42"
QUOTE_NEW_PASSWORD = "Quoted-New-Password-43"
QUOTE_REFRESH = "quoted-refresh-token-" + "q" * 60
QUOTE_CODE = "quoted-authorization-code-" + "c" * 30


def carried(request: httpx.Request) -> list[str]:
    """The secrets a request carried, read the way a provider would."""
    import base64
    import json
    from urllib.parse import parse_qsl, unquote

    found: list[str] = []
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if credentials:
        found.append(credentials)
        if scheme.lower() == "basic":
            found.append(unquote(base64.b64decode(credentials).decode().partition(":")[2]))
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        found += [v for k, v in parse_qsl(request.content.decode()) if k in SECRET_FIELDS]
    elif request.content:

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    if key in SECRET_FIELDS and isinstance(item, str):
                        found.append(item)
                    walk(item)

        walk(json.loads(request.content))
    return [secret for secret in found if secret]


class QuotingProvider:
    """cognito-idp and OAuth endpoints that fail every call, quoting what was sent."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sent: list[str] = []
        self.challenge_first = False

    def message(self, secrets: list[str]) -> tuple[str, str]:
        from urllib.parse import quote

        longest = max(secrets, key=len)
        if self.mode == "split":  # half in the error code, half in the message
            half = len(longest) // 2
            return longest[:half], "x" * 10 + longest[half:]
        spelled = [s for secret in secrets for s in (secret, quote(secret, safe=""))]
        quoted = " ".join(spelled) + " " + repr(secrets)
        if self.mode == "cut":  # the old 500-character cut falls inside the first secret
            return "", "x" * (500 - len(spelled[0]) // 2) + quoted
        return "", quoted

    def __call__(self, request: httpx.Request) -> httpx.Response:
        secrets = carried(request)
        self.sent += secrets
        target = request.headers.get("x-amz-target", "")
        if self.challenge_first and target.endswith(".InitiateAuth"):
            return httpx.Response(
                200,
                json={
                    "ChallengeName": "NEW_PASSWORD_REQUIRED",
                    "Session": "quoted-challenge-session-" + "s" * 40,
                    "ChallengeParameters": {"USER_ID_FOR_SRP": "alice"},
                },
            )
        if not secrets:  # discovery and the like: nothing to quote
            return httpx.Response(503)
        code, text = self.message(secrets)
        if target:
            return httpx.Response(
                400,
                headers={"x-amzn-ErrorType": code or "NotAuthorizedException"},
                json={"__type": code or "NotAuthorizedException", "message": text},
            )
        if request.method == "GET":  # userinfo
            return httpx.Response(
                401, headers={"WWW-Authenticate": f'Bearer error="invalid_token" {code}{text}'}
            )
        return httpx.Response(
            400, json={"error": code or "invalid_grant", "error_description": text}
        )


def quoting_client(provider: QuotingProvider, **options: Any) -> keybearer.OAuthClient:
    client = keybearer.OAuthClient.cognito(
        "us-east-1_AbCdEf123",
        "1example23456789",
        client_secret=QUOTE_SECRET,
        domain="https://myapp.auth.us-east-1.amazoncognito.com",
        redirect_uri="http://localhost:8765/callback",
        store=keybearer.MemoryStore(),
        **options,
    )
    client._session._sync_http = httpx.Client(transport=httpx.MockTransport(provider))
    return client


def signed_in_as(client: keybearer.OAuthClient, origin: str) -> None:
    import time

    client._session.cache.put(
        keybearer.TokenSet(
            access_token="quoted-access-token-" + "a" * 60,
            id_token="quoted-id-token-" + "i" * 60,
            refresh_token=QUOTE_REFRESH,
            expires_at=time.time() + 3600,
            obtained_at=time.time(),
            origin=origin,  # type: ignore[arg-type]
            username="alice",
        )
    )


def fragments(secret: str, size: int = 16) -> set[str]:
    return {secret[i : i + size] for i in range(max(1, len(secret) - size + 1))}


def password_sign_in(client: keybearer.OAuthClient) -> None:
    client.login_password("alice", QUOTE_PASSWORD)


def answer_challenge(client: keybearer.OAuthClient) -> None:
    client._session._sync_http.close()
    provider = client._session._sync_http._transport.handler  # type: ignore[attr-defined]
    provider.challenge_first = True
    client._session._sync_http = httpx.Client(transport=httpx.MockTransport(provider))
    challenge = client.login_password("alice", QUOTE_PASSWORD)
    assert isinstance(challenge, keybearer.Challenge)
    client.respond(challenge, new_password=QUOTE_NEW_PASSWORD)


def refresh_password_session(client: keybearer.OAuthClient) -> None:
    signed_in_as(client, "password")
    client.refresh()


def refresh_rotating_session(client: keybearer.OAuthClient) -> None:
    signed_in_as(client, "rotating")
    client.refresh()


def revoke_password_session(client: keybearer.OAuthClient) -> None:
    signed_in_as(client, "password")
    assert client.logout() is False  # not revoked: the warning is what is searched
    raise errors.ProviderError("logout reported its failure in a warning")


def sign_out_everywhere(client: keybearer.OAuthClient) -> None:
    signed_in_as(client, "password")
    client.logout(global_=True)
    raise errors.ProviderError("logout reported its failure in a warning")


def exchange_code(client: keybearer.OAuthClient) -> None:
    state = httpx.URL(client.authorization_url()).params["state"]
    client.complete_login(f"http://localhost:8765/callback?code={QUOTE_CODE}&state={state}")


def refresh_browser_session(client: keybearer.OAuthClient) -> None:
    signed_in_as(client, "hosted_ui")
    client.refresh()


def revoke_browser_session(client: keybearer.OAuthClient) -> None:
    signed_in_as(client, "hosted_ui")
    client.logout()
    raise errors.ProviderError("logout reported its failure in a warning")


def read_userinfo(client: keybearer.OAuthClient) -> None:
    signed_in_as(client, "hosted_ui")
    client.userinfo()


@pytest.mark.parametrize("mode", ["whole", "cut", "split"])
@pytest.mark.parametrize(
    ("call", "options"),
    [
        (password_sign_in, {}),
        (answer_challenge, {}),
        (refresh_password_session, {}),
        (refresh_rotating_session, {"rotate_refresh_tokens": True}),
        (revoke_password_session, {}),
        (sign_out_everywhere, {}),
        (exchange_code, {}),
        (exchange_code, {"token_auth": "client_secret_post"}),
        (refresh_browser_session, {}),
        (revoke_browser_session, {}),
        (read_userinfo, {}),
    ],
    ids=lambda value: getattr(value, "__name__", None) or ",".join(value) or "-",
)
def test_a_provider_quoting_the_secrets_it_was_sent_is_redacted_on_every_endpoint(
    mode: str,
    call: Any,
    options: dict[str, Any],
    haystack: Haystack,
) -> None:
    provider = QuotingProvider(mode)
    client = quoting_client(provider, **options)
    with haystack.expect(call.__name__, errors.KeybearerError):
        call(client)
    client.close()

    assert provider.sent, "the call sent no secret: the test proves nothing"
    secrets = set(provider.sent)
    texts = [*haystack.texts, *(("log", text) for text in haystack.log.texts)]
    leaks = [
        f"{where}: {piece!r}"
        for secret in secrets
        for piece in ({secret} | (fragments(secret) if len(secret) >= 16 else set()))
        for where, text in texts
        if piece in text
    ]
    assert not leaks, "\n".join(leaks[:10])


def test_a_long_quoted_refresh_token_leaves_no_remnant_from_a_real_cognito_stand_in(
    haystack: Haystack,
    cognito: LocalCognito,
    pool: Pool,
    secret_client: AppClient,
    person: Person,
) -> None:
    # moto, with LocalCognito's injected failure: the message quotes the refresh token
    # where the 500-character cut used to fall, then the client secret and password.
    assert secret_client.secret is not None
    client = keybearer.OAuthClient.cognito(
        pool.id,
        secret_client.id,
        client_secret=secret_client.secret,
        idp_url=cognito.url,
        store=keybearer.MemoryStore(),
    )
    tokens = client.login_password(person.username, person.password)
    assert isinstance(tokens, keybearer.TokenSet)
    assert tokens.refresh_token is not None
    refresh_token = tokens.refresh_token.get_secret_value()
    cognito.fail_next(
        "InitiateAuth:REFRESH_TOKEN_AUTH",
        status=400,
        error_type="NotAuthorizedException",
        message="x" * 480 + f"{refresh_token} {secret_client.secret} {person.password}",
    )
    with haystack.expect("refresh", errors.LoginRequiredError):
        client.refresh()
    cognito.fail_next(
        "InitiateAuth",
        status=400,
        error_type="NotAuthorizedException",
        message=f"Incorrect password {person.password} for secret {secret_client.secret}",
    )
    with haystack.expect("login", errors.InvalidCredentialsError):
        client.login_password(person.username, person.password)
    client.close()

    texts = [*haystack.texts, *(("log", text) for text in haystack.log.texts)]
    for secret in (refresh_token, secret_client.secret, person.password):
        for piece in {secret} | fragments(secret):
            where = [(w, t[max(0, t.find(piece) - 80) :][:200]) for w, t in texts if piece in t]
            assert not where, f"{piece!r} of {secret!r} leaked: {where}"


# -- nothing reachable from an error holds a secret (finding 10) ---------------------------
#
# ``raise ... from None`` leaves ``__context__`` set. The sweep triggers each error path
# that starts from something holding a secret (a token file, a stored token set, a
# configuration with a client secret, a pasted redirect with a code, a request with a
# password or refresh token, an API request with a token) and walks everything reachable
# from the error: ``__cause__``, ``__context__``, ``args`` and every attribute, through
# containers and objects, looking for the secrets as text or bytes.

SWEEP_SECRET = "sweep-client-secret-0123456789abcdefghijklmn"
SWEEP_PASSWORD = "Sweep-Password-77"
SWEEP_REFRESH = "sweep-refresh-token-" + "r" * 60
SWEEP_ACCESS = "sweep-access-token-" + "a" * 60
SWEEP_CODE = "sweep-authorization-code-" + "c" * 30


def reachable(error: BaseException) -> Iterator[tuple[str, str | bytes]]:
    """Every text and byte string reachable from ``error`` (not through its traceback)."""
    import types

    from pydantic import SecretBytes

    stack: list[tuple[str, object, int]] = [("error", error, 0)]
    seen: set[int] = set()
    while stack:
        path, obj, depth = stack.pop()
        if id(obj) in seen or depth > 12:
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes)):
            yield path, obj
            continue
        if isinstance(obj, (SecretStr, SecretBytes)):
            yield path, obj.get_secret_value()
            continue
        if obj is None or isinstance(
            obj,
            (
                int,
                float,
                type,
                types.ModuleType,
                types.FunctionType,
                types.MethodType,
                types.BuiltinFunctionType,
                types.TracebackType,
                types.FrameType,
            ),
        ):
            continue
        children: list[tuple[str, object]] = []
        if isinstance(obj, BaseException):
            children += [
                ("__cause__", obj.__cause__),
                ("__context__", obj.__context__),
                ("args", obj.args),
                (" str()", str(obj)),
            ]
        if isinstance(obj, ValidationError):  # it keeps its inputs out of sight
            children.append((".errors()", obj.errors()))
        if isinstance(obj, dict):
            children += [(f"[{k!r}]", v) for k, v in obj.items()]
            children += [(f"key {k!r}", k) for k in obj]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children += [(f"[{i}]", v) for i, v in enumerate(obj)]
        if hasattr(obj, "__dict__"):
            children += [(f".{k}", v) for k, v in vars(obj).items()]
        for slot in getattr(type(obj), "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                children.append((f".{slot}", getattr(obj, slot)))
        stack += [(path + name, child, depth + 1) for name, child in children]


def closed_port() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


def corrupt_token_file(tmp_path: Path) -> BaseException:
    path = tmp_path / "tokens.json"
    path.write_text('{"cognito:pool:client:default": "{\\"refresh_token\\": \\"' + SWEEP_REFRESH)
    with pytest.raises(errors.StoreError) as caught:
        keybearer.FileStore(path).load("cognito:pool:client:default")
    return caught.value


def damaged_token_set(tmp_path: Path) -> BaseException:
    import json

    tokens = keybearer.TokenSet(
        access_token=SWEEP_ACCESS, refresh_token=SWEEP_REFRESH, expires_at=1e9, obtained_at=1e9
    )
    data = json.loads(tokens.to_json())
    data["refresh_token"] = [SWEEP_REFRESH]  # the wrong shape: the validation error keeps it
    with pytest.raises(errors.StoreError) as caught:
        keybearer.TokenSet.from_json(json.dumps(data))
    return caught.value


def undecodable_token_set(tmp_path: Path) -> BaseException:
    with pytest.raises(errors.StoreError) as caught:
        keybearer.TokenSet.from_json('{"v": 1, "refresh_token": "' + SWEEP_REFRESH)
    return caught.value


def configuration_with_a_secret(tmp_path: Path) -> BaseException:
    with pytest.raises(errors.ConfigurationError) as caught:
        keybearer.OAuthClient.cognito("not a pool", "client1", client_secret=SWEEP_SECRET)
    return caught.value


def configuration_with_a_secret_and_a_bad_field(tmp_path: Path) -> BaseException:
    with pytest.raises(errors.ConfigurationError) as caught:
        keybearer.OAuthClient.cognito(
            "us-east-1_AbCdEf123", "client1", client_secret=SWEEP_SECRET, api_hosts=["a b"]
        )
    return caught.value


def redirect_with_a_code(tmp_path: Path) -> BaseException:
    client = keybearer.OAuthClient.cognito(
        "us-east-1_AbCdEf123",
        "client1",
        domain="https://myapp.auth.us-east-1.amazoncognito.com",
        redirect_uri="http://localhost:8765/callback",
        store=keybearer.MemoryStore(),
    )
    with pytest.raises(errors.RedirectParseError) as caught:
        client.complete_login(f"http://localhost:8765/callback?code={SWEEP_CODE}&state=s\ud800")
    return caught.value


def password_to_a_closed_port(tmp_path: Path) -> BaseException:
    client = keybearer.OAuthClient.cognito(
        "us-east-1_AbCdEf123",
        "client1",
        client_secret=SWEEP_SECRET,
        idp_url=closed_port(),
        store=keybearer.MemoryStore(),
    )
    with pytest.raises(errors.NetworkError) as caught:
        client.login_password("alice", SWEEP_PASSWORD)
    return caught.value


def refresh_to_a_closed_port_async(tmp_path: Path) -> BaseException:
    client = keybearer.OAuthClient.cognito(
        "us-east-1_AbCdEf123",
        "client1",
        client_secret=SWEEP_SECRET,
        idp_url=closed_port(),
        store=keybearer.MemoryStore(),
        rotate_refresh_tokens=True,
    )
    client._session.cache.put(
        keybearer.TokenSet(
            access_token=SWEEP_ACCESS,
            refresh_token=SWEEP_REFRESH,
            expires_at=1e9,
            obtained_at=1e9,
            origin="rotating",
        )
    )

    async def refresh() -> BaseException:
        with pytest.raises(errors.NetworkError) as caught:
            await client.arefresh()
        return caught.value

    return asyncio.run(refresh())


def password_to_a_silent_server(tmp_path: Path) -> BaseException:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        client = keybearer.OAuthClient.cognito(
            "us-east-1_AbCdEf123",
            "client1",
            client_secret=SWEEP_SECRET,
            idp_url=f"http://127.0.0.1:{silent.getsockname()[1]}/",
            timeout=0.2,
            store=keybearer.MemoryStore(),
        )
        with pytest.raises(errors.RequestTimeoutError) as caught:
            client.login_password("alice", SWEEP_PASSWORD)
    return caught.value


SWEEP = [
    corrupt_token_file,
    damaged_token_set,
    undecodable_token_set,
    configuration_with_a_secret,
    configuration_with_a_secret_and_a_bad_field,
    redirect_with_a_code,
    password_to_a_closed_port,
    refresh_to_a_closed_port_async,
    password_to_a_silent_server,
]


@pytest.mark.parametrize("trigger", SWEEP, ids=lambda trigger: trigger.__name__)
def test_no_error_carries_a_secret_through_its_chain_args_or_attributes(
    trigger: Any, tmp_path: Path
) -> None:
    error = trigger(tmp_path)
    secrets = [SWEEP_SECRET, SWEEP_PASSWORD, SWEEP_REFRESH, SWEEP_ACCESS, SWEEP_CODE]
    found = [
        f"{path} holds {secret[:12]}..."
        for path, value in reachable(error)
        for secret in secrets
        if (secret in value if isinstance(value, str) else secret.encode() in value)
    ]
    assert not found, "\n".join(found[:10])


def test_an_unauthorized_error_holds_no_token(
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
    api: ProtectedApi,
    person: Person,
) -> None:
    client = keybearer.OAuthClient.cognito(
        pool.id, public_client.id, idp_url=cognito.url, store=keybearer.MemoryStore()
    )
    tokens = client.login_password(person.username, person.password)
    assert isinstance(tokens, keybearer.TokenSet)
    with (
        client.http(base_url=api.url, raise_on_unauthorized=True) as http,
        pytest.raises(errors.UnauthorizedError) as caught,
    ):
        http.get("/admin")
    error = caught.value
    sent = client.tokens
    assert sent is not None
    secrets = [
        secret.get_secret_value()
        for secret in (sent.access_token, sent.id_token, sent.refresh_token)
        if secret is not None
    ]
    found = [
        path
        for path, value in reachable(error)
        for secret in secrets
        if (secret in value if isinstance(value, str) else secret.encode() in value)
    ]
    assert not found, found[:10]
    # What the error keeps is still useful: the status, the diagnosis, the request line.
    assert error.response.status_code == 401
    assert error.response.request.headers["authorization"] == "[redacted]"
    assert error.response.request.url.path == "/admin"
    assert keybearer.explain(error.response) is error.diagnosis
    client.close()
