"""An API Gateway REST API with a Cognito authorizer, built on ``CognitoVerifier.authorize``.

``AuthorizerApi`` listens on 127.0.0.1 and decides every request the way a
``COGNITO_USER_POOLS`` authorizer does, by calling ``keybearer.verify``: a
method without OAuth scopes wants an ID token, a method with scopes an access
token carrying one of them. Every refusal is ``401 {"message":"Unauthorized"}``
and an unknown path is ``403 {"message":"Missing Authentication Token"}``, as
API Gateway answers; the reason stays in ``AuthorizerApi.decisions`` for the
tests. Its clock (``exp`` checks and the ``Date`` header) can be set.

The tests check that the client's diagnosis of each 401 (``keybearer.explain``)
names the cause, and that no scenario makes the client refresh in a loop.
"""

from __future__ import annotations

import email.utils
import http
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest

import keybearer
from keybearer import errors
from keybearer.testing import LocalCognito, Pool
from keybearer.verify import CognitoVerifier
from support import FakeClock, MakeClient, Person

#: A custom scope: no token from InitiateAuth (moto or Cognito) carries it.
PETS_WRITE = "https://api.example.test/pets.write"
#: The one scope of API sign-in access tokens; a method may require it too.
USER_ADMIN = "aws.cognito.signin.user.admin"

#: Path -> the method's OAuth scopes (empty: no scopes, so an ID token is wanted).
ROUTES: dict[str, tuple[str, ...]] = {
    "/pets": (),
    "/pets/write": (PETS_WRITE,),
    "/me": (USER_ADMIN,),
}


@dataclass(frozen=True)
class Decision:
    path: str
    status: int
    reason: str


