"""Fault injection on every endpoint the SDK calls, through real sockets on 127.0.0.1.

A raw-socket server stands in for the provider (cognito-idp, the hosted UI's
token, revoke and userinfo endpoints, discovery), for the JWKS host and for the
protected API. It answers correctly until a test plants a fault on one
operation, then it misbehaves in the way the test names: the port refuses
connections, the connection is reset or closed mid-body, nothing comes back,
the status is 5xx or 429, the body is HTML, broken, truncated, 10 MB, encoded
wrongly or lacks a field.

For each endpoint and each fault the test checks that the SDK raises a typed
``keybearer.errors`` exception with a clear message (for the protected API,
httpx's own errors or the response itself), that the stored tokens are exactly
as they were, and that no thread or socket is left behind.

The last section is the throttling policy the issue asks for (bounded,
jittered retries of throttled calls only, honouring ``Retry-After``). It is
written against ``keybearer._io.drive.Retry``, the policy each client takes as
``OAuthClient(config, retry=...)``; every client here gets one that never
really waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import keybearer
from cognito_shapes import CLIENT, ISSUER, POOL, SigningKey, auth_result, fake_jwt
from keybearer import errors
from keybearer._io.drive import Retry
from support import FakeClock

REDIRECT = "http://localhost:8765/callback"
TIMEOUT = 0.3  # seconds: the SDK's timeout in these tests, so a silent server costs little
TEN_MB = 10 * 1024 * 1024


# -- a raw-socket HTTP server that can misbehave ---------------------------------------


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def operation(self) -> str:
        """What was asked, in the names faults are planted under."""
        target = self.headers.get("x-amz-target", "")
        if target:
            op = target.rsplit(".", 1)[-1]
            if op == "InitiateAuth":
                flow = json.loads(self.body or b"{}").get("AuthFlow")
                return "InitiateAuth:REFRESH_TOKEN_AUTH" if flow == "REFRESH_TOKEN_AUTH" else op
            return op
        path = urlsplit(self.path).path
        if path == "/oauth2/token":
            grant = parse_qs(self.body.decode()).get("grant_type", [""])[0]
            return f"token:{grant}"
        return {
            "/oauth2/revoke": "revoke",
            "/oauth2/userInfo": "userinfo",
            "/.well-known/openid-configuration": "discovery",
            "/jwks.json": "jwks",
        }.get(path, "api")


Action = Callable[[socket.socket, threading.Event], None]


def _read_request(conn: socket.socket) -> RawRequest | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return RawRequest(method, path, headers, body)


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Status'}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(
    status: int = 200,
    body: bytes | str | Any = b"",
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Action:
    """A complete answer; the connection is closed after it."""
    if isinstance(body, str):
        payload = body.encode()
    elif isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body).encode()
    all_headers = {
        "Content-Type": content_type,
        "Content-Length": str(len(payload)),
        "Connection": "close",
        **(headers or {}),
    }

    def act(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(status, all_headers) + payload)

    return act


def cut(sent: bytes, *, declared: int = 4096, reset: bool) -> Action:
    """Headers promising ``declared`` bytes, ``sent`` of them, then a close or a reset."""

    def act(conn: socket.socket, stop: threading.Event) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": str(declared)}
        conn.sendall(_head(200, headers) + sent)
        if reset:
            # SO_LINGER with a zero timeout: close() sends RST, not FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return act


def raw(data: bytes) -> Action:
    def act(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(data)

    return act


def hang(limit: float = 5.0) -> Action:
    """Read the request, then say nothing until the test ends (bounded)."""

    def act(conn: socket.socket, stop: threading.Event) -> None:
        stop.wait(limit)

    return act


def trickle(body: bytes, *, interval: float = 0.05, limit: float = 2.0) -> Action:
    """A slow-loris answer: headers, then one byte every ``interval`` (bounded)."""

    def act(conn: socket.socket, stop: threading.Event) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body) * 1000)}
        conn.sendall(_head(200, headers))
        deadline = time.monotonic() + limit
        index = 0
        while not stop.wait(interval) and time.monotonic() < deadline:
            try:
                conn.sendall(body[index % len(body) : index % len(body) + 1])
            except OSError:
                return
            index += 1

    return act


class RawServer:
    """One connection at a time on 127.0.0.1; ``handler`` picks each answer."""

    def __init__(self, handler: Callable[[RawRequest], Action]) -> None:
        self.handler = handler
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, name="fault-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    request = _read_request(conn)
                    if request is not None:
                        self.handler(request)(conn, self._stop)
                        with contextlib.suppress(OSError):
                            conn.shutdown(socket.SHUT_WR)
                            conn.settimeout(0.5)
                            while conn.recv(65536):  # let the client read, then hang up
                                pass
                except OSError:
                    pass

    def refuse(self) -> None:
        """Stop listening: from now on the port refuses connections."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes accept() at once
        self._thread.join(5)
        self._sock.close()

    def stop(self) -> None:
        self.refuse()


