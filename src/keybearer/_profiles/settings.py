"""The settings a profile may hold: the registry, the checked model, and the names around them.

This module knows nothing of files, the environment or clients: it is the
vocabulary the other parts of :mod:`keybearer._profiles` share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from keybearer._config import _POOL_ID, _SCOPE
from keybearer._io.urls import check_secure_url
from keybearer.errors import ConfigurationError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_PROFILE",
    "LIST_SETTINGS",
    "PROFILE_ENV",
    "SECRET_ENV",
    "SETTINGS",
    "STORE_ENV",
    "ProfileSettings",
    "Setting",
    "check_profile_name",
    "check_store_spec",
    "secret_key",
    "setting",
]

CONFIG_ENV = "KEYBEARER_CONFIG"
PROFILE_ENV = "KEYBEARER_PROFILE"
STORE_ENV = "KEYBEARER_STORE"
SECRET_ENV = "KEYBEARER_CLIENT_SECRET"
DEFAULT_PROFILE = "default"

# Bare TOML keys, so a profile's table header never needs quoting.
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Setting:
    """One profile setting: its key in the file, its environment variable, what it means."""

    key: str
    help: str
    cognito_only: bool = False

    @property
    def env(self) -> str:
        return f"KEYBEARER_{self.key.upper()}"


#: Every setting a profile may hold, in the order the file lists them.
SETTINGS: tuple[Setting, ...] = (
    Setting("user_pool_id", "Cognito user pool id, e.g. us-east-1_AbCdEf123", cognito_only=True),
    Setting("issuer", "issuer URL of a generic OpenID Connect provider (instead of a pool)"),
    Setting("client_id", "app client id"),
    Setting("confidential", "the app client has a secret (kept in the token store, not here)"),
    Setting("domain", "hosted UI domain, needed for browser sign-in", cognito_only=True),
    Setting("redirect_uri", "callback registered with the app client for browser sign-in"),
    Setting("logout_uri", "sign-out URL registered with the app client"),
    Setting("scopes", "scopes to ask for in browser sign-in (space-separated in the env)"),
    Setting("api_url", "base URL of the API; keybearer get PATH goes below it"),
    Setting("api_hosts", "more hosts that may receive the token (space-separated in the env)"),
    Setting("send", "which token the API gets: id or access"),
    Setting("scheme", "Authorization scheme: Bearer, or none for the bare token"),
    Setting("username", "default username for keybearer login --password", cognito_only=True),
    Setting("region", "AWS region, if not the one in the pool id", cognito_only=True),
    Setting("idp_url", "cognito-idp endpoint override (VPC endpoint, stand-in)", cognito_only=True),
    Setting("jwks_url", "the pool's JWKS URL override", cognito_only=True),
    Setting("cognito_issuer", "expected iss of the pool's tokens, override", cognito_only=True),
    Setting("rotate_refresh_tokens", "the app client rotates refresh tokens", cognito_only=True),
    Setting(
        "password_flow",
        "how login --password proves the password: user_password or srp",
        cognito_only=True,
    ),
    Setting(
        "remember_device",
        "remember this device, so a pool that allows it asks for MFA once",
        cognito_only=True,
    ),
    Setting("token_auth", "client_secret_basic or client_secret_post"),
    Setting("timeout", "seconds to wait for the provider"),
    Setting("refresh_ahead", "refresh this many seconds (at least 60) before expiry"),
    Setting("store", "where tokens live: keyring, keyring:SERVICE, file:PATH or memory"),
    Setting("grant", "client-credentials: the app client's own token, no sign-in (a service)"),
)
_BY_KEY = {s.key: s for s in SETTINGS}
#: Settings that are lists: space-separated in the environment and on the command line.
LIST_SETTINGS = ("scopes", "api_hosts")


def setting(key: str) -> Setting | None:
    """The registry entry for ``key``, or None for a key keybearer does not know."""
    return _BY_KEY.get(key)


def check_profile_name(name: str) -> str:
    """``name`` if it can be a profile (a bare TOML key); ConfigurationError otherwise."""
    if not _PROFILE_NAME.match(name):
        raise ConfigurationError(
            f"profile name {name!r} is not allowed: use 1-64 letters, digits, '-' or '_'"
        )
    return name


def check_store_spec(spec: str) -> str:
    """``spec`` if it names a store (keyring, keyring:SERVICE, file:PATH, memory); ValueError."""
    kind, _, rest = spec.partition(":")
    if spec in ("keyring", "memory") or (kind == "keyring" and rest):
        return spec
    if kind == "file" and rest.strip():
        return spec
    raise ValueError(f"must be 'keyring', 'keyring:SERVICE', 'file:PATH' or 'memory'; got {spec!r}")


def secret_key(profile: str, client_id: str) -> str:
    """The store key of a profile's client secret."""
    return f"client-secret:{profile}:{client_id}"


def _secure(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    check_secure_url(value, what=what)
    return value


class ProfileSettings(BaseModel):
    """One profile's settings after the layers are merged, checked field by field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_pool_id: str | None = None
    issuer: str | None = None
    client_id: str | None = None
    confidential: bool = False
    domain: str | None = None
    redirect_uri: str | None = None
    logout_uri: str | None = None
    scopes: tuple[str, ...] = ("openid",)
    api_url: str | None = None
    api_hosts: tuple[str, ...] = ()
    send: Literal["id", "access"] = "id"
    scheme: str = "Bearer"
    username: str | None = None
    region: str | None = None
    idp_url: str | None = None
    jwks_url: str | None = None
    cognito_issuer: str | None = None
    rotate_refresh_tokens: bool = False
    password_flow: Literal["user_password", "srp"] = "user_password"
    remember_device: bool = False
    token_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    timeout: float = Field(default=30.0, gt=0)
    refresh_ahead: float = Field(default=120.0, ge=60.0)
    store: str | None = None
    grant: Literal["client-credentials"] | None = None

    @field_validator("grant", mode="before")
    @classmethod
    def _grant(cls, value: Any) -> Any:
        # [m2m] The library spells it client_credentials; either spelling is fine here.
        return "client-credentials" if value == "client_credentials" else value

    @field_validator("scopes", "api_hosts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return tuple(value.split()) if isinstance(value, str) else value

    @field_validator("user_pool_id")
    @classmethod
    def _pool(cls, value: str | None) -> str | None:
        if value is not None and not _POOL_ID.match(value.strip()):
            raise ValueError(
                f"must look like '<region>_<id>', e.g. 'us-east-1_AbCdEf123'; got {value!r}"
            )
        return value.strip() if value is not None else None

    @field_validator("client_id")
    @classmethod
    def _client(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty")
        return value.strip() if value is not None else None

    @field_validator(
        "issuer", "redirect_uri", "logout_uri", "api_url", "idp_url", "jwks_url", "cognito_issuer"
    )
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _secure(value, "the URL")

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        _secure(value if "://" in value else f"https://{value}", "the domain")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for scope in value:
            if not _SCOPE.match(scope):
                raise ValueError(f"{scope!r} is not a valid OAuth scope")
        return value

    @field_validator("scheme")
    @classmethod
    def _scheme(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"must be one word such as 'Bearer', or 'none'; got {value!r}")
        return value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str | None) -> str | None:
        return check_store_spec(value.strip()) if value is not None else None

    @property
    def kind(self) -> Literal["cognito", "oidc"]:
        return "oidc" if self.issuer is not None else "cognito"

    @property
    def bearer_scheme(self) -> str | None:
        """The scheme to pass to the client: ``None`` means the bare token."""
        return None if self.scheme.lower() == "none" else self.scheme
