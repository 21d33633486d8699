"""Where tokens go: only to allowed hosts, only in headers, only over https (or loopback).

- A request to a host outside the allow-list carries no token, whatever the URL
  looks like (look-alike hosts, suffixes, user-info tricks, other ports, plain http).
- An httpx redirect to another origin (``follow_redirects=True``) does not carry
  the token there, including after a 401 and a refresh.
- A provider that redirects (a captive portal, a hijacked endpoint) is not
  followed: the password or refresh token is never re-sent to the ``Location``.
- No token, refresh token, password, client secret, code or PKCE verifier ever
  appears in a URL the SDK requests, across every flow.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

import keybearer
from cognito_shapes import CLIENT, ISSUER, POOL, SigningKey, auth_result, fake_jwt, shapes_jwks
from keybearer import errors
from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi
from support import FakeClock, Person

API = "https://api.example.test"


# -- a loopback server that records what it is sent --------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Answer = Callable[[Seen], tuple[int, dict[str, str], bytes]]


class Recorder:
    def __init__(self, answer: Answer) -> None:
        self.seen: list[Seen] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                entry = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                recorder.seen.append(entry)
                status, headers, body = answer(entry)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def authorizations(self) -> list[str | None]:
        return [s.headers.get("authorization") for s in self.seen]


@pytest.fixture
def servers() -> Iterator[Callable[[Answer], Recorder]]:
    made: list[Recorder] = []

    def make(answer: Answer) -> Recorder:
        made.append(Recorder(answer))
        return made[-1]

    yield make
    for server in made:
        server.stop()


def ok(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, b'{"ok": true}'


def redirect_to(location: str, status: int = 302) -> Answer:
    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return status, {"Location": location}, b""

    return answer


def signed_in(**options: Any) -> keybearer.OAuthClient:
    """A client holding a valid session (no provider needed until it refreshes)."""
    client = keybearer.OAuthClient.cognito(
        POOL, CLIENT, store=keybearer.MemoryStore(), clock=options.pop("clock", None), **options
    )
    result = auth_result()["AuthenticationResult"]
    client._session.cache.put(
        keybearer.TokenSet(
            access_token=result["AccessToken"],
            id_token=result["IdToken"],
            refresh_token=result["RefreshToken"],
            expires_at=client._session.clock() + 3600,
            obtained_at=client._session.clock(),
            username="7d8ca528-4931-4254-9273-ea5ee853f271",
        )
    )
    return client


def bearer(client: keybearer.OAuthClient) -> str:
    tokens = client.tokens
    assert tokens is not None
    return "Bearer " + tokens.token("id")


# -- hosts outside the allow-list ---------------------------------------------------------

OUTSIDE = [
    "https://evil.example.test/x",
    "https://api.example.test.evil.test/x",
    "https://evil.test/api.example.test/x",
    "https://api.example.test@evil.test/x",
    "https://\u0430pi.example.test/x",  # a look-alike: Cyrillic a (IDNA xn--pi-...)
    "https://api.example.test./x",  # the trailing-dot spelling is another host here
    "https://sub.api.example.test/x",
    "http://api.example.test/x",  # plain http to a non-loopback host
    "https://api.example.test:8443/x",  # base_url pins the port: another origin
]


@pytest.mark.parametrize("url", OUTSIDE)
def test_no_token_for_a_host_outside_the_allow_list(url: str) -> None:
    client = signed_in()
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: (sent.append(r), httpx.Response(200))[1])

    with client.http(base_url=API, transport=transport) as http:
        http.get("/inside")
        http.get(url)

    inside, outside = sent
    assert inside.headers["authorization"] == bearer(client)
    assert "authorization" not in outside.headers


@pytest.mark.parametrize(
    ("entries", "url", "gets_token"),
    [
        (["api.example.test"], "https://api.example.test/x", True),
        (["api.example.test"], "https://api.example.test:8443/x", True),  # no port: any port
        (["api.example.test:8443"], "https://api.example.test/x", False),
        (["https://api.example.test"], "https://api.example.test:8443/x", False),
        (["api.example.test"], "http://api.example.test/x", False),
        (["http://api.example.test"], "http://api.example.test/x", False),  # still not http
        (["API.Example.Test"], "https://api.example.test/x", True),
        (["api.example.test"], "https://api.example.test.evil.test/x", False),
        (["localhost"], "http://localhost:8080/x", True),  # loopback may be plain http
        (["127.0.0.1"], "http://127.0.0.1:8080/x", True),
        (["[::1]"], "http://[::1]:8080/x", True),
        (["127.0.0.1"], "http://127.0.0.2/x", False),
        # Internationalised names match in either spelling (finding 11: punycode
        # entries never matched, since httpx shows the host decoded).
        (["xn--bcher-kva.example"], "https://b\u00fccher.example/x", True),
        (["xn--bcher-kva.example:8443"], "https://b\u00fccher.example:8443/x", True),
        (["XN--BCHER-KVA.example"], "https://B\u00dcCHER.example/x", True),
        (["b\u00fccher.example"], "https://xn--bcher-kva.example/x", True),
        (["https://xn--bcher-kva.example"], "https://b\u00fccher.example/x", True),
        (["xn--bcher-kva.example"], "https://bucher.example/x", False),
        # Only localhost, 127.0.0.0/8 and ::1 are loopback (finding 8): a name under
        # .localhost may resolve anywhere, so plain http to it gets no token.
        (["api.localhost"], "http://api.localhost:8080/x", False),
        (["api.localhost"], "https://api.localhost/x", True),
        (["localhost.example.test"], "http://localhost.example.test/x", False),
    ],
)
def test_the_allow_list_on_a_users_own_client(
    entries: list[str], url: str, gets_token: bool
) -> None:
    client = signed_in(api_hosts=entries)
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: (sent.append(r), httpx.Response(200))[1])

    with httpx.Client(auth=client.auth, transport=transport) as http:
        http.get(url)

    assert ("authorization" in sent[0].headers) is gets_token


# -- httpx redirects to another origin -------------------------------------------------

REDIRECTS = [
    ("https://evil.example.test/steal", False),
    ("https://api.example.test.evil.test/steal", False),
    ("https://api.example.test@evil.test/steal", False),
    ("https://api.example.test:8443/steal", False),
    ("http://api.example.test/steal", False),  # a downgrade to plain http
    ("https://api.example.test/v2/pets", True),  # same origin: fine
    ("/v2/pets", True),
]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(("location", "same_origin"), REDIRECTS)
def test_a_redirect_to_another_origin_carries_no_token(
    status: int, location: str, same_origin: bool
) -> None:
    client = signed_in()
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if len(sent) == 1:
            return httpx.Response(status, headers={"Location": location})
        return httpx.Response(200)

    with client.http(
        base_url=API, transport=httpx.MockTransport(answer), follow_redirects=True
    ) as http:
        assert http.post("/pets", json={"name": "rex"}).status_code == 200

    first, second = sent
    assert first.headers["authorization"] == bearer(client)
    assert ("authorization" in second.headers) is same_origin


def test_a_real_cross_origin_redirect_on_loopback(
    servers: Callable[[Answer], Recorder],
) -> None:
    elsewhere = servers(ok)
    api = servers(redirect_to(f"{elsewhere.url}/steal?from=api"))
    client = signed_in()

    with client.http(base_url=api.url, follow_redirects=True) as http:
        response = http.get("/pets")

    assert response.status_code == 200
    assert api.authorizations == [bearer(client)]
    assert elsewhere.authorizations == [None]


def test_after_a_redirect_a_401_replays_to_the_api_not_to_the_other_origin(
    servers: Callable[[Answer], Recorder],
) -> None:
    """The final answer of a redirect chain is a 401: the refresh-and-replay goes back
    to the API's URL; the other origin never sees a token, before or after."""

    def refused(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 401, {"Content-Type": "application/json"}, b'{"message":"Unauthorized"}'

    elsewhere = servers(refused)
    api = servers(redirect_to(f"{elsewhere.url}/steal"))
    provider = servers(
        lambda seen: (
            200,
            {"Content-Type": "application/x-amz-json-1.1"},
            # The refresh's answer, and the keys its tokens are verified with.
            json.dumps(
                shapes_jwks()
                if seen.path.endswith("jwks.json")
                else auth_result(refresh=None, serial=2)
            ).encode(),
        )
    )
    client = signed_in(idp_url=provider.url + "/")

    with client.http(base_url=api.url, follow_redirects=True) as http:
        assert http.get("/pets").status_code == 401

    assert len(api.seen) == 2
    assert all(a and a.startswith("Bearer ") for a in api.authorizations)
    assert elsewhere.authorizations == [None, None]
    assert len([s for s in provider.seen if not s.path.endswith("jwks.json")]) == 1  # one refresh


async def test_an_async_redirect_to_another_origin_carries_no_token() -> None:
    client = signed_in()
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if len(sent) == 1:
            return httpx.Response(302, headers={"Location": "https://evil.example.test/"})
        return httpx.Response(200)

    async with client.async_http(
        base_url=API, transport=httpx.MockTransport(answer), follow_redirects=True
    ) as http:
        await http.get("/pets")

    assert "authorization" in sent[0].headers
    assert "authorization" not in sent[1].headers


# -- a provider that redirects is not followed ------------------------------------------------


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirecting_cognito_endpoint_never_gets_the_password_re_sent(
    servers: Callable[[Answer], Recorder], status: int
) -> None:
    elsewhere = servers(ok)
    idp = servers(redirect_to(f"{elsewhere.url}/collect", status))
    client = keybearer.OAuthClient.cognito(
        POOL, CLIENT, idp_url=idp.url + "/", store=keybearer.MemoryStore()
    )

    with pytest.raises(errors.ProtocolError):
        client.login_password("alice", "Correct-Horse-1")

    assert len(idp.seen) == 1
    assert elsewhere.seen == []


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirecting_token_endpoint_never_gets_the_refresh_token_re_sent(
    servers: Callable[[Answer], Recorder], status: int
) -> None:
    elsewhere = servers(ok)
    hosted = servers(redirect_to(f"{elsewhere.url}/collect", status))
    client = signed_in(domain=hosted.url)
    tokens = client.tokens
    assert tokens is not None
    client._session.cache.put(tokens.model_copy(update={"origin": "hosted_ui"}))

    with pytest.raises(errors.KeybearerError):
        client.refresh()

    assert len(hosted.seen) == 1
    assert elsewhere.seen == []


# -- never in a URL, across every flow -----------------------------------------------------


def test_no_secret_ever_travels_in_a_url(httpx_mock: HTTPXMock, clock: FakeClock) -> None:
    """Password, challenge, refresh (both kinds), API calls with a 401 replay, a code
    exchange with PKCE, userinfo, global sign-out and revocation: every request the
    SDK sends, to the provider or the API, is checked."""
    key = SigningKey()
    secret = "client-secret-" + "z" * 30
    password = "Correct-Horse-Battery-1"
    nonce: dict[str, str] = {}
    serial = iter(range(1, 1000))
    api_calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        n = next(serial)
        if request.url.host == "api.example.test":
            api_calls["n"] += 1
            return httpx.Response(401 if api_calls["n"] == 2 else 200, json={})
        target = request.headers.get("x-amz-target", "")
        if target.endswith(("InitiateAuth", "RespondToAuthChallenge")):
            if b'"mfa-user"' in request.content:
                challenge = {
                    "ChallengeName": "SOFTWARE_TOKEN_MFA",
                    "Session": "challenge-session-" + "s" * 40,
                    "ChallengeParameters": {"USERNAME": "mfa-user"},
                }
                return httpx.Response(200, json=challenge)
            return httpx.Response(200, json=auth_result(serial=n))
        if target:  # GlobalSignOut, RevokeToken
            return httpx.Response(200, json={})
        path = request.url.path
        if path == "/oauth2/token":
            id_claims = {
                "iss": ISSUER,
                "aud": CLIENT,
                "sub": "s",
                "token_use": "id",
                "exp": int(clock()) + 3600,
                "iat": int(clock()),
                "nonce": nonce.get("n"),
            }
            return httpx.Response(
                200,
                json={
                    "access_token": fake_jwt({"jti": f"a{n}"}),
                    "id_token": key.sign(id_claims),
                    "refresh_token": f"hosted-refresh-{n}-" + "r" * 30,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                },
            )
        if path.endswith("jwks.json"):  # the hosted UI's key, and cognito_shapes' (k1)
            return httpx.Response(200, json={"keys": key.jwks()["keys"] + shapes_jwks()["keys"]})
        if path == "/oauth2/userInfo":
            return httpx.Response(200, json={"sub": "s"})
        if path == "/oauth2/revoke":
            return httpx.Response(200)
        raise AssertionError(f"unexpected {request.method} {request.url}")

    httpx_mock.add_callback(answer, is_reusable=True)
    client = keybearer.OAuthClient.cognito(
        POOL,
        CLIENT,
        client_secret=secret,
        domain="https://auth.example.test",
        redirect_uri="http://localhost:8765/callback",
        store=keybearer.MemoryStore(),
        clock=clock,
    )
    secrets = {secret, password}

    def remember() -> None:
        tokens = client.tokens
        if tokens is not None:
            for value in (tokens.access_token, tokens.id_token, tokens.refresh_token):
                if value is not None:
                    secrets.add(value.get_secret_value())

    client.login_password("alice", password)
    remember()
    challenge = client.login_password("mfa-user", password)
    assert isinstance(challenge, keybearer.Challenge)
    secrets.add(challenge.session.get_secret_value())
    client.respond(challenge, code="123456")
    remember()
    client.refresh()
    remember()
    with client.http(base_url=API) as http:
        http.get("/pets")
        http.get("/pets")  # 401: refresh and replay
    remember()
    params = httpx.URL(client.authorization_url()).params
    nonce["n"] = params["nonce"]
    secrets.add(client._browser._attempts[params["state"]].verifier)
    secrets.add("the-authorization-code")
    client.complete_login(
        f"http://localhost:8765/callback?code=the-authorization-code&state={params['state']}"
    )
    remember()
    client.refresh()
    remember()
    client.userinfo()
    assert client.logout(global_=True) is True
    client.close()

    requests = httpx_mock.get_requests()
    assert len(requests) >= 14
    for request in requests:
        for value in secrets:
            assert value not in str(request.url), (
                f"a secret in the URL of {request.method} {request.url.path}"
            )
    # Bearer tokens go in Authorization headers to the API and to userinfo only.
    for request in requests:
        if request.headers.get("authorization", "").startswith("Bearer "):
            assert request.url.host == "api.example.test" or request.url.path == "/oauth2/userInfo"
    # Refresh tokens and the password never go to the API, in any part of a request.
    for request in (r for r in requests if r.url.host == "api.example.test"):
        blob = str(request.url) + str(request.headers.raw) + request.content.decode()
        for value in secrets:
            if "refresh" in value or value in (password, secret):
                assert value not in blob


# -- *.localhost is not loopback (finding 8) ----------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://api.localhost:8000",
        "http://localhost.localhost",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.test",
    ],
)
def test_plain_http_to_a_name_that_only_looks_local_is_refused_for_secrets(url: str) -> None:
    with pytest.raises(errors.ConfigurationError, match="plain http"):
        keybearer.OAuthClient.cognito(POOL, CLIENT, idp_url=url, store=keybearer.MemoryStore())
    client = signed_in()
    with pytest.raises(errors.ConfigurationError, match="plain http"):
        client.http(base_url=url)


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]"]
)
def test_loopback_is_localhost_127_8_and_ipv6_one(host: str) -> None:
    from keybearer._io.urls import is_loopback_host

    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host", ["api.localhost", "x.y.localhost", "localhost.", "128.0.0.1", "::2", "0.0.0.0"]
)
def test_nothing_else_is_loopback(host: str) -> None:
    from keybearer._io.urls import is_loopback_host

    assert not is_loopback_host(host)