# -- a provider that answers correctly unless told otherwise ---------------------------


@dataclass
class Provider:
    """cognito-idp, the hosted UI endpoints, discovery, JWKS and an API, on three ports."""

    key: SigningKey
    faults: dict[str, Action] = field(default_factory=dict)
    queued: dict[str, list[Action]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    nonce: str | None = None
    serial: int = 0

    def __post_init__(self) -> None:
        self.main = RawServer(self.handle)
        self.keys = RawServer(self.handle)
        self.api = RawServer(self.handle)

    def stop(self) -> None:
        servers = (self.main, self.keys, self.api)
        for server in servers:
            server._stop.set()
        for server in servers:
            server.stop()

    def plant(self, operation: str, action: Action, *, times: int | None = None) -> None:
        """Misbehave on ``operation``: always, or for the next ``times`` calls only."""
        if times is None:
            self.faults[operation] = action
        else:
            self.queued.setdefault(operation, []).extend([action] * times)

    def handle(self, request: RawRequest) -> Action:
        op = request.operation
        self.calls[op] += 1
        if self.queued.get(op):
            return self.queued[op].pop(0)
        if op in self.faults:
            return self.faults[op]
        self.serial += 1
        return self.healthy(op, request)

    def _id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT,
            "sub": "7d8ca528-4931-4254-9273-ea5ee853f271",
            "token_use": "id",
            "cognito:username": "7d8ca528-4931-4254-9273-ea5ee853f271",
            "iat": now,
            "exp": now + 3600,
            "jti": f"id-{self.serial}",
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return self.key.sign(claims)

    def token_answer(self, *, refresh: bool) -> dict[str, Any]:
        answer = {
            "access_token": fake_jwt({"token_use": "access", "jti": f"a-{self.serial}"}),
            "id_token": self._id_token(self.nonce),
            "token_type": "Bearer",
            "expires_in": 3600,
        }
        if refresh:
            answer["refresh_token"] = f"hosted-refresh-{self.serial}-" + "r" * 40
        return answer

    def healthy(self, op: str, request: RawRequest) -> Action:
        cognito = "application/x-amz-json-1.1"
        if op == "InitiateAuth":
            body = json.loads(request.body)
            if body["AuthParameters"]["USERNAME"] == "mfa-user":
                challenge = {
                    "ChallengeName": "SOFTWARE_TOKEN_MFA",
                    "Session": "challenge-session-" + "s" * 60,
                    "ChallengeParameters": {"USERNAME": "mfa-user"},
                }
                return reply(body=challenge, content_type=cognito)
            return reply(body=auth_result(serial=self.serial), content_type=cognito)
        if op in ("InitiateAuth:REFRESH_TOKEN_AUTH", "RespondToAuthChallenge"):
            refresh = None if op.endswith("REFRESH_TOKEN_AUTH") else "r" * 50
            return reply(
                body=auth_result(refresh=refresh, serial=self.serial), content_type=cognito
            )
        if op == "GetTokensFromRefreshToken":
            answer = auth_result(refresh=f"rotated-{self.serial}-" + "n" * 40, serial=self.serial)
            return reply(body=answer, content_type=cognito)
        if op in ("RevokeToken", "GlobalSignOut"):
            return reply(body={}, content_type=cognito)
        if op == "token:authorization_code":
            return reply(body=self.token_answer(refresh=True))
        if op == "token:refresh_token":
            return reply(body=self.token_answer(refresh=False))
        if op == "revoke":
            return reply(body=b"")
        if op == "userinfo":
            return reply(body={"sub": "7d8ca528-4931-4254-9273-ea5ee853f271"})
        if op == "discovery":
            return reply(body=self.discovery())
        if op == "jwks":
            return reply(body=self.key.jwks())
        return reply(body=[{"id": 1, "type": "dog"}])

    def discovery(self) -> dict[str, Any]:
        base = self.main.url
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/token",
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "userinfo_endpoint": f"{base}/oauth2/userInfo",
            "jwks_uri": f"{self.keys.url}/jwks.json",
            "code_challenge_methods_supported": ["S256"],
        }


# -- fixtures: the provider, leak accounting, no real sleeping ----------------------------


