"""What LocalCognito keeps beside moto: the clock, the tokens it signs, refresh-token life.

moto stores pools, app clients, users and which refresh tokens are alive. It
signs every token with ``time.time()``, a lifetime of one hour and the scope
``aws.cognito.signin.user.admin``. :class:`IdpState` signs them again the way
Cognito would: ``iat``/``exp`` from :attr:`IdpState.clock`, lifetimes from the
app client's ``AccessTokenValidity``/``IdTokenValidity``/``RefreshTokenValidity``
and ``TokenValidityUnits``, ``origin_jti`` only when token revocation is on, and
custom scopes for client-credentials tokens. It also remembers when each
refresh token was issued and rotated, for expiry and the rotation grace period.

It is also the toolbox of the operation handlers (``_idp.py``, ``_oauth2.py``
and the SRP server side): finding a pool and app client, checking
``SECRET_HASH``, checking that the app client allows a flow, issuing tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from keybearer.testing._dispatch import CognitoError

__all__ = ["ClientView", "IdpState", "RefreshRecord"]

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
#: Cognito's defaults: ID and access tokens 1 hour, refresh tokens 30 days.
_DEFAULT_VALIDITY = {
    "AccessToken": (1, "hours"),
    "IdToken": (1, "hours"),
    "RefreshToken": (30, "days"),
}
_VALIDITY_FIELD = {
    "AccessToken": "AccessTokenValidity",
    "IdToken": "IdTokenValidity",
    "RefreshToken": "RefreshTokenValidity",
}
#: Cognito's default when an app client is created without ExplicitAuthFlows.
_DEFAULT_FLOWS = frozenset({"ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"})
#: The legacy ExplicitAuthFlows values and the ALLOW_ names they stand for.
_LEGACY_FLOWS = {
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY": "ALLOW_CUSTOM_AUTH",
}
#: The ExplicitAuthFlows value each AuthFlow needs.
FLOW_PERMISSIONS = {
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
    "CUSTOM_AUTH": "ALLOW_CUSTOM_AUTH",
    "USER_AUTH": "ALLOW_USER_AUTH",
    "ADMIN_USER_PASSWORD_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
}
#: The only scope of tokens from the cognito-idp API sign-in (InitiateAuth and friends).
USER_ADMIN_SCOPE = "aws.cognito.signin.user.admin"


def secret_hash(secret: str, username: str, client_id: str) -> str:
    """Cognito's ``SECRET_HASH``: Base64(HMAC-SHA256(secret, username + client id))."""
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def opaque_token() -> str:
    """A refresh token shaped like Cognito's (five base64url parts, a JWE); never parse it."""
    header = base64.urlsafe_b64encode(b'{"cty":"JWT","enc":"A256GCM","alg":"RSA-OAEP"}')
    parts = [header.rstrip(b"=").decode()]
    parts += [secrets.token_urlsafe(n) for n in (256, 12, 600, 16)]
    return ".".join(parts)


@dataclass
class RefreshRecord:
    """When a refresh token was issued, for whom, and whether rotation replaced it."""

    client_id: str
    username: str
    origin_jti: str
    issued_at: float
    auth_time: int
    rotated_at: float | None = None


@dataclass(frozen=True)
class ClientView:
    """An app client's settings as LocalCognito reads them from moto."""

    id: str
    pool_id: str
    secret: str | None
    config: dict[str, Any]

    @property
    def flows(self) -> frozenset[str]:
        """The ExplicitAuthFlows in ALLOW_ form (Cognito's default when none were set)."""
        listed = self.config.get("ExplicitAuthFlows")
        if not listed:
            return _DEFAULT_FLOWS
        return frozenset(_LEGACY_FLOWS.get(flow, flow) for flow in listed)

    def validity(self, kind: str) -> int:
        """Lifetime in seconds of ``"AccessToken"``, ``"IdToken"`` or ``"RefreshToken"``."""
        value, unit = _DEFAULT_VALIDITY[kind]
        configured = self.config.get(_VALIDITY_FIELD[kind])
        if isinstance(configured, int) and not isinstance(configured, bool):
            value = configured
            units = self.config.get("TokenValidityUnits") or {}
            unit = str(units.get(kind, unit))
        return value * _UNIT_SECONDS.get(unit, 3600)

    @property
    def revocation(self) -> bool:
        return bool(self.config.get("EnableTokenRevocation", True))

    @property
    def rotation_grace(self) -> int | None:
        """The retry grace period in seconds if refresh tokens rotate, else ``None``."""
        rotation = self.config.get("RefreshTokenRotation") or {}
        if rotation.get("Feature") != "ENABLED":
            return None
        return int(rotation.get("RetryGracePeriodSeconds", 0))

    @property
    def oauth_scopes(self) -> tuple[str, ...]:
        return tuple(self.config.get("AllowedOAuthScopes") or ())

    @property
    def oauth_flows(self) -> frozenset[str]:
        if not self.config.get("AllowedOAuthFlowsUserPoolClient"):
            return frozenset()
        return frozenset(self.config.get("AllowedOAuthFlows") or ())


