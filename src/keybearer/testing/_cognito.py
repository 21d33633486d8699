"""``LocalCognito``: moto's Cognito user pools as a real HTTP server on 127.0.0.1.

moto runs in this process, served by werkzeug in a daemon thread, so tests
need no Docker and no network. A small WSGI middleware in front of moto counts
the calls it receives (by ``X-Amz-Target`` operation and, for ``InitiateAuth``,
by ``AuthFlow``) and can answer the next calls to an operation with an error of
your choice.

The SDK under test must talk to :attr:`LocalCognito.url` with plain HTTP, like
it talks to ``https://cognito-idp.<region>.amazonaws.com/``. Set-up (pools,
app clients, users) goes through boto3 with dummy credentials; boto3, moto and
werkzeug are imported only when a :class:`LocalCognito` starts.
"""

from __future__ import annotations

import http
import io
import json
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from keybearer.testing._serving import LOOPBACK, serve_in_thread, stop_server
from keybearer.testing._srp import AuthServer

if TYPE_CHECKING:
    import socketserver

    from typing_extensions import Self

__all__ = ["AppClient", "CallCounts", "LocalCognito", "Pool", "User"]

_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
_JSON_1_1 = "application/x-amz-json-1.1"

# moto puts only the attributes a client may read into its ID tokens; real
# Cognito lets a client read every attribute unless ReadAttributes says
# otherwise. Listing the common standard ones gets tokens that look real.
_DEFAULT_READ_ATTRIBUTES: tuple[str, ...] = (
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "phone_number",
    "phone_number_verified",
)

_WSGIEnviron = dict[str, Any]
_StartResponse = Callable[..., Any]
_WSGIApp = Callable[[_WSGIEnviron, _StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Pool:
    """A user pool created in :class:`LocalCognito`.

    ``issuer`` is the value moto (like AWS) puts in the ``iss`` claim, the AWS
    URL, not the local one; ``jwks_url`` is where the local server serves the
    pool's signing keys.
    """

    id: str
    name: str
    issuer: str
    jwks_url: str


@dataclass(frozen=True)
class AppClient:
    """An app client of a :class:`Pool`; ``secret`` is ``None`` for a public client."""

    id: str
    secret: str | None = field(repr=False)
    name: str = ""
    pool_id: str = ""


@dataclass(frozen=True)
class User:
    """A user created with :meth:`LocalCognito.create_user`.

    ``sub`` is the stable user id that tokens carry in their ``sub`` claim.
    ``temporary`` means the first sign-in answers ``NEW_PASSWORD_REQUIRED``.
    """

    username: str
    password: str = field(repr=False)
    sub: str
    temporary: bool = False


class CallCounts(Mapping[str, int]):
    """Thread-safe counts of the calls :class:`LocalCognito` received.

    Keys are operation names (``"InitiateAuth"``, ``"RespondToAuthChallenge"``,
    ``"GlobalSignOut"``, ``"AdminCreateUser"``, ...), ``"InitiateAuth:<AuthFlow>"``
    (e.g. ``"InitiateAuth:REFRESH_TOKEN_AUTH"``), ``"JWKS"`` for downloads of a
    pool's ``jwks.json`` and ``"OpenIdConfiguration"``. Like
    :class:`collections.Counter`, a key never seen counts ``0``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def __getitem__(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._counts

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._counts))

    def __len__(self) -> int:
        with self._lock:
            return len(self._counts)

    def __repr__(self) -> str:
        return f"CallCounts({self.snapshot()!r})"

    def snapshot(self) -> dict[str, int]:
        """Return a plain copy of the counts at this moment."""
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()

    def _add(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._counts.update(keys)


@dataclass(frozen=True)
class _Failure:
    status: int
    error_type: str | None
    body: bytes


class _Failures:
    """Planned failures, by counter key; the most specific key is used first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_Failure]] = {}

    def add(self, key: str, failure: _Failure, times: int) -> None:
        with self._lock:
            self._queues.setdefault(key, deque()).extend([failure] * times)

    def take(self, keys: Sequence[str]) -> _Failure | None:
        with self._lock:
            for key in reversed(keys):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
        return None

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()