# -- tokens from another pool (finding 6) ------------------------------------------------


def test_password_sign_in_refuses_tokens_from_a_pool_that_is_not_the_configured_one(
    cognito: LocalCognito, pool: Pool
) -> None:
    # cognito-idp finds the pool by the app client, not by the pool id: a client id of
    # another pool, paired with this pool's id, signs in there.
    other = cognito.create_pool()
    app = cognito.create_app_client(other)
    cognito.create_user(other, "stranger", "Correct-Horse-1")
    store = keybearer.MemoryStore()
    client = keybearer.OAuthClient.cognito(pool.id, app.id, idp_url=cognito.url, store=store)

    with pytest.raises(errors.ConfigurationError) as caught:
        client.login_password("stranger", "Correct-Horse-1")

    message = str(caught.value)
    assert other.id in message  # which pool answered
    assert pool.id in message  # which one was configured
    assert client.tokens is None
    assert store.load(client.config.store_key) is None


async def test_async_password_sign_in_refuses_tokens_from_another_pool(
    cognito: LocalCognito, pool: Pool
) -> None:
    other = cognito.create_pool()
    app = cognito.create_app_client(other)
    cognito.create_user(other, "stranger", "Correct-Horse-1")
    client = keybearer.OAuthClient.cognito(
        pool.id, app.id, idp_url=cognito.url, store=keybearer.MemoryStore()
    )
    with pytest.raises(errors.ConfigurationError, match=other.id):
        await client.alogin_password("stranger", "Correct-Horse-1")
    assert client.tokens is None


