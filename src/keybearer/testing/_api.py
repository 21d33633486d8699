"""``ProtectedApi``: a local API that authorizes requests like API Gateway does.

It stands in for an API Gateway REST API whose methods use a
``COGNITO_USER_POOLS`` authorizer, and checks tokens for real: the RS256
signature against the pool's JWKS, ``iss``, ``exp`` and ``token_use``, then
the audience or the scopes:

* a path with no scopes configured wants an **ID token** whose ``aud`` is one of
  the allowed app clients (an access token gets 401);
* a path configured with :meth:`ProtectedApi.require_scopes` wants an **access
  token** whose ``client_id`` is allowed and whose ``scope`` has one of the
  path's scopes (an ID token gets 401).

Every refusal is ``401 {"message":"Unauthorized"}``, as API Gateway answers;
the reason is kept in :attr:`ProtectedApi.requests` for tests to assert on.
"""

from __future__ import annotations

import base64
import binascii
import http
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from keybearer.testing._serving import LOOPBACK, ConnectionTracking, ServedInThread

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ApiRequest", "ProtectedApi"]

#: The pets ``GET /pets`` returns, after API Gateway's PetStore example.
PETS: tuple[dict[str, Any], ...] = (
    {"id": 1, "type": "dog", "price": 249.99},
    {"id": 2, "type": "cat", "price": 124.99},
    {"id": 3, "type": "fish", "price": 0.99},
)

_UNAUTHORIZED = b'{"message":"Unauthorized"}'
_JWKS_TIMEOUT = 5.0
#: After an unknown ``kid``, download the JWKS again at most this often (seconds),
#: so tokens with made-up key ids cannot make the API hammer the key endpoint.
_JWKS_REFETCH_INTERVAL = 10.0


@dataclass(frozen=True)
class ApiRequest:
    """One request :class:`ProtectedApi` answered.

    ``token_use`` is ``"id"`` or ``"access"`` for an accepted token, else
    ``None``. ``reason`` says why a request got 401 (``None`` when it did not).
    ``scheme`` is how the ``Authorization`` header carried the token:
    ``"Bearer"``, ``"bare"`` (the JWT alone) or ``None`` (no header).
    """

    method: str
    path: str
    status: int
    token_use: str | None
    reason: str | None = None
    scheme: str | None = None


class _Rejected(Exception):
    """The token is refused; the argument says why (for tests, never sent)."""