def _read_body(environ: _WSGIEnviron) -> bytes:
    """Read the whole request body and put it back for the wrapped app."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = bytes(stream.read(length))
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug marks the end
        body = bytes(stream.read())
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _auth_flow(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    flow = document.get("AuthFlow") if isinstance(document, dict) else None
    return flow if isinstance(flow, str) else None


def _call_keys(environ: _WSGIEnviron) -> list[str]:
    """Counter keys for a request, least specific first."""
    target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
    if target:
        operation = target.rpartition(".")[2]
        keys = [operation]
        if operation == "InitiateAuth":
            flow = _auth_flow(_read_body(environ))
            if flow:
                keys.append(f"{operation}:{flow}")
        return keys
    path = str(environ.get("PATH_INFO") or "")
    if path.endswith("/.well-known/jwks.json"):
        return ["JWKS"]
    if path.endswith("/.well-known/openid-configuration"):
        return ["OpenIdConfiguration"]
    return []


def _revoke_token(body: bytes) -> _Failure:
    """RevokeToken, which moto lacks: forget the refresh token, as Cognito does.

    Answered here (as a "planned" response) so logout can be tested end to end.
    """
    from moto.cognitoidp.models import cognitoidp_backends
    from moto.core.models import DEFAULT_ACCOUNT_ID

    try:
        document = json.loads(body)
        token, client_id = document["Token"], document["ClientId"]
    except (ValueError, KeyError, TypeError):
        message = {"__type": "InvalidParameterException", "message": "Token and ClientId needed"}
        return _Failure(400, "InvalidParameterException", json.dumps(message).encode())
    backend = cognitoidp_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    for pool in backend.user_pools.values():
        client = pool.clients.get(client_id)
        if client is None:
            continue
        if client.generate_secret and document.get("ClientSecret") != client.secret:
            message = {"__type": "NotAuthorizedException", "message": "Invalid client secret"}
            return _Failure(400, "NotAuthorizedException", json.dumps(message).encode())
        owner = pool.refresh_tokens.get(token)
        if owner is not None and owner[0] == client_id:
            pool.refresh_tokens[token] = None
        return _Failure(200, None, b"{}")
    message = {"__type": "ResourceNotFoundException", "message": "No such app client"}
    return _Failure(400, "ResourceNotFoundException", json.dumps(message).encode())


class _CountingMiddleware:
    """Counts each call, then answers a planned failure or passes it to moto."""

    def __init__(
        self, app: _WSGIApp, counts: CallCounts, failures: _Failures, auth: AuthServer
    ) -> None:
        self._app = app
        self._counts = counts
        self._failures = failures
        self._auth = auth

    def __call__(self, environ: _WSGIEnviron, start_response: _StartResponse) -> Iterable[bytes]:
        keys = _call_keys(environ)
        self._counts._add(keys)
        failure = self._failures.take(keys) if keys else None
        if failure is None and keys and keys[0] == "RevokeToken":
            failure = _revoke_token(_read_body(environ))
        if failure is None and keys and environ.get("HTTP_X_AMZ_TARGET"):
            # SRP, devices and USER_AUTH: answered by AuthServer (testing/_srp.py).
            answer = self._auth.handle(keys[0], _read_body(environ))
            failure = _Failure(*answer) if answer is not None else None
        if failure is None:
            return self._app(environ, start_response)
        headers = [
            ("Content-Type", _JSON_1_1),
            ("Content-Length", str(len(failure.body))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        if failure.error_type:
            headers.append(("x-amzn-ErrorType", failure.error_type))
        phrase = http.HTTPStatus(failure.status).phrase
        start_response(f"{failure.status} {phrase}", headers)
        return [failure.body]


class LocalCognito:
    """moto's ``cognito-idp`` service on ``http://127.0.0.1:<free port>/``.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with LocalCognito() as cognito:
            pool = cognito.create_pool()
            client = cognito.create_app_client(pool)
            cognito.create_user(pool, "alice", "Correct-Horse-1")
            # point the SDK at cognito.url, pool.issuer and pool.jwks_url

    Pools live in :attr:`region` (``us-east-1``): moto routes unsigned calls
    such as ``InitiateAuth`` there, whatever region the pool was made in.

    moto keeps its state in module globals, so every ``LocalCognito`` of one
    process sees the same pools (their ids never clash), and the state outlives
    :meth:`stop`. ``moto.mock_aws`` resets that state when it starts and stops:
    do not use it in the same process while a ``LocalCognito`` holds pools.
    """

    #: Region of every pool. moto routes unsigned requests to us-east-1.
    region = "us-east-1"

    def __init__(self, *, port: int = 0) -> None:
        """Prepare a server on ``port`` (``0``: pick a free one). Nothing runs yet."""
        self._port = port
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._admin: Any = None
        self._lock = threading.Lock()
        self._calls = CallCounts()
        self._failures = _Failures()
        self._auth = AuthServer()

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Self:
        """Start serving and return ``self``. Safe to call once per instance."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("LocalCognito is already running")
            server = _make_moto_server(self._port, self._calls, self._failures, self._auth)
            self._thread = serve_in_thread(server, "LocalCognito")
            self._server = server
            host, port = cast("tuple[str, int]", server.server_address)[:2]
            self._url = f"http://{host}:{port}/"
        return self

    def stop(self) -> None:
        """Stop the server, close its connections and join its threads. Idempotent."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()
        if server is not None and thread is not None:
            stop_server(server, thread)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    @property
    def url(self) -> str:
        """The endpoint to POST ``cognito-idp`` JSON to, e.g. ``http://127.0.0.1:51234/``."""
        if self._url is None or self._server is None:
            raise RuntimeError("LocalCognito is not running: call start() first")
        return self._url

    # -- observing and breaking calls ------------------------------------------

    @property
    def calls(self) -> CallCounts:
        """Counts of the calls received since start or the last :meth:`reset_counts`.

        Set-up calls made through boto3 (``CreateUserPool``, ``AdminCreateUser``,
        ...) are counted too; calls answered by :meth:`fail_next` count as well.
        """
        return self._calls

    def reset_counts(self) -> None:
        """Set every count in :attr:`calls` back to zero."""
        self._calls.clear()

    def fail_next(
        self,
        operation: str,
        times: int = 1,
        *,
        status: int = 500,
        error_type: str | None = "InternalErrorException",
        message: str = "An internal error occurred (injected by LocalCognito).",
        body: bytes | str | Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` calls to ``operation`` with an error, not with moto.

        ``operation`` is a key of :attr:`calls`: ``"InitiateAuth"`` fails any
        flow, ``"InitiateAuth:REFRESH_TOKEN_AUTH"`` only refreshes, ``"JWKS"``
        the key download. The answer has the given ``status``, an
        ``x-amzn-ErrorType: <error_type>`` header (none if ``error_type`` is
        ``None``) and the body ``{"__type": error_type, "message": message}``,
        as Cognito sends errors, unless ``body`` is given (a mapping is sent as
        JSON, text and bytes as they are, e.g. to send malformed JSON)::

            cognito.fail_next("InitiateAuth:REFRESH_TOKEN_AUTH", status=500)
            cognito.fail_next("InitiateAuth", status=400,
                              error_type="TooManyRequestsException",
                              message="Rate exceeded")
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        http.HTTPStatus(status)  # ValueError for a status code that does not exist
        if body is None:
            payload = json.dumps({"__type": error_type, "message": message}).encode()
        elif isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = json.dumps(dict(body)).encode()
        self._failures.add(operation, _Failure(status, error_type, payload), times)

    def clear_failures(self) -> None:
        """Drop every failure planned with :meth:`fail_next` and not yet used."""
        self._failures.clear()

    # -- SRP, remembered devices, USER_AUTH (testing/_srp.py) -------------------

    def track_devices(
        self, pool: Pool, *, skip_mfa: bool = True, prompt_user: bool = False
    ) -> None:
        """Turn on device tracking for ``pool`` (moto has none): see :class:`AuthServer`.

        Sign-ins then get ``NewDeviceMetadata``; ``skip_mfa`` lets a remembered
        device skip MFA; ``prompt_user`` makes ConfirmDevice ask for the opt-in.
        """
        self._auth.track_devices(pool.id, skip_mfa=skip_mfa, prompt_user=prompt_user)

    def email_code(self, username: str) -> str | None:
        """The last ``EMAIL_OTP`` code sent to ``username`` by choice-based sign-in."""
        return self._auth.email_code(username)

    def devices(self, pool: Pool, username: str) -> list[str]:
        """The device keys ``username`` has confirmed in ``pool``."""
        return self._auth.devices(pool.id, username)

    # -- set-up helpers (boto3) ------------------------------------------------

    @property
    def admin_client(self) -> Any:
        """A boto3 ``cognito-idp`` client for this server, for set-up beyond the helpers.

        It signs with dummy credentials and does not retry.
        """
        with self._lock:
            if self._admin is None:
                self._admin = _make_admin_client(self.url, self.region)
            return self._admin

    def create_pool(self, name: str | None = None) -> Pool:
        """Create a user pool (a unique name by default) and return it."""
        name = name or f"keybearer-test-{uuid.uuid4().hex[:8]}"
        response = self.admin_client.create_user_pool(PoolName=name)
        pool_id = str(response["UserPool"]["Id"])
        return Pool(
            id=pool_id,
            name=name,
            issuer=f"https://cognito-idp.{self.region}.amazonaws.com/{pool_id}",
            jwks_url=f"{self.url}{pool_id}/.well-known/jwks.json",
        )

    def create_app_client(
        self,
        pool: Pool,
        name: str | None = None,
        *,
        secret: bool = False,
        read_attributes: Sequence[str] = _DEFAULT_READ_ATTRIBUTES,
    ) -> AppClient:
        """Create an app client allowing USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH.

        ``secret=True`` makes a confidential client (``AppClient.secret`` set).
        ``read_attributes`` are the user attributes copied into ID tokens.
        """
        name = name or f"keybearer-client-{uuid.uuid4().hex[:8]}"
        response = self.admin_client.create_user_pool_client(
            UserPoolId=pool.id,
            ClientName=name,
            GenerateSecret=secret,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            ReadAttributes=list(read_attributes),
        )
        created = response["UserPoolClient"]
        client_secret = created.get("ClientSecret")
        return AppClient(
            id=str(created["ClientId"]),
            secret=str(client_secret) if client_secret else None,
            name=name,
            pool_id=pool.id,
        )

    def create_user(
        self,
        pool: Pool,
        username: str,
        password: str,
        *,
        temporary: bool = False,
        attributes: Mapping[str, str] | None = None,
    ) -> User:
        """Create a confirmed user and return it.

        With ``temporary=False`` the password is permanent and ``USER_PASSWORD_AUTH``
        returns tokens at once. With ``temporary=True`` it is a temporary password:
        the first sign-in answers the ``NEW_PASSWORD_REQUIRED`` challenge.
        ``attributes`` are user attributes such as ``{"email": "a@example.test"}``.
        """
        admin = self.admin_client
        user_attributes = [{"Name": k, "Value": v} for k, v in (attributes or {}).items()]
        create_args: dict[str, Any] = {
            "UserPoolId": pool.id,
            "Username": username,
            "MessageAction": "SUPPRESS",
            "UserAttributes": user_attributes,
        }
        if temporary:
            create_args["TemporaryPassword"] = password
        response = admin.admin_create_user(**create_args)
        if not temporary:
            admin.admin_set_user_password(
                UserPoolId=pool.id, Username=username, Password=password, Permanent=True
            )
        created = {a["Name"]: a["Value"] for a in response["User"].get("Attributes", [])}
        return User(
            username=username,
            password=password,
            sub=str(created.get("sub", "")),
            temporary=temporary,
        )


class _QuietRequestHandlerMixin:
    """Drops werkzeug's one-line log of every request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _make_moto_server(
    port: int, counts: CallCounts, failures: _Failures, auth: AuthServer
) -> socketserver.BaseServer:
    # Imported here: moto pulls in flask, boto and hundreds of modules.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import ThreadedWSGIServer

    from keybearer.testing._serving import ConnectionTracking

    class _Handler(_QuietRequestHandlerMixin, MotoRequestHandler):
        pass

    class _Server(ConnectionTracking, ThreadedWSGIServer):
        thread_name = "LocalCognito"

    moto_app = DomainDispatcherApplication(create_backend_app)
    app = _CountingMiddleware(moto_app, counts, failures, auth)
    return _Server(LOOPBACK, port, app, handler=_Handler)


def _make_admin_client(endpoint_url: str, region: str) -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=region,
    )
    return session.client(
        "cognito-idp",
        endpoint_url=endpoint_url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