class AuthorizerApi:
    """A REST API's Cognito authorizer on ``http://127.0.0.1:<free port>``."""

    def __init__(self, pool: Pool, client_ids: Sequence[str], routes: Mapping[str, Sequence[str]]):
        #: Seconds since 1970 for ``exp`` checks and the ``Date`` header. Set it in tests.
        self.clock: Callable[[], float] = time.time
        self.routes = {path: tuple(scopes) for path, scopes in routes.items()}
        self.verifier = CognitoVerifier(
            pool.id,
            client_ids,
            issuer=pool.issuer,
            jwks_url=pool.jwks_url,
            clock=lambda: self.clock(),
        )
        self.decisions: list[Decision] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = cast("tuple[str, int]", self._server.server_address)[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> AuthorizerApi:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def reset(self) -> None:
        self.clock = time.time
        with self._lock:
            self.decisions.clear()

    def decide(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        """The status and body API Gateway would answer (before the integration runs)."""
        if path not in self.routes:
            return self._record(path, 403, "no such resource", "Missing Authentication Token")
        if not authorization:
            return self._record(path, 401, "no Authorization header", "Unauthorized")
        try:
            decision = self.verifier.authorize(authorization, method_scopes=self.routes[path])
        except errors.KeybearerError as exc:  # TokenInvalidError, or the JWKS failed
            return self._record(path, 401, str(exc), "Unauthorized")
        self._record(path, 200, decision.rule, "")
        return 200, {"rule": decision.rule, "username": decision.claims.username}

    def _record(
        self, path: str, status: int, reason: str, message: str
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.decisions.append(Decision(path, status, reason))
        return status, {"message": message}

    def last(self) -> Decision:
        with self._lock:
            return self.decisions[-1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: AuthorizerApi


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        api = cast(_Server, self.server).api
        return email.utils.formatdate(api.clock() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self) -> None:
        api = cast(_Server, self.server).api
        status, payload = api.decide(urlsplit(self.path).path, self.headers.get("Authorization"))
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status, http.HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("x-amzn-ErrorType", "UnauthorizedException")
        elif status == 403:
            self.send_header("x-amzn-ErrorType", "MissingAuthenticationTokenException")
        self.end_headers()
        self.wfile.write(body)


def explained(response: httpx.Response) -> keybearer.Diagnosis:
    diagnosis = keybearer.explain(response)
    assert diagnosis is not None, f"no diagnosis for HTTP {response.status_code}"
    return diagnosis


def assert_no_token(text: str, client: keybearer.OAuthClient) -> None:
    tokens = client.tokens
    assert tokens is not None
    for secret in (tokens.id_token, tokens.access_token, tokens.refresh_token):
        if secret is not None:
            value = secret.get_secret_value()
            assert value not in text
            assert value.rsplit(".", 1)[-1] not in text


REFRESHES = "InitiateAuth:REFRESH_TOKEN_AUTH"


# -- the authorizer itself: API Gateway's rules --


def test_the_authorizer_follows_api_gateways_rules(
    make_client: MakeClient, person: Person, authorizer: AuthorizerApi
) -> None:
    id_client = make_client()
    id_client.login_password(person.username, person.password)
    access_client = make_client(send="access", profile="access")
    access_client.login_password(person.username, person.password)

    with id_client.http(base_url=authorizer.url) as api:
        pets = api.get("/pets")
        assert pets.status_code == 200
        assert pets.json() == {
            "rule": "no method scopes: ID token accepted",
            "username": person.username,
        }
        assert api.get("/me").status_code == 401
        assert "only access tokens" in authorizer.last().reason
    with access_client.http(base_url=authorizer.url) as api:
        me = api.get("/me")
        assert me.status_code == 200
        assert me.json()["rule"] == f"method scopes: access token carries {USER_ADMIN!r}"
        refused = api.get("/pets/write")
        assert refused.status_code == 401
        assert refused.json() == {"message": "Unauthorized"}
        assert "missing scope" in authorizer.last().reason
        missing = api.get("/nope")
        assert missing.status_code == 403
        assert missing.json() == {"message": "Missing Authentication Token"}


def test_a_bare_token_and_a_bearer_token_are_both_accepted(
    make_client: MakeClient, person: Person, authorizer: AuthorizerApi
) -> None:
    client = make_client(scheme=None)
    client.login_password(person.username, person.password)

    with client.http(base_url=authorizer.url) as api:
        assert api.get("/pets").status_code == 200
    raw = client.valid_tokens().token("id")
    assert httpx.get(
        f"{authorizer.url}/pets", headers={"Authorization": f"Bearer {raw}"}
    ).is_success


def test_the_date_header_follows_the_apis_clock(authorizer: AuthorizerApi) -> None:
    authorizer.clock = lambda: 1_700_000_000.0
    response = httpx.get(f"{authorizer.url}/pets")
    assert response.headers["date"] == "Tue, 14 Nov 2023 22:13:20 GMT"


# -- the client's diagnosis of each 401 --


def test_scope_missing_names_password_sign_in_and_browser_login(
    make_client: MakeClient, person: Person, authorizer: AuthorizerApi, cognito: LocalCognito
) -> None:
    client = make_client(send="access")
    client.login_password(person.username, person.password)

    with client.http(base_url=authorizer.url) as api:
        responses = [api.get("/pets/write") for _ in range(4)]

    assert [r.status_code for r in responses] == [401] * 4
    diagnosis = explained(responses[0])
    assert "USER_PASSWORD_AUTH" in diagnosis.cause
    assert "aws.cognito.signin.user.admin" in diagnosis.cause
    assert "login_browser" in diagnosis.fix
    assert diagnosis.details["scopes"] == [USER_ADMIN]
    assert diagnosis.details["refreshed_and_retried"] is True
    assert all(explained(r).cause == diagnosis.cause for r in responses)
    assert cognito.calls[REFRESHES] == 1  # one refresh-and-retry, then no more
    assert_no_token(str(diagnosis) + repr(diagnosis.details), client)


def test_an_access_token_to_a_method_without_scopes_says_send_id(
    make_client: MakeClient, person: Person, authorizer: AuthorizerApi, cognito: LocalCognito
) -> None:
    client = make_client(send="access")
    client.login_password(person.username, person.password)

    with client.http(base_url=authorizer.url) as api:
        responses = [api.get("/pets") for _ in range(3)]

    assert "only ID tokens" in authorizer.last().reason
    diagnosis = explained(responses[-1])
    assert "send='id'" in diagnosis.fix
    assert "a method without OAuth scopes wants the ID token" in diagnosis.cause
    assert diagnosis.details["token_use"] == "access"
    assert cognito.calls[REFRESHES] == 1


def test_an_id_token_to_a_method_with_scopes_says_send_access(
    make_client: MakeClient, person: Person, authorizer: AuthorizerApi, cognito: LocalCognito
) -> None:
    client = make_client()
    client.login_password(person.username, person.password)

    with client.http(base_url=authorizer.url) as api:
        responses = [api.get("/me") for _ in range(3)]

    assert "only access tokens" in authorizer.last().reason
    diagnosis = explained(responses[0])
    assert "OAuth scopes" in diagnosis.cause
    assert "send='access'" in diagnosis.fix
    assert diagnosis.details["token_use"] == "id"
    assert cognito.calls[REFRESHES] == 1


def test_expired_with_the_refresh_refused_raises_login_required_once(
    make_client: MakeClient,
    person: Person,
    authorizer: AuthorizerApi,
    cognito: LocalCognito,
    clock: FakeClock,
) -> None:
    client = make_client()
    client.login_password(person.username, person.password)
    authorizer.clock = clock  # one clock for the client and the API: no skew
    with client.http(base_url=authorizer.url) as api:
        assert api.get("/pets").status_code == 200
        clock.advance(3700)  # past the hour moto's tokens live
        cognito.fail_next(
            REFRESHES,
            status=400,
            error_type="NotAuthorizedException",
            message="Refresh Token has been revoked",
        )
        for _ in range(4):
            with pytest.raises(errors.LoginRequiredError, match=r"(?i)(log|sign) in again"):
                api.get("/pets")

    assert cognito.calls[REFRESHES] == 1  # the dead session is remembered, not retried
    assert [d.status for d in authorizer.decisions] == [200]  # no expired token was sent


def test_a_token_the_api_sees_as_expired_with_the_refresh_refused_raises_login_required(
    make_client: MakeClient, person: Person, authorizer: AuthorizerApi, cognito: LocalCognito
) -> None:
    client = make_client()
    client.login_password(person.username, person.password)
    authorizer.clock = lambda: time.time() + 3700  # the API finds the token expired
    cognito.fail_next(
        REFRESHES,
        status=400,
        error_type="NotAuthorizedException",
        message="Refresh Token has been revoked",
    )

    with client.http(base_url=authorizer.url) as api:
        for _ in range(3):
            with pytest.raises(errors.LoginRequiredError):
                api.get("/pets")

    assert cognito.calls[REFRESHES] == 1  # the dead session is remembered, not retried
    # One 401 per request, never a retry: the token still looks valid here.
    assert [d.status for d in authorizer.decisions] == [401] * 3
    assert "token expired" in authorizer.last().reason


def test_an_api_clock_hours_ahead_is_named_as_skew(
    make_client: MakeClient, person: Person, authorizer: AuthorizerApi, cognito: LocalCognito
) -> None:
    client = make_client()
    client.login_password(person.username, person.password)
    authorizer.clock = lambda: time.time() + 3 * 3600

    with client.http(base_url=authorizer.url) as api:
        responses = [api.get("/pets") for _ in range(5)]

    assert "token expired" in authorizer.last().reason
    diagnosis = explained(responses[0])
    assert "180 minutes" in diagnosis.cause
    assert "clock" in diagnosis.cause
    assert "NTP" in diagnosis.fix
    assert -3 * 3600 - 5 <= diagnosis.details["clock_skew_seconds"] <= -3 * 3600 + 5
    assert cognito.calls[REFRESHES] == 1


def test_raise_on_unauthorized_carries_the_same_diagnosis(
    make_client: MakeClient, person: Person, authorizer: AuthorizerApi
) -> None:
    client = make_client(send="access")
    client.login_password(person.username, person.password)

    with (
        client.http(base_url=authorizer.url, raise_on_unauthorized=True) as api,
        pytest.raises(errors.UnauthorizedError) as caught,
    ):
        api.get("/pets")

    assert caught.value.response.status_code == 401
    assert caught.value.diagnosis is not None
    assert "send='id'" in caught.value.diagnosis.fix
    assert_no_token(str(caught.value), client)


async def test_async_requests_get_the_same_diagnosis(
    make_client: MakeClient, person: Person, authorizer: AuthorizerApi, cognito: LocalCognito
) -> None:
    client = make_client()
    await client.alogin_password(person.username, person.password)

    async with client.async_http(base_url=authorizer.url) as api:
        responses = [await api.get("/me") for _ in range(3)]

    assert "send='access'" in explained(responses[0]).fix
    assert cognito.calls[REFRESHES] == 1