def _unpadded_b64url(part: str) -> bytes:
    """Decode base64url written without padding, as JOSE writes it (binascii.Error if not)."""
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64url_decode(part: str) -> bytes:
    try:
        return _unpadded_b64url(part)
    except (binascii.Error, ValueError) as exc:
        raise _Rejected("token is not base64url") from exc


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise _Rejected(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise _Rejected(f"{what} is not a JSON object")
    return value


def _b64url_uint(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError("JWK number is not a string")
    return int.from_bytes(_unpadded_b64url(value), "big")


def _parse_jwks(document: object) -> dict[str, rsa.RSAPublicKey]:
    """The RS256 signing keys of a JWKS document, by ``kid``; other keys are skipped."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        return keys
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("alg", "RS256") != "RS256" or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            numbers = rsa.RSAPublicNumbers(_b64url_uint(jwk.get("e")), _b64url_uint(jwk.get("n")))
            keys[kid] = numbers.public_key()
        except (ValueError, binascii.Error):
            continue
    return keys


class _Jwks:
    """The signing keys from one JWKS URL: fetched once, again only for an unknown kid."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: float | None = None

    def key(self, kid: str) -> rsa.RSAPublicKey:
        with self._lock:
            key = self._keys.get(kid)
            if key is not None:
                return key
            now = time.monotonic()
            if self._fetched_at is None or now - self._fetched_at >= _JWKS_REFETCH_INTERVAL:
                self._fetched_at = now
                self._keys = self._fetch()
            key = self._keys.get(kid)
        if key is None:
            raise _Rejected(f"unknown kid {kid!r}")
        return key

    def _fetch(self) -> dict[str, rsa.RSAPublicKey]:
        try:
            response = httpx.get(self._url, timeout=_JWKS_TIMEOUT)
            response.raise_for_status()
            return _parse_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise _Rejected(f"JWKS download failed: {exc}") from exc


def _path_matches(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


class ProtectedApi(ServedInThread):
    """An HTTP API on ``http://127.0.0.1:<free port>`` behind a Cognito authorizer.

    ``jwks_url`` and ``issuer`` are the pool's (for :class:`LocalCognito`,
    ``pool.jwks_url`` and ``pool.issuer``); ``client_ids`` are the app clients
    whose tokens are accepted. ``scopes`` maps paths to the scopes they require,
    as :meth:`require_scopes` does. Use it as a context manager or call
    :meth:`start` and :meth:`stop`::

        with ProtectedApi(pool.jwks_url, pool.issuer, [client.id]) as api:
            httpx.get(f"{api.url}/pets", headers={"Authorization": id_token})

    Any path answers ``200`` with JSON describing the request and its caller
    (``path``, ``method``, ``query``, ``sub``, ``username``, ``token_use``,
    ``client_id``, ``scope`` and ``body``: the request body parsed as JSON, or
    as text if it is not JSON, or ``None`` if empty), except
    ``GET /pets`` (a list of pets) and ``GET /pets/<id>`` (one pet, or 404).

    ``clock`` (default :func:`time.time`) is the time ``exp`` is checked
    against: set it, e.g. ``api.clock = lambda: time.time() + 3600``, to make
    tokens expire without waiting.
    """

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        client_ids: Iterable[str],
        *,
        scopes: Mapping[str, Iterable[str]] | None = None,
        port: int = 0,
    ) -> None:
        super().__init__()
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.client_ids = frozenset(client_ids)
        self._initial_client_ids = self.client_ids
        #: Seconds since the epoch, checked against ``exp``. Replace it in tests.
        self.clock: Callable[[], float] = time.time
        self._port = port
        self._jwks = _Jwks(jwks_url)
        self._initial_scopes = {path: tuple(s) for path, s in (scopes or {}).items()}
        self._scopes = dict(self._initial_scopes)
        self._revoked: set[str] = set()
        self._requests: list[ApiRequest] = []

    # -- lifecycle ---------------------------------------------------------------

    _served_as = "ProtectedApi"

    def _bind(self) -> _ApiServer:
        server = _ApiServer((LOOPBACK, self._port), _Handler)
        server.api = self
        return server

    def start(self) -> Self:
        """Start serving and return ``self``."""
        return super().start()

    def stop(self) -> None:
        """Stop the server, close its connections and join its threads. Idempotent."""
        super().stop()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:51235`` (no trailing slash)."""
        return self._address()

    # -- configuration and test controls ---------------------------------------

    def require_scopes(self, path: str, scopes: Iterable[str]) -> None:
        """Make ``path`` and the paths below it want an access token with one of ``scopes``.

        Scopes look like ``https://api.example.test/admin``. Note that tokens from
        ``InitiateAuth`` (Cognito's API sign-in, and moto) carry only the scope
        ``aws.cognito.signin.user.admin``.
        """
        scope_tuple = tuple(scopes)
        if not scope_tuple:
            raise ValueError("give at least one scope")
        with self._lock:
            self._scopes[path] = scope_tuple

    def allow_clients(self, *client_ids: str) -> None:
        """Accept the tokens of these app clients too (e.g. an M2M client made in a test)."""
        with self._lock:
            self.client_ids = self.client_ids | frozenset(client_ids)

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on, as if the server had invalidated it."""
        token = token.removeprefix("Bearer ").strip()
        with self._lock:
            self._revoked.add(token)

    @property
    def requests(self) -> list[ApiRequest]:
        """A copy of the log of answered requests, oldest first."""
        with self._lock:
            return list(self._requests)

    def count(
        self, *, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> int:
        """How many logged requests match every criterion given."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path is None or r.path == path)
            and (status is None or r.status == status)
        )

    def reset(self) -> None:
        """Forget logged requests and revocations; restore the clock, scopes and clients.

        The JWKS cache is kept.
        """
        with self._lock:
            self._requests.clear()
            self._revoked.clear()
            self._scopes = dict(self._initial_scopes)
            self.client_ids = self._initial_client_ids
        self.clock = time.time

    # -- authorization ---------------------------------------------------------

    def _required_scopes(self, path: str) -> tuple[str, ...]:
        with self._lock:
            matches = [p for p in self._scopes if _path_matches(path, p)]
            return self._scopes[max(matches, key=len)] if matches else ()

    def _is_revoked(self, token: str) -> bool:
        with self._lock:
            return token in self._revoked

    def _record(self, entry: ApiRequest) -> None:
        with self._lock:
            self._requests.append(entry)

    def _authorize(self, authorization: str | None, path: str) -> dict[str, Any]:
        """Check an ``Authorization`` header value for ``path``; return the token's claims.

        Raises an exception (whose message says why) when API Gateway would answer 401.
        """
        if not authorization or not authorization.strip():
            raise _Rejected("no Authorization header")
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        claims = self._verify(token)
        if self._is_revoked(token):
            raise _Rejected("token revoked")
        scopes = self._required_scopes(path)
        if scopes:
            if claims.get("token_use") != "access":
                raise _Rejected("route has scopes: an access token is required")
            if claims.get("client_id") not in self.client_ids:
                raise _Rejected("client_id is not an allowed app client")
            granted = str(claims.get("scope", "")).split()
            if not set(granted) & set(scopes):
                raise _Rejected("token has none of the route's scopes")
        else:
            if claims.get("token_use") != "id":
                raise _Rejected("route has no scopes: an ID token is required")
            if claims.get("aud") not in self.client_ids:
                raise _Rejected("aud is not an allowed app client")
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3:
            raise _Rejected("token is not a JWS compact serialization")
        header = _json_object(_b64url_decode(parts[0]), "JWT header")
        if header.get("alg") != "RS256":
            raise _Rejected(f"alg {header.get('alg')!r} is not RS256")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise _Rejected("JWT header has no kid")
        key = self._jwks.key(kid)
        try:
            key.verify(
                _b64url_decode(parts[2]),
                f"{parts[0]}.{parts[1]}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, UnicodeEncodeError) as exc:
            raise _Rejected("bad signature") from exc
        claims = _json_object(_b64url_decode(parts[1]), "JWT payload")
        if claims.get("iss") != self.issuer:
            raise _Rejected(f"iss {claims.get('iss')!r} is not the expected issuer")
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            raise _Rejected("token has no numeric exp")
        if exp <= self.clock():
            raise _Rejected("token expired")
        return claims


class _ApiServer(ConnectionTracking, ThreadingHTTPServer):
    thread_name = "ProtectedApi"
    api: ProtectedApi


def _read_chunked(rfile: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = rfile.readline(1024)
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(1024).strip():  # trailers, then the empty line
                pass
            return b"".join(chunks)
        chunks.append(rfile.read(size))
        rfile.readline(1024)  # CRLF after the chunk


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
    server_version = "keybearer-ProtectedApi"
    # Head and body go out in two writes; with Nagle's algorithm on, the second
    # waits for the client's delayed ACK: ~40 ms per kept-alive request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request on stderr would drown test output

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header follows the API's clock, so tests can stage clock skew.
        import email.utils

        when = cast(_ApiServer, self.server).api.clock() if timestamp is None else timestamp
        return email.utils.formatdate(when, usegmt=True)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return _read_chunked(self.rfile)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        api = cast(_ApiServer, self.server).api
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(400, b'{"message":"Bad Request"}')
            return
        split = urlsplit(self.path)
        path = split.path
        authorization = self.headers.get("Authorization")
        scheme = None
        if authorization is not None:
            scheme = "Bearer" if authorization.strip()[:7].lower() == "bearer " else "bare"
        try:
            claims = api._authorize(authorization, path)
        except _Rejected as exc:
            api._record(ApiRequest(self.command, path, 401, None, str(exc), scheme))
            self._send(401, _UNAUTHORIZED, error_type="UnauthorizedException")
            return
        status, payload = self._respond(path, split.query, body, claims)
        token_use = str(claims.get("token_use"))
        api._record(ApiRequest(self.command, path, status, token_use, None, scheme))
        self._send(status, json.dumps(payload).encode())

    # BaseHTTPRequestHandler looks up do_<METHOD>; every method takes the one path
    # above (authorize, then answer by path), as behind one API Gateway authorizer.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _respond(
        self, path: str, query: str, body: bytes, claims: Mapping[str, Any]
    ) -> tuple[int, Any]:
        if self.command in ("GET", "HEAD") and path.rstrip("/") == "/pets":
            return 200, list(PETS)
        if self.command in ("GET", "HEAD") and path.startswith("/pets/"):
            wanted = path.removeprefix("/pets/").rstrip("/")
            for pet in PETS:
                if str(pet["id"]) == wanted:
                    return 200, pet
            return 404, {"message": "Not Found"}
        payload: dict[str, Any] = {
            "path": path,
            "method": self.command,
            "query": {k: v if len(v) > 1 else v[0] for k, v in parse_qs(query).items()},
            "sub": claims.get("sub"),
            "username": claims.get("cognito:username", claims.get("username")),
            "token_use": claims.get("token_use"),
            "client_id": claims.get("aud", claims.get("client_id")),
            "scope": claims.get("scope"),
        }
        payload["body"] = None
        if body:
            try:
                payload["body"] = json.loads(body)
            except ValueError:
                payload["body"] = body.decode("utf-8", "replace")
        return 200, payload

    def _send(self, status: int, body: bytes, *, error_type: str | None = None) -> None:
        self.send_response(status, http.HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
