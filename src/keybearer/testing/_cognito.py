"""``LocalCognito``: moto's Cognito user pools as a real HTTP server on 127.0.0.1.

moto runs in this process, served by werkzeug in a daemon thread, so tests
need no Docker and no network. A dispatcher in front of moto (``_dispatch.py``)
counts the calls it receives, can answer the next calls to an operation with an
error of your choice, and answers the operations where moto and Cognito differ
with LocalCognito's own handlers (``_idp.py``, ``_oauth2.py``), rule by rule.

The SDK under test must talk to :attr:`LocalCognito.url` with plain HTTP, like
it talks to ``https://cognito-idp.<region>.amazonaws.com/``. Set-up (pools,
app clients, users) goes through boto3 with dummy credentials; boto3, moto and
werkzeug are imported only when a :class:`LocalCognito` starts.
"""

from __future__ import annotations

import http
import json
import time
import uuid
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from keybearer.testing._calls import CallCounts, Failure, Failures
from keybearer.testing._dispatch import Dispatcher, Handler, Observer, error_body
from keybearer.testing._idp import operations
from keybearer.testing._moto import make_admin_client, make_moto_server
from keybearer.testing._oauth2 import token_endpoint
from keybearer.testing._serving import ServedInThread
from keybearer.testing._srp import AuthServer
from keybearer.testing._state import IdpState

if TYPE_CHECKING:
    import socketserver

    from typing_extensions import Self

__all__ = ["AppClient", "CallCounts", "LocalCognito", "Pool", "User"]

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


