"""Validated settings: one app client of a Cognito user pool or of any OIDC provider."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from keybearer._io.hosts import parse_entry
from keybearer._io.urls import check_secure_url
from keybearer._protocol.app_client import PasswordFlow
from keybearer._protocol.oauth import ClientAuth, Endpoints, OAuthClientInfo
from keybearer._tokens import is_text
from keybearer.errors import ConfigurationError

# A region ("us-east-1", "us-gov-west-1", "eu-central-2") and an id part.
_POOL_ID = re.compile(r"^(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$")
# Cognito app client ids are 1-128 word characters (plus '+' per the API model).
_CLIENT_ID = re.compile(r"^[\w+]{1,128}$")
# RFC 6749 scope tokens: printable ASCII without space, quote or backslash.
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")

Send = Literal["id", "access"]
# [m2m] A service's own token, no person involved (OAuth client credentials).
Grant = Literal["client_credentials"]


class ClientConfig(BaseModel):
    """What every provider's app client shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str
    client_secret: SecretStr | None = None
    token_auth: ClientAuth = "client_secret_basic"
    scopes: tuple[str, ...] = ("openid",)
    redirect_uri: str | None = None
    logout_uri: str | None = None
    send: Send = "id"
    scheme: str | None = "Bearer"
    api_hosts: tuple[str, ...] = ()
    refresh_ahead: float = Field(default=120.0, ge=60.0, le=86400.0)
    timeout: float = Field(default=30.0, gt=0, le=3600.0)
    profile: str = Field(default="default", min_length=1)
    grant: Grant | None = None
    """``None``: a person signs in; ``"client_credentials"``: the app client itself."""

    # [m2m] begin: client-credentials defaults and checks
    @model_validator(mode="before")
    @classmethod
    def _grant_defaults(cls, data: object) -> object:
        # A service token is an access token with custom scopes only: send it,
        # and ask for every scope the app client allows unless told otherwise.
        if not isinstance(data, dict):
            return data
        client_credentials = data.get("grant") == "client_credentials"
        data = dict(data)
        if data.get("send") is None:
            data["send"] = "access" if client_credentials else "id"
        if data.get("scopes") is None:
            data["scopes"] = () if client_credentials else ("openid",)
        return data

    @model_validator(mode="after")
    def _check_grant(self) -> ClientConfig:
        if self.grant != "client_credentials":
            return self
        if self.client_secret is None:
            raise ValueError(
                "grant='client_credentials' needs the app client secret: pass client_secret=, "
                "set KEYBEARER_CLIENT_SECRET, or keep it in the keyring with "
                "'keybearer configure --grant client-credentials --client-secret-stdin'"
            )
        if self.token_auth == "none":
            raise ValueError(
                "grant='client_credentials' authenticates the app client; "
                "token_auth must be client_secret_basic or client_secret_post"
            )
        if "openid" in self.scopes:
            raise ValueError(
                "a client-credentials token belongs to no user, so 'openid' is not a scope "
                "it can have; ask for the resource server's custom scopes "
                "(e.g. 'https://api.example.com/pets.read')"
            )
        return self

    @property
    def client_credentials(self) -> bool:
        """Whether tokens come from the client-credentials grant (no sign-in)."""
        return self.grant == "client_credentials"

    def _grant_key(self) -> str:
        # Tokens for other scopes are other tokens: they must not share a key.
        if not self.client_credentials:
            return ""
        return ":client_credentials:" + " ".join(sorted(self.scopes))

    # [m2m] end

    @model_validator(mode="after")
    def _check_common(self) -> ClientConfig:
        if not self.client_id.strip():
            raise ValueError("client_id must be set to the app client id; it is empty")
        if self.client_secret is not None and not self.client_secret.get_secret_value():
            raise ValueError("client_secret is empty; pass None for an app client without one")
        if self.scheme is not None and (not self.scheme or any(c.isspace() for c in self.scheme)):
            raise ValueError(
                f"scheme must be a single word such as 'Bearer', or None; got {self.scheme!r}"
            )
        for scope in self.scopes:
            if not _SCOPE.match(scope):
                raise ValueError(f"{scope!r} is not a valid OAuth scope")
        if self.redirect_uri is not None:
            check_secure_url(self.redirect_uri, what="redirect_uri")
        secret = self.client_secret.get_secret_value() if self.client_secret else None
        for name, value in (("client_id", self.client_id), ("client_secret", secret)):
            if value is not None and not is_text(value):
                # Never quoted: it may be the secret.
                raise ValueError(f"{name} contains characters that are not text")
        for entry in self.api_hosts:
            if entry.strip():
                try:
                    parse_entry(entry)
                except ValueError as exc:
                    raise ValueError(
                        f"api_hosts: {entry!r} is not a host, host:port or URL ({exc})"
                    ) from None
        return self

    @property
    def store_key(self) -> str:
        raise NotImplementedError

    @property
    def provider_urls(self) -> tuple[str, ...]:
        """The provider URLs configured (not discovered): their hosts skip proxies if loopback."""
        return ()

    @property
    def describe(self) -> str:
        """A short, secret-free name of the app client for messages."""
        return f"app client {self.client_id}, profile {self.profile!r}"

    @property
    def oauth_client(self) -> OAuthClientInfo:
        secret = self.client_secret.get_secret_value() if self.client_secret else None
        method: ClientAuth = self.token_auth if secret is not None else "none"
        return OAuthClientInfo(self.client_id, secret, method, self.timeout)

    def fixed_endpoints(self) -> Endpoints | None:
        """Endpoints known without discovery, if any."""
        return None