class IdpState:
    """The state and tools LocalCognito's operation handlers share (one per LocalCognito)."""

    def __init__(self, region: str, clock: Callable[[], float] = time.time) -> None:
        self.region = region
        #: Seconds since the epoch: token times, refresh-token expiry, grace periods.
        self.clock: Callable[[], float] = clock
        self._lock = threading.RLock()
        self._refresh: dict[str, RefreshRecord] = {}
        # access and ID tokens by the origin_jti of the refresh token they came from
        self._minted: dict[str, str] = {}

    # -- moto lookups ------------------------------------------------------------------

    def backend(self) -> Any:
        # moto is imported once the server runs; this module stays importable without it.
        from moto.cognitoidp.models import cognitoidp_backends
        from moto.core.models import DEFAULT_ACCOUNT_ID

        return cognitoidp_backends[DEFAULT_ACCOUNT_ID][self.region]

    def find_client(self, client_id: object) -> tuple[Any, ClientView]:
        """The moto pool and a view of the app client ``client_id``; ResourceNotFound if none."""
        if isinstance(client_id, str):
            for pool in self.backend().user_pools.values():
                client = pool.clients.get(client_id)
                if client is not None:
                    secret = client.secret if client.generate_secret else None
                    view = ClientView(client.id, pool.id, secret, dict(client.extended_config))
                    return pool, view
        shown = client_id if isinstance(client_id, str) else ""
        raise CognitoError("ResourceNotFoundException", f"User pool client {shown} does not exist.")

    @staticmethod
    def internal_username(pool: Any, username: str) -> str:
        """The pool's own name for a user given by username or alias (email, phone)."""
        user = pool._get_user(username)
        return str(user.username) if user is not None else username

    # -- rules ---------------------------------------------------------------------------

    @staticmethod
    def require_flow(client: ClientView, auth_flow: str) -> None:
        """Refuse ``auth_flow`` unless the app client's ExplicitAuthFlows allow it."""
        needed = FLOW_PERMISSIONS.get(auth_flow)
        if needed is not None and needed not in client.flows:
            raise CognitoError(
                "InvalidParameterException", f"{auth_flow} flow not enabled for this client"
            )

    @staticmethod
    def check_secret_hash(client: ClientView, username: str, given: object) -> None:
        """Refuse a missing or wrong ``SECRET_HASH`` for a client that has a secret."""
        if client.secret is None:
            return
        if not isinstance(given, str) or not given:
            raise CognitoError(
                "NotAuthorizedException",
                f"Client {client.id} is configured for secret but secret was not received",
            )
        expected = secret_hash(client.secret, username, client.id)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise CognitoError(
                "NotAuthorizedException", f"Unable to verify secret hash for client {client.id}"
            )

    @staticmethod
    def check_client_secret(client: ClientView, given: object) -> None:
        """Refuse a missing or wrong raw ``ClientSecret`` (GetTokensFromRefreshToken and co)."""
        if client.secret is None:
            return
        if not isinstance(given, str) or not hmac.compare_digest(
            client.secret.encode(), given.encode()
        ):
            raise CognitoError(
                "NotAuthorizedException", f"Unable to verify secret for client {client.id}"
            )

    # -- tokens ------------------------------------------------------------------------------

    def _sign(self, pool: Any, claims: dict[str, Any]) -> str:
        from joserfc import jwt  # moto signs with joserfc too; loaded only when the server runs

        return str(jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, pool.json_web_key))

    def _common(self, pool: Any, now: int, auth_time: int) -> dict[str, Any]:
        return {
            "iss": f"https://cognito-idp.{self.region}.amazonaws.com/{pool.id}",
            "iat": now,
            "auth_time": auth_time,
            "jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
        }

    def user_tokens(
        self,
        pool: Any,
        client: ClientView,
        username: str,
        *,
        origin_jti: str,
        auth_time: int | None = None,
        scope: str = USER_ADMIN_SCOPE,
    ) -> dict[str, Any]:
        """Sign an access and an ID token for ``username``; return them as AuthenticationResult.

        Both are registered with moto, so ``GetUser`` and ``GlobalSignOut`` accept them.
        """
        now = int(self.clock())
        auth_time = now if auth_time is None else auth_time
        user = pool._get_user(username)
        groups = [group.group_name for group in user.groups]
        email_username = "email" in pool.extended_config.get("UsernameAttributes", [])
        access_life, id_life = client.validity("AccessToken"), client.validity("IdToken")
        access = {
            **self._common(pool, now, auth_time),
            "sub": user.id,
            "token_use": "access",
            "scope": scope,
            "exp": now + access_life,
            "client_id": client.id,
            "username": user.id if email_username else user.username,
            "version": 2,
        }
        identity = {
            **pool.get_user_extra_data_by_client_id(client.id, username),
            **self._common(pool, now, auth_time),
            "sub": user.id,
            "token_use": "id",
            "aud": client.id,
            "exp": now + id_life,
            "cognito:username": user.id if email_username else user.username,
        }
        for attribute in user.attributes:
            if attribute["Name"].startswith("custom:"):
                identity[attribute["Name"]] = attribute["Value"]
        if email_username:
            identity["email"] = username
        if groups:
            access["cognito:groups"] = identity["cognito:groups"] = groups
        if client.revocation:  # Cognito adds origin_jti only where revocation is on
            access["origin_jti"] = identity["origin_jti"] = origin_jti
        access_token, id_token = self._sign(pool, access), self._sign(pool, identity)
        with self._lock:
            pool.access_tokens[access_token] = (client.id, username)
            pool.id_tokens[id_token] = (client.id, username)
            self._minted[access_token] = self._minted[id_token] = origin_jti
        return {
            "AccessToken": access_token,
            "ExpiresIn": access_life,
            "TokenType": "Bearer",
            "IdToken": id_token,
        }

    def sign_in(self, pool: Any, client: ClientView, username: str) -> dict[str, Any]:
        """A complete sign-in: new refresh, access and ID tokens, as AuthenticationResult.

        For handlers that finish a sign-in moto cannot (SRP, devices, USER_AUTH).
        """
        origin_jti = str(uuid.uuid4())
        now = int(self.clock())
        refresh_token = self.new_refresh_token(
            pool, client, username, origin_jti=origin_jti, auth_time=now
        )
        tokens = self.user_tokens(pool, client, username, origin_jti=origin_jti, auth_time=now)
        return {**tokens, "RefreshToken": refresh_token}

    def client_token(self, pool: Any, client: ClientView, scopes: Iterable[str]) -> tuple[str, int]:
        """Sign a client-credentials access token with ``scopes``; return it and its lifetime."""
        now = int(self.clock())
        life = client.validity("AccessToken")
        claims = {
            **self._common(pool, now, now),
            "sub": client.id,
            "token_use": "access",
            "scope": " ".join(scopes),
            "exp": now + life,
            "client_id": client.id,
            "version": 2,
        }
        return self._sign(pool, claims), life

    def grant_scopes(self, pool: Any, client: ClientView, requested: Iterable[str]) -> list[str]:
        """The custom scopes a client-credentials token gets, or ``invalid_scope``.

        Each requested scope must be ``<resource server>/<scope>`` of a resource
        server in the pool and in the client's AllowedOAuthScopes; none requested
        means every custom scope the client is allowed.
        """
        defined = {
            f"{server.identifier}/{scope['ScopeName']}"
            for server in pool.resource_servers.values()
            for scope in server.scopes or ()
        }
        allowed = [s for s in client.oauth_scopes if s in defined]
        wanted = list(dict.fromkeys(requested))
        if not wanted:
            wanted = allowed
        if not wanted or any(scope not in allowed for scope in wanted):
            raise CognitoError("InvalidParameterException", "invalid_scope")
        return wanted

    # -- refresh tokens --------------------------------------------------------------------

    def new_refresh_token(
        self, pool: Any, client: ClientView, username: str, *, origin_jti: str, auth_time: int
    ) -> str:
        """Issue a refresh token: alive in moto (GlobalSignOut kills it) and recorded here."""
        token = opaque_token()
        with self._lock:
            pool.refresh_tokens[token] = (client.id, username, origin_jti)
            self._refresh[token] = RefreshRecord(
                client.id, username, origin_jti, self.clock(), auth_time
            )
        return token

    def adopt_refresh_token(self, pool: Any, client: ClientView, moto_token: str) -> str:
        """Replace a refresh token moto issued (a bare UUID) by a Cognito-shaped one."""
        with self._lock:
            owner = pool.refresh_tokens.pop(moto_token, None)
            if owner is None:
                raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
            _, username, origin_jti = owner
            now = int(self.clock())
            return self.new_refresh_token(
                pool, client, username, origin_jti=origin_jti, auth_time=now
            )

    def live_refresh(self, pool: Any, client: ClientView, token: object) -> RefreshRecord:
        """The record of a usable refresh token of ``client``, or Cognito's refusal."""
        with self._lock:
            owner = pool.refresh_tokens.get(token) if isinstance(token, str) else None
            if owner is None:
                if isinstance(token, str) and token in pool.refresh_tokens:
                    raise CognitoError("NotAuthorizedException", "Refresh Token has been revoked")
                raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
            if owner[0] != client.id:
                raise CognitoError("NotAuthorizedException", "Invalid Refresh Token")
            assert isinstance(token, str)
            record = self._refresh.get(token)
            if record is None:  # issued by another LocalCognito of this process: start now
                now = self.clock()
                record = RefreshRecord(owner[0], owner[1], owner[2], now, int(now))
                self._refresh[token] = record
        if self.clock() >= record.issued_at + client.validity("RefreshToken"):
            raise CognitoError("NotAuthorizedException", "Refresh Token has expired")
        user = pool._get_user(record.username)
        if user is None:
            raise CognitoError("NotAuthorizedException", "Refresh Token has been revoked")
        if not user.enabled:
            raise CognitoError("NotAuthorizedException", "User is disabled.")
        return record

    def session_tokens(
        self, pool: Any, client: ClientView, record: RefreshRecord
    ) -> dict[str, Any]:
        """New access and ID tokens of the sign-in ``record`` belongs to, as AuthenticationResult.

        They keep the sign-in's ``origin_jti`` (revoking its refresh token kills
        them) and ``auth_time``, as Cognito's refreshed tokens do.
        """
        return self.user_tokens(
            pool, client, record.username, origin_jti=record.origin_jti, auth_time=record.auth_time
        )

    def next_refresh_token(
        self, pool: Any, client: ClientView, record: RefreshRecord
    ) -> str | None:
        """The refresh token replacing ``record``'s where ``client`` rotates them, else ``None``.

        ``record`` is marked rotated (usable for the client's grace period, then
        refused with ``RefreshTokenReuseException``); the new one continues the
        same sign-in. Both refresh endpoints (cognito-idp and ``/oauth2/token``)
        rotate through here, so they cannot drift apart.
        """
        grace = client.rotation_grace
        if grace is None:
            return None
        self.rotate(record, grace)
        return self.new_refresh_token(
            pool,
            client,
            record.username,
            origin_jti=record.origin_jti,
            auth_time=record.auth_time,
        )

    def rotate(self, record: RefreshRecord, grace: int) -> None:
        """Mark ``record`` rotated now, or refuse it if its grace period is over."""
        now = self.clock()
        with self._lock:
            if record.rotated_at is None:
                record.rotated_at = now
            elif now > record.rotated_at + grace:
                raise CognitoError("RefreshTokenReuseException", "Invalid Refresh Token")

    def revoke(self, pool: Any, token: str) -> None:
        """Kill a refresh token and the tokens minted from it (same ``origin_jti``)."""
        with self._lock:
            owner = pool.refresh_tokens.get(token)
            if owner is None:
                return
            origin = owner[2]
            for other, record in self._refresh.items():
                if record.origin_jti == origin and pool.refresh_tokens.get(other) is not None:
                    pool.refresh_tokens[other] = None
            pool.refresh_tokens[token] = None
            for minted in [t for t, o in self._minted.items() if o == origin]:
                pool.access_tokens.pop(minted, None)
                pool.id_tokens.pop(minted, None)
                del self._minted[minted]

    def forget(self) -> None:
        """Drop the refresh-token records (moto's state is left alone)."""
        with self._lock:
            self._refresh.clear()
            self._minted.clear()