class LocalCognito(ServedInThread):
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

    def __init__(self, *, port: int = 0, clock: Callable[[], float] = time.time) -> None:
        """Prepare a server on ``port`` (``0``: pick a free one). Nothing runs yet.

        ``clock`` (default :func:`time.time`) is the time tokens are issued at
        and refresh tokens expire by; see :attr:`clock`.
        """
        super().__init__()
        self._port = port
        self._admin: Any = None
        self._calls = CallCounts()
        self._failures = Failures()
        self._state = IdpState(self.region, clock)
        self._dispatcher = Dispatcher(self._calls, self._failures)
        self._dispatcher.operations.update(operations(self._state))
        self._dispatcher.paths["/oauth2/token"] = token_endpoint(self._state)
        # SRP, remembered devices and USER_AUTH (wraps the sign-in handlers above).
        self._auth = AuthServer(self._state)
        self._auth.install(self._dispatcher.operations)

    # -- lifecycle ---------------------------------------------------------------

    _served_as = "LocalCognito"

    def _bind(self) -> socketserver.BaseServer:
        return make_moto_server(self._port, self._dispatcher)

    def start(self) -> Self:
        """Start serving and return ``self``. Safe to call once per instance."""
        return super().start()

    def stop(self) -> None:
        """Stop the server, close its connections and join its threads. Idempotent."""
        super().stop()
        # The admin client talks to this server's port: the next start() may get another.
        with self._lock:
            admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    @property
    def url(self) -> str:
        """The endpoint to POST ``cognito-idp`` JSON to, e.g. ``http://127.0.0.1:51234/``."""
        return f"{self._address()}/"

    @property
    def domain_url(self) -> str:
        """The hosted-UI base URL for the ``domain`` setting: ``<url>oauth2/token`` is served.

        Only the token endpoint exists (``refresh_token`` and ``client_credentials``).
        """
        return self.url.rstrip("/")

    # -- time, rules and observers -----------------------------------------------

    @property
    def clock(self) -> Callable[[], float]:
        """Seconds since the epoch for every token time LocalCognito decides.

        ``iat``, ``auth_time`` and ``exp`` of the tokens it signs, refresh-token
        expiry and the rotation grace period follow it. Set it to a
        :class:`~keybearer.testing.FrozenClock` to make tokens expire without waiting.
        """
        return self._state.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._state.clock = clock

    @property
    def state(self) -> IdpState:
        """The shared toolbox of the operation handlers (clients, SECRET_HASH, signing tokens)."""
        return self._state

    @property
    def operations(self) -> MutableMapping[str, Handler]:
        """The cognito-idp dispatch table: operation name to ``handler(call, moto) -> Reply``.

        An operation not in the table goes to moto unchanged. Put a handler in
        to add an operation or to wrap one (keep the previous handler and call
        it); see ``keybearer.testing._dispatch``.
        """
        return self._dispatcher.operations

    @property
    def paths(self) -> MutableMapping[str, Handler]:
        """Handlers of requests that are not cognito-idp calls, by URL path (``/oauth2/token``)."""
        return self._dispatcher.paths

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer(call, reply)`` after every cognito-idp call is answered."""
        self._dispatcher.observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        """Stop calling ``observer``; no error if it was not added."""
        if observer in self._dispatcher.observers:
            self._dispatcher.observers.remove(observer)

    # -- SRP, remembered devices, USER_AUTH (testing/_srp.py) -------------------

    def track_devices(
        self, pool: Pool, *, skip_mfa: bool = True, prompt_user: bool = False
    ) -> None:
        """Turn on device tracking for ``pool`` (moto has none); see ``testing/_srp.py``.

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
            payload = error_body(error_type, message)
        elif isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = json.dumps(dict(body)).encode()
        self._failures.add(operation, Failure(status, error_type, payload), times)

    def clear_failures(self) -> None:
        """Drop every failure planned with :meth:`fail_next` and not yet used."""
        self._failures.clear()

    # -- set-up helpers (boto3) ------------------------------------------------

    @property
    def admin_client(self) -> Any:
        """A boto3 ``cognito-idp`` client for this server, for set-up beyond the helpers.

        It signs with dummy credentials and does not retry.
        """
        with self._lock:
            if self._admin is None:
                self._admin = make_admin_client(self.url, self.region)
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
        flows: Sequence[str] = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"),
        access_token_validity: int | None = None,
        id_token_validity: int | None = None,
        refresh_token_validity: int | None = None,
        validity_units: Mapping[str, str] | None = None,
        rotation: bool = False,
        grace_period: int = 0,
        revocation: bool = True,
        oauth_flows: Sequence[str] = (),
        scopes: Sequence[str] = (),
    ) -> AppClient:
        """Create an app client and return it.

        ``secret=True`` makes a confidential client (``AppClient.secret`` set).
        ``read_attributes`` are the user attributes copied into ID tokens;
        ``flows`` its ExplicitAuthFlows (by default ``USER_PASSWORD_AUTH`` and
        ``REFRESH_TOKEN_AUTH``; ``("ALLOW_CLIENT_TOKEN_AUTH",)`` alone for
        ``GetClientToken``). Token lifetimes are in ``validity_units``
        (``{"AccessToken": "minutes", ...}``; Cognito's defaults are hours for
        access and ID tokens, days for refresh tokens). ``rotation=True`` turns
        on refresh-token rotation with ``grace_period`` seconds (0-60) for
        retries; ``revocation=False`` turns off ``RevokeToken``.
        ``oauth_flows`` (e.g. ``("client_credentials",)``) and ``scopes`` (e.g.
        ``("https://api.example.test/pets.read",)``) are the OAuth settings the
        token endpoint checks.
        """
        name = name or f"keybearer-client-{uuid.uuid4().hex[:8]}"
        settings: dict[str, Any] = {
            "UserPoolId": pool.id,
            "ClientName": name,
            "GenerateSecret": secret,
            "ExplicitAuthFlows": list(flows),
            "ReadAttributes": list(read_attributes),
            "EnableTokenRevocation": revocation,
        }
        for field_name, value in (
            ("AccessTokenValidity", access_token_validity),
            ("IdTokenValidity", id_token_validity),
            ("RefreshTokenValidity", refresh_token_validity),
        ):
            if value is not None:
                settings[field_name] = value
        if validity_units:
            settings["TokenValidityUnits"] = dict(validity_units)
        if rotation:
            settings["RefreshTokenRotation"] = {
                "Feature": "ENABLED",
                "RetryGracePeriodSeconds": grace_period,
            }
        if oauth_flows:
            settings["AllowedOAuthFlows"] = list(oauth_flows)
            settings["AllowedOAuthFlowsUserPoolClient"] = True
        if scopes:
            settings["AllowedOAuthScopes"] = list(scopes)
        created = self.admin_client.create_user_pool_client(**settings)["UserPoolClient"]
        client_secret = created.get("ClientSecret")
        return AppClient(
            id=str(created["ClientId"]),
            secret=str(client_secret) if client_secret else None,
            name=name,
            pool_id=pool.id,
        )

    def create_resource_server(
        self, pool: Pool, identifier: str, scopes: Sequence[str], name: str | None = None
    ) -> list[str]:
        """Create a resource server with ``scopes`` (names like ``"pets.read"``).

        Returns the full scope names, ``<identifier>/<scope>``, to give to
        :meth:`create_app_client` and :meth:`ProtectedApi.require_scopes`.
        """
        self.admin_client.create_resource_server(
            UserPoolId=pool.id,
            Identifier=identifier,
            Name=name or identifier,
            Scopes=[{"ScopeName": s, "ScopeDescription": s} for s in scopes],
        )
        return [f"{identifier}/{s}" for s in scopes]

    def create_user(
        self,
        pool: Pool,
        username: str,
        password: str,
        *,
        temporary: bool = False,
        attributes: Mapping[str, str] | None = None,
        mfa: Literal["SMS_MFA", "SOFTWARE_TOKEN_MFA"] | None = None,
        enabled: bool = True,
    ) -> User:
        """Create a confirmed user and return it.

        With ``temporary=False`` the password is permanent and ``USER_PASSWORD_AUTH``
        returns tokens at once. With ``temporary=True`` it is a temporary password:
        the first sign-in answers the ``NEW_PASSWORD_REQUIRED`` challenge.
        ``attributes`` are user attributes such as ``{"email": "a@example.test"}``.
        ``mfa`` makes sign-in answer that MFA challenge (moto accepts any code).
        ``enabled=False`` creates a disabled user.
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
        if mfa is not None:
            self._enable_mfa(pool, username, mfa)
        if not enabled:
            admin.admin_disable_user(UserPoolId=pool.id, Username=username)
        created = {a["Name"]: a["Value"] for a in response["User"].get("Attributes", [])}
        return User(
            username=username,
            password=password,
            sub=str(created.get("sub", "")),
            temporary=temporary,
        )

    def _enable_mfa(self, pool: Pool, username: str, mfa: str) -> None:
        settings = {"Enabled": True, "PreferredMfa": True}
        if mfa == "SOFTWARE_TOKEN_MFA":
            # moto wants a verified authenticator first; mark it so, as a user
            # who ran AssociateSoftwareToken and VerifySoftwareToken would be.
            user = self._state.backend().user_pools[pool.id]._get_user(username)
            user.token_verified = True
            self.admin_client.admin_set_user_mfa_preference(
                UserPoolId=pool.id, Username=username, SoftwareTokenMfaSettings=settings
            )
        elif mfa == "SMS_MFA":
            self.admin_client.admin_set_user_mfa_preference(
                UserPoolId=pool.id, Username=username, SMSMfaSettings=settings
            )
        else:
            raise ValueError(f"mfa must be 'SMS_MFA' or 'SOFTWARE_TOKEN_MFA', not {mfa!r}")