def _open_sockets() -> set[str]:
    """The sockets this process holds (``socket:[inode]`` links in /proc/self/fd)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:"):
                found.add(target)
    return found


HAVE_PROC = os.path.isdir("/proc/self/fd")


@dataclass
class Leaks:
    threads: set[threading.Thread]
    sockets: set[str]

    @classmethod
    def now(cls) -> Leaks:
        return cls(set(threading.enumerate()), _open_sockets() if HAVE_PROC else set())

    def check(self) -> None:
        deadline = time.monotonic() + 2.0
        while True:
            extra_threads = {t for t in threading.enumerate() if t.is_alive()} - self.threads
            extra_sockets = (_open_sockets() - self.sockets) if HAVE_PROC else set()
            if not extra_threads and not extra_sockets:
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert not extra_threads, f"threads left behind: {sorted(t.name for t in extra_threads)}"
        assert not extra_sockets, f"{len(extra_sockets)} socket(s) left behind"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture(scope="module", autouse=True)
def _one_tls_context() -> Iterator[None]:
    """Speed only: every client here builds a TLS context (50 ms: the CA bundle) and
    none uses it, since every server is plain-http loopback. Share one."""
    import httpx._transports.default as transports

    shared = httpx.create_ssl_context()
    original = transports.create_ssl_context

    def cached(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is True and cert is None:
            return shared
        return original(verify=verify, cert=cert, trust_env=trust_env)

    patch = pytest.MonkeyPatch()
    patch.setattr(transports, "create_ssl_context", cached)
    patch.setattr(httpx, "create_ssl_context", cached)
    yield
    patch.undo()


@pytest.fixture
def provider(key: SigningKey) -> Iterator[Provider]:
    before = Leaks.now()
    made = Provider(key)
    try:
        yield made
    finally:
        made.stop()
    before.check()


async def _no_async_sleep(seconds: float) -> None:
    return None


QUIET = Retry(sleep=lambda seconds: None, asleep=_no_async_sleep)
"""The default policy, except that its back-off waits for nothing (the session's seam)."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def cognito_client(
    provider: Provider,
    clock: FakeClock,
    store: keybearer.MemoryStore,
    *,
    retry: Retry = QUIET,
    **options: Any,
) -> keybearer.OAuthClient:
    values: dict[str, Any] = {
        "domain": provider.main.url,
        "idp_url": provider.main.url + "/",
        "issuer": ISSUER,
        "jwks_url": provider.keys.url + "/jwks.json",
        "redirect_uri": REDIRECT,
        "api_hosts": [provider.api.url],
        "timeout": TIMEOUT,
    }
    values.update(options)
    config = keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, **values).config
    return keybearer.OAuthClient(config, store=store, clock=clock, retry=retry)


def code_redirect(client: keybearer.OAuthClient, provider: Provider) -> str:
    """Start a browser sign-in and return the redirect the provider would send back."""
    params = httpx.URL(client.authorization_url()).params
    provider.nonce = params["nonce"]
    return f"{REDIRECT}?code=the-authorization-code&state={params['state']}"


# -- what each endpoint's call looks like, after a healthy set-up -------------------------


@dataclass
class Scenario:
    """A client set up against the healthy provider, and the call that meets the fault."""

    client: keybearer.OAuthClient
    call: Callable[[], Any]
    revokes: bool = False  # logout: errors are reported by the return value and a warning