class CognitoConfig(ClientConfig):
    """Everything keybearer needs to talk to one Cognito user pool app client.

    Built by :meth:`keybearer.OAuthClient.cognito`; the endpoints default to
    AWS's and each can be overridden (a VPC endpoint, or a local stand-in in
    tests) while the expected issuer stays AWS's.
    """

    user_pool_id: str
    region: str = ""
    idp_url: str = ""
    issuer: str = ""
    jwks_url: str = ""
    rotate_refresh_tokens: bool = False
    domain: str | None = None
    """The hosted UI's domain (``myapp.auth.us-east-1.amazoncognito.com``, a
    custom domain, or a full URL)."""
    # -- password sign-in (issue 13: SRP and remembered devices) --
    password_flow: PasswordFlow = "user_password"
    """``"user_password"`` (USER_PASSWORD_AUTH) or ``"srp"`` (USER_SRP_AUTH)."""
    remember_device: bool = False
    """Confirm the device Cognito hands out, so later sign-ins can skip MFA."""

    @model_validator(mode="before")
    @classmethod
    def _derive_endpoints(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        pool_id = data.get("user_pool_id")
        if not isinstance(pool_id, str) or not (match := _POOL_ID.match(pool_id.strip())):
            raise ValueError(
                "user_pool_id must look like '<region>_<id>', e.g. 'us-east-1_AbCdEf123'; "
                f"got {pool_id!r}"
            )
        given = {name for name, value in data.items() if value}
        data = dict(data)
        data["user_pool_id"] = pool_id = pool_id.strip()
        region = data.get("region") or match["region"]
        data["region"] = region
        data["idp_url"] = data.get("idp_url") or f"https://cognito-idp.{region}.amazonaws.com/"
        data["issuer"] = (
            data.get("issuer") or f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        )
        if not data.get("jwks_url"):
            # AWS serves a pool's keys at <idp_url><pool id>/.well-known/jwks.json, which
            # is <issuer>/.well-known/jwks.json; a stand-in given as idp_url serves them
            # the same way, so its refreshed tokens can be verified (issue 11 #5).
            base = (
                data["issuer"] if "issuer" in given else f"{data['idp_url'].rstrip('/')}/{pool_id}"
            )
            data["jwks_url"] = f"{base}/.well-known/jwks.json"
        domain = data.get("domain")
        if isinstance(domain, str) and domain.strip():
            domain = domain.strip().rstrip("/")
            data["domain"] = domain if "://" in domain else f"https://{domain}"
        return data

    @model_validator(mode="after")
    def _check(self) -> CognitoConfig:
        if not _CLIENT_ID.match(self.client_id):
            raise ValueError(
                "client_id must be the app client id from the Cognito console "
                f"(1-128 letters, digits or underscores); got {self.client_id!r}"
            )
        check_secure_url(self.idp_url, what="idp_url")
        check_secure_url(self.jwks_url, what="jwks_url")
        if self.domain is not None:
            check_secure_url(self.domain, what="domain")
        return self

    @property
    def store_key(self) -> str:
        """Where this client's tokens live: pool, app client and profile."""
        return f"cognito:{self.user_pool_id}:{self.client_id}:{self.profile}{self._grant_key()}"

    @property
    def provider_urls(self) -> tuple[str, ...]:
        return tuple(u for u in (self.idp_url, self.issuer, self.jwks_url, self.domain) if u)

    @property
    def describe(self) -> str:
        return f"user pool {self.user_pool_id}, {super().describe}"

    def fixed_endpoints(self) -> Endpoints | None:
        if self.domain is None:
            return None
        base = self.domain
        return Endpoints(
            issuer=self.issuer,
            authorization=f"{base}/oauth2/authorize",
            token=f"{base}/oauth2/token",
            jwks=self.jwks_url,
            revocation=f"{base}/oauth2/revoke",
            userinfo=f"{base}/oauth2/userInfo",
            end_session=f"{base}/logout",
        )


class OidcConfig(ClientConfig):
    """An app client of any OpenID Connect provider, found by discovery."""

    issuer: str

    @model_validator(mode="after")
    def _check(self) -> OidcConfig:
        check_secure_url(self.issuer, what="issuer")
        return self

    @property
    def store_key(self) -> str:
        issuer = self.issuer.rstrip("/")
        return f"oidc:{issuer}:{self.client_id}:{self.profile}{self._grant_key()}"

    @property
    def provider_urls(self) -> tuple[str, ...]:
        return (self.issuer,)

    @property
    def describe(self) -> str:
        return f"issuer {self.issuer}, {super().describe}"


M = TypeVar("M", bound=ClientConfig)


def validated(build: Callable[[], M]) -> M:
    """``build()`` (a model constructor call); pydantic's error as one ConfigurationError.

    Input values are left out of the message on purpose: one of them may be a
    client secret. The validators above quote the values that are safe to
    quote. The error is raised outside the ``except`` block so that it carries
    no ``__context__`` (pydantic's error holds the inputs).
    """
    try:
        return build()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "configuration"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where != "configuration" else message)
    raise ConfigurationError("invalid keybearer configuration: " + "; ".join(problems))


def as_tuple(value: str | Iterable[str]) -> tuple[str, ...]:
    """A list argument as a tuple; a lone string is one item, not its characters."""
    return (value,) if isinstance(value, str) else tuple(value)


def secret(value: str | None) -> SecretStr | None:
    """A client secret argument as a SecretStr (None: an app client without one)."""
    return SecretStr(value) if value is not None else None