def test_password_sign_in_refuses_tokens_that_name_no_issuer() -> None:
    result = auth_result()
    result["AuthenticationResult"]["AccessToken"] = fake_jwt({"sub": "s", "username": "u"})
    client = keybearer.OAuthClient.cognito(POOL, CLIENT, store=keybearer.MemoryStore())
    client._session._sync_http = httpx.Client(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=result))
    )
    with pytest.raises(errors.ConfigurationError, match="names no issuer"):
        client.login_password("alice", "Correct-Horse-1")
    assert client.tokens is None


# -- no environment proxy for loopback (finding 7) -----------------------------------------


class Proxy:
    """A TCP listener standing in for an HTTP proxy: it records each connection, then closes it."""

    def __init__(self) -> None:
        self.contacted = threading.Event()
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.contacted.set()
            connection.close()

    def stop(self) -> None:
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    """A proxy named in the environment the way corporate machines do it."""
    listener = Proxy()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, listener.url)
    for name in ("NO_PROXY", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield listener
    listener.stop()


@pytest.fixture
def warm_api(
    api: ProtectedApi, cognito: LocalCognito, pool: Pool, public_client: AppClient
) -> ProtectedApi:
    """The protected API with the pool's keys already downloaded, before any proxy is set.

    The stand-in fetches its keys with plain httpx, which honours proxies: that is the
    test kit, not keybearer, and not what these tests are about.
    """
    user = cognito.create_user(pool, f"warm-{uuid.uuid4().hex[:8]}", "Correct-Horse-1")
    client = keybearer.OAuthClient.cognito(
        pool.id, public_client.id, idp_url=cognito.url, store=keybearer.MemoryStore()
    )
    client.login_password(user.username, "Correct-Horse-1")
    with client.http(base_url=api.url) as http:
        assert http.get("/pets").status_code == 200
    client.close()
    return api


def test_the_environment_proxy_is_real_for_remote_hosts(proxy: Proxy) -> None:
    # The control: the proxy in the environment is used, so the tests below mean something.
    client = signed_in()
    with client.http(base_url=API) as http, pytest.raises(httpx.HTTPError):
        http.get("/pets")
    assert proxy.contacted.is_set()


def test_a_loopback_api_never_goes_through_an_environment_proxy(
    warm_api: ProtectedApi,
    person: Person,
    proxy: Proxy,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
) -> None:
    api = warm_api
    client = keybearer.OAuthClient.cognito(
        pool.id, public_client.id, idp_url=cognito.url, store=keybearer.MemoryStore()
    )
    client.login_password(person.username, person.password)  # http to a loopback idp_url
    localhost = api.url.replace("127.0.0.1", "localhost")
    for base_url in (api.url, localhost):
        with client.http(base_url=base_url) as http:
            assert http.get("/pets").status_code == 200
    client.close()
    assert proxy.connections == 0


async def test_a_loopback_api_never_goes_through_an_environment_proxy_async(
    warm_api: ProtectedApi,
    person: Person,
    proxy: Proxy,
    cognito: LocalCognito,
    pool: Pool,
    public_client: AppClient,
) -> None:
    api = warm_api
    client = keybearer.OAuthClient.cognito(
        pool.id, public_client.id, idp_url=cognito.url, store=keybearer.MemoryStore()
    )
    await client.alogin_password(person.username, person.password)
    async with client.async_http(base_url=api.url) as http:
        assert (await http.get("/pets")).status_code == 200
    await client.arefresh()
    assert proxy.connections == 0


def test_an_explicit_proxy_argument_is_the_callers_choice(proxy: Proxy, api: ProtectedApi) -> None:
    client = signed_in()
    with client.http(base_url=api.url, proxy=proxy.url) as http, pytest.raises(httpx.HTTPError):
        http.get("/pets")
    assert proxy.contacted.is_set()