def _password(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = cognito_client(provider, clock, store)
    client.login_password("alice", "Correct-Horse-1")
    return Scenario(client, lambda: client.login_password("alice", "Correct-Horse-1"))


def _challenge(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = cognito_client(provider, clock, store)
    client.login_password("alice", "Correct-Horse-1")
    challenge = client.login_password("mfa-user", "Correct-Horse-1")
    assert isinstance(challenge, keybearer.SoftwareTokenMfa)
    return Scenario(client, lambda: client.respond(challenge, code="123456"))


def _refresh(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = cognito_client(provider, clock, store)
    client.login_password("alice", "Correct-Horse-1")
    return Scenario(client, client.refresh)


def _rotating(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = cognito_client(provider, clock, store, rotate_refresh_tokens=True)
    client.login_password("alice", "Correct-Horse-1")
    return Scenario(client, client.refresh)


def _revoke_token(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = cognito_client(provider, clock, store)
    client.login_password("alice", "Correct-Horse-1")
    return Scenario(client, client.logout, revokes=True)


def _code_exchange(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = cognito_client(provider, clock, store)
    client.login_password("alice", "Correct-Horse-1")  # a session that must survive
    pasted = code_redirect(client, provider)
    return Scenario(client, lambda: client.complete_login(pasted))


def _hosted_signed_in(
    provider: Provider, clock: FakeClock, store: keybearer.MemoryStore, retry: Retry = QUIET
) -> keybearer.OAuthClient:
    client = cognito_client(provider, clock, store, retry=retry)
    client.complete_login(code_redirect(client, provider))
    return client


def _hosted_refresh(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = _hosted_signed_in(provider, clock, store)
    return Scenario(client, client.refresh)


def _hosted_revoke(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = _hosted_signed_in(provider, clock, store)
    return Scenario(client, client.logout, revokes=True)


def _userinfo(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = _hosted_signed_in(provider, clock, store)
    return Scenario(client, client.userinfo)


def _jwks(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = cognito_client(provider, clock, store)
    client.login_password("alice", "Correct-Horse-1")
    pasted = code_redirect(client, provider)
    return Scenario(client, lambda: client.complete_login(pasted))


def _discovery(provider: Provider, clock: FakeClock, store: keybearer.MemoryStore) -> Scenario:
    client = keybearer.OAuthClient.oidc(
        provider.main.url,
        CLIENT,
        redirect_uri=REDIRECT,
        timeout=TIMEOUT,
        store=store,
        clock=clock,
    )
    # A session stored earlier (discovery is the first call an OIDC client makes).
    tokens = keybearer.TokenSet(
        access_token=fake_jwt({"jti": "stored"}),
        refresh_token="stored-refresh-" + "r" * 40,
        expires_at=clock() + 3600,
        origin="hosted_ui",
    )
    store.save(client.config.store_key, tokens.to_json())
    return Scenario(client, client.authorization_url)


@dataclass(frozen=True)
class Endpoint:
    operation: str  # what the fault is planted on
    setup: Callable[..., Scenario]
    family: str  # which answers are errors: "cognito", "oauth", "revoke", "jwks", "discovery"
    missing_field: Any = None  # a 200 answer without a required field; None: it has none


def _discovery_without_token_endpoint(provider: Provider) -> dict[str, Any]:
    return {k: v for k, v in provider.discovery().items() if k != "token_endpoint"}


ENDPOINTS: dict[str, Endpoint] = {
    "InitiateAuth": Endpoint(
        "InitiateAuth", _password, "cognito", {"AuthenticationResult": {"IdToken": "x"}}
    ),
    "RespondToAuthChallenge": Endpoint(
        "RespondToAuthChallenge", _challenge, "cognito", {"ChallengeParameters": {}}
    ),
    "InitiateAuth:REFRESH_TOKEN_AUTH": Endpoint(
        "InitiateAuth:REFRESH_TOKEN_AUTH",
        _refresh,
        "cognito",
        {"AuthenticationResult": {"IdToken": "x", "ExpiresIn": 3600}},
    ),
    "GetTokensFromRefreshToken": Endpoint(
        "GetTokensFromRefreshToken", _rotating, "cognito", {"ChallengeParameters": {}}
    ),
    "RevokeToken": Endpoint("RevokeToken", _revoke_token, "cognito"),  # answers {}
    "/oauth2/token (code)": Endpoint(
        "token:authorization_code", _code_exchange, "oauth", {"token_type": "Bearer"}
    ),
    "/oauth2/token (refresh)": Endpoint(
        "token:refresh_token", _hosted_refresh, "oauth", {"id_token": "x", "expires_in": 60}
    ),
    "/oauth2/revoke": Endpoint("revoke", _hosted_revoke, "revoke"),  # any 200 is success
    "/oauth2/userInfo": Endpoint("userinfo", _userinfo, "oauth"),  # claims are optional
    "JWKS": Endpoint("jwks", _jwks, "jwks", {"not_keys": []}),
    "discovery": Endpoint("discovery", _discovery, "discovery", _discovery_without_token_endpoint),
}

TRUNCATED_JSON = b'{"AuthenticationResult": {"AccessToken": "eyJraWQiOi'
BIG = b'{"padding": "' + b"x" * TEN_MB + b'"}'


@dataclass(frozen=True)
class Fault:
    name: str
    expected: type[Exception]
    families: tuple[str, ...] = ("cognito", "oauth", "revoke", "jwks", "discovery")


FAULTS = [
    Fault("refused", errors.NetworkError),
    Fault("reset mid-body", errors.NetworkError),
    Fault("truncated body", errors.NetworkError),
    Fault("headers then close", errors.NetworkError),
    Fault("not HTTP", errors.NetworkError),
    Fault("timeout", errors.RequestTimeoutError),
    Fault("500", errors.ServiceError),
    Fault("503 html", errors.ServiceError),
    Fault("429 Retry-After", errors.ThrottledError),
    Fault("TooManyRequestsException", errors.ThrottledError, ("cognito",)),
    Fault("200 html", errors.ProtocolError, ("cognito", "oauth", "jwks", "discovery")),
    Fault("malformed JSON", errors.ProtocolError, ("cognito", "oauth", "jwks", "discovery")),
    Fault("truncated JSON", errors.ProtocolError, ("cognito", "oauth", "jwks", "discovery")),
    Fault("10 MB body", errors.ProtocolError, ("cognito", "oauth", "jwks", "discovery")),
    Fault("missing field", errors.ProtocolError, ("cognito", "oauth", "jwks", "discovery")),
    Fault("bad content-encoding", errors.ProtocolError),
]


def action_for(
    fault: str, family: str, provider: Provider, missing_field: Any = None
) -> Action | None:
    """The misbehaviour; None for "refused", which closes the port instead."""
    ctype = "application/x-amz-json-1.1" if family == "cognito" else "application/json"
    if fault == "refused":
        return None
    if fault == "reset mid-body":
        return cut(TRUNCATED_JSON, reset=True)
    if fault == "truncated body":
        return cut(TRUNCATED_JSON, reset=False)
    if fault == "headers then close":
        return cut(b"", reset=False)
    if fault == "not HTTP":
        return raw(b"SSH-2.0-OpenSSH_9.6\r\n")
    if fault == "timeout":
        return hang()
    if fault == "500":
        body = {"__type": "InternalErrorException", "message": "boom"}
        return reply(500, body, content_type=ctype)
    if fault == "503 html":
        return reply(503, "<html>Service Unavailable</html>", content_type="text/html")
    if fault == "429 Retry-After":
        return reply(429, "slow down", content_type="text/plain", headers={"Retry-After": "3"})
    if fault == "TooManyRequestsException":
        body = {"__type": "TooManyRequestsException", "message": "Rate exceeded"}
        return reply(400, body, content_type=ctype, headers={"Retry-After": "3"})
    if fault == "200 html":
        return reply(
            200, "<html><body>Sign in to the Wi-Fi</body></html>", content_type="text/html"
        )
    if fault == "malformed JSON":
        return reply(200, b"{'AuthenticationResult': nope}", content_type=ctype)
    if fault == "truncated JSON":
        return reply(200, TRUNCATED_JSON, content_type=ctype)
    if fault == "10 MB body":
        return reply(200, BIG, content_type=ctype)
    if fault == "missing field":
        body = missing_field(provider) if callable(missing_field) else missing_field
        return reply(200, body, content_type=ctype)
    if fault == "bad content-encoding":
        return reply(
            200, b"this is not gzip", content_type=ctype, headers={"Content-Encoding": "gzip"}
        )
    raise AssertionError(fault)


def server_for(operation: str, provider: Provider) -> RawServer:
    return provider.keys if operation == "jwks" else provider.main


CASES = [
    pytest.param(name, fault, id=f"{name}-{fault.name}")
    for name, endpoint in ENDPOINTS.items()
    for fault in FAULTS
    if endpoint.family in fault.families
    and (fault.name != "missing field" or endpoint.missing_field is not None)
]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def recording() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("keybearer")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _is_clear(message: str) -> bool:
    """A message a person can act on: says something, no traceback, no repr soup."""
    return 10 <= len(message) <= 800 and "Traceback" not in message and "\n" not in message


@pytest.mark.parametrize(("name", "fault"), CASES)
def test_every_endpoint_fault_is_a_typed_error_and_keeps_the_stored_tokens(
    provider: Provider, clock: FakeClock, name: str, fault: Fault
) -> None:
    endpoint = ENDPOINTS[name]
    operation = endpoint.operation
    store = keybearer.MemoryStore()
    scenario = endpoint.setup(provider, clock, store)
    client = scenario.client
    key = client.config.store_key
    stored_before = store.load(key)
    tokens_before = client.tokens
    assert stored_before is not None

    action = action_for(fault.name, endpoint.family, provider, endpoint.missing_field)
    if action is None:
        server_for(operation, provider).refuse()
    else:
        provider.plant(operation, action)

    started = time.monotonic()
    with recording() as log:
        if scenario.revokes:
            # logout() reports a failed revocation by its result and a warning, and
            # signs out locally by design: the typed error is in the warning.
            assert scenario.call() is False
            (warning,) = [r for r in log.records if r.levelno == logging.WARNING]
            error = warning.args[0] if isinstance(warning.args, tuple) else None
            assert isinstance(error, fault.expected), (type(error), error)
            assert client.tokens is None
        else:
            with pytest.raises(errors.KeybearerError) as caught:
                scenario.call()
            error = caught.value
            assert isinstance(error, fault.expected), f"{type(error).__name__}: {error}"
            # Nothing about the stored session changed.
            assert store.load(key) == stored_before
            assert client.tokens is tokens_before
    elapsed = time.monotonic() - started

    assert _is_clear(str(error)), str(error)
    assert elapsed < 3.0, f"took {elapsed:.1f} s"
    if fault.name == "timeout":
        assert elapsed < TIMEOUT * 6
    if isinstance(error, errors.ThrottledError) and fault.name != "TooManyRequestsException":
        assert error.retry_after == 3.0
    if operation != "discovery":
        assert provider.calls[operation] >= (0 if fault.name == "refused" else 1)
    client.close()


# -- the protected API itself: httpx's errors are fine, the session must survive -------

API_FAULTS = [
    "refused",
    "reset mid-body",
    "truncated body",
    "headers then close",
    "not HTTP",
    "timeout",
    "500",
    "503 html",
    "429 Retry-After",
    "200 html",
    "malformed JSON",
    "10 MB body",
    "bad content-encoding",
]


@pytest.mark.parametrize("fault", API_FAULTS)
def test_api_faults_leave_the_session_alone(
    provider: Provider, clock: FakeClock, fault: str
) -> None:
    store = keybearer.MemoryStore()
    client = cognito_client(provider, clock, store)
    client.login_password("alice", "Correct-Horse-1")
    stored_before = store.load(client.config.store_key)
    tokens_before = client.tokens
    action = action_for(fault, "api", provider)
    if action is None:
        provider.api.refuse()
    else:
        provider.plant("api", action)

    with client.http(base_url=provider.api.url, timeout=TIMEOUT) as http:
        try:
            response = http.get("/pets")
        except httpx.HTTPError as exc:
            outcome: Any = exc
        else:
            outcome = response

    if fault in ("500", "503 html", "429 Retry-After", "200 html", "malformed JSON", "10 MB body"):
        assert isinstance(outcome, httpx.Response)
    else:
        assert isinstance(outcome, httpx.HTTPError), outcome
    assert store.load(client.config.store_key) == stored_before
    assert client.tokens is tokens_before
    assert provider.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 0  # no refresh for a fault
    assert provider.calls["api"] == (0 if fault == "refused" else 1)  # and no replay
    client.close()


@pytest.mark.parametrize(
    "fault", ["refused", "reset mid-body", "timeout", "500", "200 html", "bad content-encoding"]
)
def test_a_refresh_fault_during_an_api_call_is_typed_and_keeps_the_session(
    provider: Provider, clock: FakeClock, fault: str
) -> None:
    store = keybearer.MemoryStore()
    client = cognito_client(provider, clock, store)
    client.login_password("alice", "Correct-Horse-1")
    stored_before = store.load(client.config.store_key)
    clock.advance(7200)  # expired: the request must refresh first
    action = action_for(fault, "cognito", provider)
    if action is None:
        provider.main.refuse()
    else:
        provider.plant("InitiateAuth:REFRESH_TOKEN_AUTH", action)

    with (
        client.http(base_url=provider.api.url, timeout=TIMEOUT) as http,
        pytest.raises(errors.KeybearerError) as caught,
    ):
        http.get("/pets")

    assert isinstance(caught.value, (errors.TransientError, errors.ProtocolError))
    assert store.load(client.config.store_key) == stored_before
    assert provider.calls["api"] == 0  # the expired token was not sent
    client.close()


# -- async: the same driver, the other face --------------------------------------------


@pytest.mark.parametrize(
    "fault",
    ["refused", "reset mid-body", "timeout", "500", "10 MB body", "bad content-encoding"],
)
async def test_async_faults_are_typed_and_keep_the_stored_tokens(
    provider: Provider, clock: FakeClock, fault: str
) -> None:
    store = keybearer.MemoryStore()
    client = cognito_client(provider, clock, store)
    await client.alogin_password("alice", "Correct-Horse-1")
    stored_before = store.load(client.config.store_key)
    action = action_for(fault, "cognito", provider)
    if action is None:
        provider.main.refuse()
    else:
        provider.plant("InitiateAuth:REFRESH_TOKEN_AUTH", action)
        provider.plant("InitiateAuth", action)

    for call in (client.arefresh, lambda: client.alogin_password("alice", "pw")):
        with pytest.raises(errors.KeybearerError) as caught:
            await call()
        assert isinstance(caught.value, (errors.TransientError, errors.ProtocolError))
        assert store.load(client.config.store_key) == stored_before
    await client.aclose()


# -- a slow provider: the timeout is a deadline, not a per-read allowance ----------------


@pytest.mark.parametrize(
    ("name", "operation"),
    [("InitiateAuth", "InitiateAuth"), ("/oauth2/token (refresh)", "token:refresh_token")],
)
def test_a_provider_that_trickles_its_answer_times_out(
    provider: Provider, clock: FakeClock, name: str, operation: str
) -> None:
    """One byte every 50 ms never trips httpx's per-read timeout; the SDK's must still."""
    store = keybearer.MemoryStore()
    scenario = ENDPOINTS[name].setup(provider, clock, store)
    stored_before = store.load(scenario.client.config.store_key)
    provider.plant(operation, trickle(b'{"AuthenticationResult": {}}', interval=0.05, limit=3.0))

    started = time.monotonic()
    with pytest.raises(errors.RequestTimeoutError):
        scenario.call()

    assert time.monotonic() - started < TIMEOUT * 4
    assert store.load(scenario.client.config.store_key) == stored_before
    scenario.client.close()


# -- browser sign-in: a fault after the loopback server started leaves nothing behind ----


@pytest.mark.parametrize("fault", ["reset mid-body", "timeout", "500", "bad content-encoding"])
def test_browser_sign_in_fault_closes_the_loopback_server(
    provider: Provider, clock: FakeClock, fault: str
) -> None:
    store = keybearer.MemoryStore()
    client = cognito_client(provider, clock, store, redirect_uri="http://127.0.0.1:0/callback")
    provider.plant("token:authorization_code", action_for(fault, "oauth", provider))  # type: ignore[arg-type]
    seen: dict[str, int] = {}

    def browser(url: str) -> None:
        params = httpx.URL(url).params
        provider.nonce = params["nonce"]
        port = httpx.URL(params["redirect_uri"]).port
        assert port is not None
        seen["port"] = port
        redirect = f"{params['redirect_uri']}?code=c&state={params['state']}"
        assert httpx.get(redirect, timeout=5).status_code == 200

    with pytest.raises(errors.KeybearerError):
        client.login_browser(open_url=browser, timeout=10, paste_fallback=False)

    assert store.load(client.config.store_key) is None
    assert nothing_listens(seen["port"])
    client.close()


def nothing_listens(port: int) -> bool:
    """Whether connecting to 127.0.0.1:``port`` is refused: no server is left there."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


# -- throttling: bounded, jittered retries of throttled calls only (proposed) -----------


@dataclass
class Sleeps:
    seconds: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.seconds.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.seconds.append(seconds)

    @property
    def policy(self) -> Retry:
        """The default retry policy, recording its waits here instead of waiting."""
        return Retry(sleep=self.sleep, asleep=self.asleep)


@pytest.fixture
def sleeps() -> Sleeps:
    """A recording sleep for the retry policy a test hands its client: nothing really waits."""
    return Sleeps()


def throttled(retry_after: str | None = None) -> Action:
    headers = {"x-amzn-ErrorType": "TooManyRequestsException:"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = {"__type": "TooManyRequestsException", "message": "Rate exceeded"}
    return reply(400, body, content_type="application/x-amz-json-1.1", headers=headers)


def test_a_throttled_login_is_retried_with_jittered_backoff_then_succeeds(
    provider: Provider, clock: FakeClock, sleeps: Sleeps
) -> None:
    store = keybearer.MemoryStore()
    client = cognito_client(provider, clock, store, retry=sleeps.policy)
    provider.plant("InitiateAuth", throttled(), times=QUIET.attempts - 1)

    tokens = client.login_password("alice", "Correct-Horse-1")

    assert isinstance(tokens, keybearer.TokenSet)
    assert provider.calls["InitiateAuth"] == QUIET.attempts
    assert len(sleeps.seconds) == QUIET.attempts - 1
    assert all(0 <= s <= QUIET.cap for s in sleeps.seconds)
    assert store.load(client.config.store_key) is not None
    client.close()


def test_throttling_that_persists_gives_up_after_the_bound(
    provider: Provider, clock: FakeClock, sleeps: Sleeps
) -> None:
    client = cognito_client(provider, clock, keybearer.MemoryStore(), retry=sleeps.policy)
    provider.plant("InitiateAuth", throttled())

    with pytest.raises(errors.ThrottledError) as caught:
        client.login_password("alice", "Correct-Horse-1")

    assert caught.value.code == "TooManyRequestsException"
    assert provider.calls["InitiateAuth"] == QUIET.attempts
    assert len(sleeps.seconds) == QUIET.attempts - 1
    assert sum(sleeps.seconds) <= QUIET.cap * (QUIET.attempts - 1)
    client.close()


def test_the_backoff_is_jittered(provider: Provider, clock: FakeClock, sleeps: Sleeps) -> None:
    client = cognito_client(provider, clock, keybearer.MemoryStore(), retry=sleeps.policy)
    provider.plant("InitiateAuth", throttled())
    firsts = []
    for _ in range(8):
        sleeps.seconds.clear()
        with pytest.raises(errors.ThrottledError):
            client.login_password("alice", "Correct-Horse-1")
        firsts.append(sleeps.seconds[0])

    assert len(set(firsts)) > 1, "every client would retry in lock-step"
    client.close()


def test_retry_after_is_honoured(provider: Provider, clock: FakeClock, sleeps: Sleeps) -> None:
    client = cognito_client(provider, clock, keybearer.MemoryStore(), retry=sleeps.policy)
    provider.plant("InitiateAuth", throttled(retry_after="2"), times=1)

    client.login_password("alice", "Correct-Horse-1")

    (waited,) = sleeps.seconds
    assert waited >= 2.0
    client.close()


def test_a_retry_after_beyond_the_cap_is_not_waited_for(
    provider: Provider, clock: FakeClock, sleeps: Sleeps
) -> None:
    client = cognito_client(provider, clock, keybearer.MemoryStore(), retry=sleeps.policy)
    provider.plant("InitiateAuth", throttled(retry_after="3600"))

    with pytest.raises(errors.ThrottledError) as caught:
        client.login_password("alice", "Correct-Horse-1")

    assert caught.value.retry_after == 3600.0
    assert provider.calls["InitiateAuth"] == 1
    assert sleeps.seconds == []
    client.close()


@pytest.mark.parametrize("fault", ["500", "reset mid-body", "not authorized", "429 on the API"])
def test_only_throttling_is_retried(
    provider: Provider, clock: FakeClock, sleeps: Sleeps, fault: str
) -> None:
    client = cognito_client(provider, clock, keybearer.MemoryStore(), retry=sleeps.policy)
    if fault == "429 on the API":
        client.login_password("alice", "Correct-Horse-1")
        provider.plant("api", action_for("429 Retry-After", "api", provider))  # type: ignore[arg-type]
        with client.http(base_url=provider.api.url) as http:
            assert http.get("/pets").status_code == 429  # the API's throttling is the app's
        assert provider.calls["api"] == 1
    else:
        if fault == "not authorized":
            body = {
                "__type": "NotAuthorizedException",
                "message": "Incorrect username or password.",
            }
            action = reply(400, body, content_type="application/x-amz-json-1.1")
        else:
            action = action_for(fault, "cognito", provider)  # type: ignore[assignment]
        provider.plant("InitiateAuth", action)
        with pytest.raises(errors.KeybearerError):
            client.login_password("alice", "Correct-Horse-1")
        assert provider.calls["InitiateAuth"] == 1
    assert sleeps.seconds == []
    client.close()


def test_a_throttled_refresh_inside_a_request_is_retried(
    provider: Provider, clock: FakeClock, sleeps: Sleeps
) -> None:
    store = keybearer.MemoryStore()
    client = cognito_client(provider, clock, store, retry=sleeps.policy)
    client.login_password("alice", "Correct-Horse-1")
    clock.advance(7200)
    provider.plant("InitiateAuth:REFRESH_TOKEN_AUTH", throttled(), times=1)

    with client.http(base_url=provider.api.url) as http:
        assert http.get("/pets").status_code == 200

    assert provider.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 2
    assert len(sleeps.seconds) == 1
    client.close()


def test_a_throttled_token_endpoint_is_retried(
    provider: Provider, clock: FakeClock, sleeps: Sleeps
) -> None:
    client = _hosted_signed_in(provider, clock, keybearer.MemoryStore(), sleeps.policy)
    limited = reply(429, "slow down", content_type="text/plain", headers={"Retry-After": "1"})
    provider.plant("token:refresh_token", limited, times=1)

    client.refresh()

    assert provider.calls["token:refresh_token"] == 2
    assert sleeps.seconds
    assert sleeps.seconds[0] >= 1.0
    client.close()


async def test_async_throttled_login_is_retried_without_blocking_the_loop(
    provider: Provider, clock: FakeClock, sleeps: Sleeps
) -> None:
    client = cognito_client(provider, clock, keybearer.MemoryStore(), retry=sleeps.policy)
    provider.plant("InitiateAuth", throttled(), times=1)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    running = asyncio.create_task(ticker())
    try:
        tokens = await client.alogin_password("alice", "Correct-Horse-1")
    finally:
        running.cancel()
    assert isinstance(tokens, keybearer.TokenSet)
    assert provider.calls["InitiateAuth"] == 2
    assert len(sleeps.seconds) == 1
    await client.aclose()
