"""Named profiles: the settings the ``keybearer`` command and ``OAuthClient.from_profile`` share.

A profile is one table of a TOML file::

    [profiles.dev]
    user_pool_id = "us-east-1_AbCdEf123"
    client_id = "1example23456789"
    domain = "myapp.auth.us-east-1.amazoncognito.com"
    redirect_uri = "http://localhost:8765/callback"
    scopes = ["openid", "email"]
    api_url = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"

Each setting has an environment variable (``KEYBEARER_<KEY>``), and a value is
taken from the first place that has it: an explicit override (a command-line
flag), the environment, the file, the default. The profile is the one named
explicitly, else ``KEYBEARER_PROFILE``, else ``default``; the file is
``KEYBEARER_CONFIG``, else ``config.toml`` in the platform's config directory.

No secret is ever written to the file. A client secret lives where the
profile's tokens live (the OS keyring unless a store is chosen explicitly),
under ``client-secret:<profile>:<client id>``, or comes from
``KEYBEARER_CLIENT_SECRET``. Tokens are keyed by the profile name, so two
profiles never share a session.

platformdirs and the TOML parser are imported on first use: ``import
keybearer`` must not pay for the command's needs.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from keybearer._config import _CLIENT_ID, _POOL_ID, _SCOPE
from keybearer._io.urls import check_secure_url
from keybearer.errors import ConfigurationError

if TYPE_CHECKING:
    from keybearer._client import OAuthClient
    from keybearer.stores._base import TokenStore

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_PROFILE",
    "LIST_SETTINGS",
    "PROFILE_ENV",
    "SECRET_ENV",
    "SETTINGS",
    "STORE_ENV",
    "ConfigFile",
    "ProfileSettings",
    "ResolvedProfile",
    "Setting",
    "build_profile",
    "check_profile_name",
    "client_from_profile",
    "default_config_path",
    "open_store",
    "read_config",
    "resolve_profile",
    "secret_key",
    "selected_profile_name",
    "write_profile",
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
    Setting("token_auth", "client_secret_basic or client_secret_post"),
    Setting("timeout", "seconds to wait for the provider"),
    Setting("refresh_ahead", "refresh this many seconds (at least 60) before expiry"),
    Setting("store", "where tokens live: keyring, keyring:SERVICE, file:PATH or memory"),
)
_BY_KEY = {s.key: s for s in SETTINGS}
#: Settings that are lists: space-separated in the environment and on the command line.
LIST_SETTINGS = ("scopes", "api_hosts")


def _secure(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    check_secure_url(value, what=what)
    return value


def _words(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(value.split())
    return value


def _check_store_spec(spec: str) -> str:
    kind, _, rest = spec.partition(":")
    if spec in ("keyring", "memory") or (kind == "keyring" and rest):
        return spec
    if kind == "file" and rest.strip():
        return spec
    raise ValueError(f"must be 'keyring', 'keyring:SERVICE', 'file:PATH' or 'memory'; got {spec!r}")


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
    token_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    timeout: float = Field(default=30.0, gt=0)
    refresh_ahead: float = Field(default=120.0, ge=60.0)
    store: str | None = None

    @field_validator("scopes", "api_hosts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _words(value)

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

    @field_validator("issuer", "redirect_uri", "logout_uri", "api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _secure(value, "the URL")

    @field_validator("idp_url", "jwks_url", "cognito_issuer")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
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
        return _check_store_spec(value.strip()) if value is not None else None

    @property
    def kind(self) -> Literal["cognito", "oidc"]:
        return "oidc" if self.issuer is not None else "cognito"

    @property
    def bearer_scheme(self) -> str | None:
        """The scheme to pass to the client: ``None`` means the bare token."""
        return None if self.scheme.lower() == "none" else self.scheme


@dataclass(frozen=True)
class ConfigFile:
    """The profiles of one config file, as written (not yet validated)."""

    path: Path
    exists: bool
    profiles: Mapping[str, Mapping[str, Any]]


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``KEYBEARER_CONFIG``, else ``config.toml`` in the platform's config directory."""
    env = os.environ if environ is None else environ
    override = env.get(CONFIG_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_config_path("keybearer", appauthor=False) / "config.toml"


def selected_profile_name(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The profile to use: ``explicit``, else ``KEYBEARER_PROFILE``, else ``default``."""
    env = os.environ if environ is None else environ
    name = explicit or env.get(PROFILE_ENV, "").strip() or DEFAULT_PROFILE
    check_profile_name(name)
    return name


def check_profile_name(name: str) -> str:
    if not _PROFILE_NAME.match(name):
        raise ConfigurationError(
            f"profile name {name!r} is not allowed: use 1-64 letters, digits, '-' or '_'"
        )
    return name


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    return cast("dict[str, Any]", tomllib.loads(text))


def _toml_error() -> type[Exception]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    return cast("type[Exception]", tomllib.TOMLDecodeError)


def read_config(path: Path) -> ConfigFile:
    """Read and shape-check a config file; a missing file has no profiles."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ConfigFile(path, False, {})
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigurationError(f"cannot read the keybearer config file {path}: {reason}") from exc
    try:
        data = _toml_loads(text)
    except _toml_error() as exc:
        raise ConfigurationError(
            f"the keybearer config file {path} is not valid TOML: {exc}"
        ) from None
    return ConfigFile(path, True, _profiles_of(data, path))


def _profiles_of(data: Mapping[str, Any], path: Path) -> dict[str, Mapping[str, Any]]:
    unknown = [key for key in data if key != "profiles"]
    if unknown:
        raise ConfigurationError(
            f"{path}: unknown top-level key {unknown[0]!r}; profiles go in "
            "[profiles.<name>] tables, e.g. [profiles.default]"
        )
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigurationError(f"{path}: 'profiles' must be a table of [profiles.<name>] tables")
    for name, table in profiles.items():
        if not isinstance(table, dict):
            raise ConfigurationError(
                f"{path}: profiles.{name} must be a table ([profiles.{name}]) of settings"
            )
    return profiles


def _env_layer(environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        # An empty variable counts as unset, as most tools treat it.
        if raw is not None and raw.strip():
            values[setting.key] = raw.strip()
    return values


@dataclass(frozen=True)
class ResolvedProfile:
    """A profile's settings merged from flags, environment, file and defaults."""

    name: str
    config_path: Path
    in_file: bool
    settings: ProfileSettings
    sources: Mapping[str, str]
    """Where each set value came from: ``"flag"``, an environment variable, or the file."""

    @property
    def where(self) -> str:
        return f"profile {self.name!r} in {self.config_path}"

    @property
    def api_url(self) -> str | None:
        return self.settings.api_url

    def store(self, explicit: TokenStore | None = None) -> TokenStore:
        """``explicit``, else the store the settings name, else the OS keyring."""
        if explicit is not None:
            return explicit
        base = self.config_path.parent if self.sources.get("store") == "file" else None
        return open_store(self.settings.store or "keyring", relative_to=base)

    def client_secret(
        self, store: TokenStore, environ: Mapping[str, str] | None = None
    ) -> str | None:
        env = os.environ if environ is None else environ
        from_env = env.get(SECRET_ENV, "").strip()
        if from_env:
            return from_env
        if not self.settings.confidential:
            return None
        client_id = self.settings.client_id or ""
        secret = store.load(secret_key(self.name, client_id))
        if not secret:
            raise ConfigurationError(
                f"{self.where}: confidential: the app client has a secret but none is stored "
                f"for this profile; run `keybearer configure --profile {self.name} "
                f"--client-secret-stdin`, or set {SECRET_ENV}"
            )
        return secret

    def client(
        self,
        *,
        store: TokenStore | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> OAuthClient:
        """Build the :class:`OAuthClient` this profile describes."""
        token_store = self.store(store)
        return self.build_client(token_store, self.client_secret(token_store, environ))

    def build_client(self, store: TokenStore, client_secret: str | None) -> OAuthClient:
        """Build the client with this store and secret (no store read, no network)."""
        from keybearer._client import OAuthClient

        s = self.settings
        hosts = list(s.api_hosts)
        if s.api_url:
            hosts.append(s.api_url)
        common: dict[str, Any] = {
            "client_id": s.client_id,
            "client_secret": client_secret,
            "scopes": s.scopes,
            "redirect_uri": s.redirect_uri,
            "logout_uri": s.logout_uri,
            "send": s.send,
            "scheme": s.bearer_scheme,
            "api_hosts": hosts,
            "store": store,
            "profile": self.name,
            "token_auth": s.token_auth,
            "refresh_ahead": s.refresh_ahead,
            "timeout": s.timeout,
        }
        try:
            if s.issuer is not None:
                return OAuthClient.oidc(issuer=s.issuer, **common)
            return OAuthClient.cognito(
                user_pool_id=s.user_pool_id or "",
                domain=s.domain,
                rotate_refresh_tokens=s.rotate_refresh_tokens,
                region=s.region,
                idp_url=s.idp_url,
                jwks_url=s.jwks_url,
                issuer=s.cognito_issuer,
                **common,
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"{self.where}: {exc}") from None


def secret_key(profile: str, client_id: str) -> str:
    """The store key of a profile's client secret."""
    return f"client-secret:{profile}:{client_id}"


_memory_store: TokenStore | None = None


def open_store(spec: str, *, relative_to: Path | None = None) -> TokenStore:
    """The token store a spec names: ``keyring[:SERVICE]``, ``file:PATH`` or ``memory``.

    ``memory`` is one store for the whole process: every command of a ``keybearer``
    process (and every ``client_from_profile`` call) shares it, and it is gone
    when the process ends.
    """
    global _memory_store
    try:
        spec = _check_store_spec(spec.strip())
    except ValueError as exc:
        raise ConfigurationError(f"token store: {exc}") from None
    kind, _, rest = spec.partition(":")
    if kind == "keyring":
        from keybearer.stores.keyring import KeyringStore

        return KeyringStore(rest or "keybearer")
    if kind == "file":
        from keybearer.stores.file import FileStore

        path = Path(rest.strip()).expanduser()
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        return FileStore(path)
    if _memory_store is None:
        from keybearer.stores.memory import MemoryStore

        _memory_store = MemoryStore()
    return _memory_store


def _source_label(layer: str, key: str) -> str:
    if layer == "env":
        return _BY_KEY[key].env if key in _BY_KEY else "the environment"
    if layer == "flag":
        return "--" + key.replace("_", "-")
    return "file"


def _problem(where: str, field: str, message: str, source: str | None) -> str:
    origin = f" (set by {source})" if source and source != "file" else ""
    return f"{where}: {field}{origin}: {message}"


def resolve_profile(
    name: str | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    require_client: bool = True,
) -> ResolvedProfile:
    """Merge a profile from ``overrides`` > environment > file > defaults, and check it.

    Raises:
        ConfigurationError: naming the file, the profile and the field.
    """
    env = os.environ if environ is None else environ
    name = selected_profile_name(name, env)
    path = Path(config_path).expanduser() if config_path else default_config_path(env)
    config = read_config(path)
    return build_profile(
        name,
        path,
        config.profiles.get(name, {}),
        in_file=name in config.profiles,
        environ=env,
        overrides=overrides,
        require_client=require_client,
    )


def build_profile(
    name: str,
    path: Path,
    file_values: Mapping[str, Any],
    *,
    in_file: bool,
    environ: Mapping[str, str],
    overrides: Mapping[str, Any] | None = None,
    require_client: bool = True,
) -> ResolvedProfile:
    """Merge and check one profile whose file table is ``file_values``."""
    check_profile_name(name)
    where = f"profile {name!r} in {path}"
    env = environ

    if "client_secret" in file_values:
        raise ConfigurationError(
            f"{where}: client_secret must not be in the config file, where anyone who can "
            f"read it can use it; remove it and run `keybearer configure --profile {name} "
            f"--client-secret-stdin` (it goes to the OS keyring), or set {SECRET_ENV}"
        )
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    layers: list[tuple[Mapping[str, Any], str]] = [
        (file_values, "file"),
        (_env_layer(env), "env"),
        ({k: v for k, v in (overrides or {}).items() if v is not None}, "flag"),
    ]
    for values, label in layers:
        for key, value in values.items():
            merged[key] = value
            sources[key] = _source_label(label, key)

    try:
        settings = ProfileSettings.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(p) for p in error["loc"][:1]) or "settings"
            if error["type"] == "extra_forbidden":
                message = "is not a setting keybearer knows (see `keybearer configure --help`)"
            else:
                message = error["msg"].removeprefix("Value error, ")
            problems.append(_problem(where, field, message, sources.get(field)))
        raise ConfigurationError("; ".join(problems)) from None

    resolved = ResolvedProfile(name, path, in_file, settings, sources)
    if require_client:
        _check_complete(resolved)
    return resolved


def _check_complete(profile: ResolvedProfile) -> None:
    s, where, name = profile.settings, profile.where, profile.name
    nothing = s.user_pool_id is None and s.issuer is None and s.client_id is None
    if nothing and not profile.in_file:
        raise ConfigurationError(
            f"{where}: there is no such profile; run `keybearer configure --profile "
            f"{name}`, or set KEYBEARER_USER_POOL_ID and KEYBEARER_CLIENT_ID"
        )
    if s.user_pool_id is not None and s.issuer is not None:
        raise ConfigurationError(
            _problem(
                where,
                "issuer",
                "set either user_pool_id (Cognito) or issuer (another OpenID Connect "
                "provider), not both; cognito_issuer overrides a pool's expected issuer",
                profile.sources.get("issuer"),
            )
        )
    if s.user_pool_id is None and s.issuer is None:
        raise ConfigurationError(
            _problem(
                where,
                "user_pool_id",
                "is not set (or set issuer for another OpenID Connect provider); run "
                f"`keybearer configure --profile {name}` or set KEYBEARER_USER_POOL_ID",
                None,
            )
        )
    if s.client_id is None:
        raise ConfigurationError(
            _problem(
                where,
                "client_id",
                f"is not set; run `keybearer configure --profile {name}` or set "
                "KEYBEARER_CLIENT_ID",
                None,
            )
        )
    if s.issuer is not None:
        for setting in SETTINGS:
            if setting.cognito_only and setting.key in profile.sources:
                raise ConfigurationError(
                    _problem(
                        where,
                        setting.key,
                        "applies to Cognito user pools only, and this profile names an "
                        "OpenID Connect issuer",
                        profile.sources.get(setting.key),
                    )
                )
    elif not _CLIENT_ID.match(s.client_id):
        raise ConfigurationError(
            _problem(
                where,
                "client_id",
                "must be the app client id from the Cognito console (1-128 letters, digits "
                f"or underscores); got {s.client_id!r}",
                profile.sources.get("client_id"),
            )
        )


def client_from_profile(
    name: str | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
    store: TokenStore | None = None,
    environ: Mapping[str, str] | None = None,
) -> OAuthClient:
    """The :class:`OAuthClient` a profile describes: the one the ``keybearer`` command uses.

    Args:
        name: the profile; default ``KEYBEARER_PROFILE``, else ``"default"``.
        config_path: the config file; default ``KEYBEARER_CONFIG``, else
            ``config.toml`` in the platform's config directory.
        store: where tokens (and the client secret) live; default the profile's
            ``store`` setting or ``KEYBEARER_STORE``, else the OS keyring.
        environ: the environment to read ``KEYBEARER_*`` variables from
            (default ``os.environ``).

    Raises:
        ConfigurationError: the profile is missing or invalid; the message names
            the file, the profile and the setting.
    """
    resolved = resolve_profile(name, config_path=config_path, environ=environ)
    return resolved.client(store=store, environ=environ)


# -- writing the file --

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER = re.compile(r"^\s*\[")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}

_FILE_HEADER = (
    "# keybearer profiles: one [profiles.<name>] table each; see `keybearer configure --help`.\n"
    "# No secret belongs here: a client secret is kept in the OS keyring.\n"
)


def _toml_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        if text in ("inf", "-inf", "nan"):
            raise ValueError("infinite and NaN settings cannot be written")
        return text
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(_toml_string(v) for v in value) + "]"
    raise TypeError(f"a profile setting cannot be a {type(value).__name__}")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _table(name: str, values: Mapping[str, Any]) -> list[str]:
    order = {s.key: i for i, s in enumerate(SETTINGS)}
    keys = sorted(values, key=lambda k: (order.get(k, len(order)), k))
    lines = [f"[profiles.{_toml_key(name)}]"]
    lines += [f"{_toml_key(k)} = {_toml_value(values[k])}" for k in keys]
    return lines


def _render(profiles: Mapping[str, Mapping[str, Any]]) -> str:
    parts = [_FILE_HEADER.rstrip("\n")]
    for name, values in profiles.items():
        parts.append("\n".join(_table(name, values)))
    return "\n\n".join(parts) + "\n"


def _header_pattern(name: str) -> re.Pattern[str]:
    quoted = re.escape(name)
    return re.compile(
        rf"""^\s*\[\s*profiles\s*\.\s*(?:{quoted}|"{quoted}"|'{quoted}')\s*\]\s*(?:\#.*)?$"""
    )


def _splice(text: str, name: str, values: Mapping[str, Any] | None) -> str:
    """Replace (or append, or remove with ``None``) one profile's table, keeping the rest."""
    lines = text.splitlines()
    pattern = _header_pattern(name)
    start = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
    new = _table(name, values) if values is not None else []
    if start is None:
        if values is None:
            return text
        body = text.rstrip("\n")
        return (body + "\n\n" if body else "") + "\n".join(new) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    # Comments and blank lines just above the next table belong to that table.
    keep_from = end
    while keep_from > start + 1 and (
        not lines[keep_from - 1].strip() or lines[keep_from - 1].lstrip().startswith("#")
    ):
        keep_from -= 1
    result = lines[:start] + new + lines[keep_from:]
    return "\n".join(result).rstrip("\n") + "\n"


def write_profile(path: Path, name: str, values: Mapping[str, Any] | None) -> None:
    """Write one profile's table (``None`` removes it), keeping the file's other text.

    The table is spliced into the existing text so that comments and other
    profiles stay as they were; if the file's layout defeats that, the file is
    written afresh from its parsed content. Writes are atomic; a new file is
    created readable by its owner only.
    """
    check_profile_name(name)
    config = read_config(path)
    old = path.read_text(encoding="utf-8") if config.exists else ""
    wanted = {k: dict(v) for k, v in config.profiles.items()}
    if values is None:
        wanted.pop(name, None)
    else:
        wanted[name] = dict(values)
    text = _splice(old, name, values) if old.strip() else _render(wanted)
    try:
        ok = _profiles_of(_toml_loads(text), path) == wanted
    except (ConfigurationError, _toml_error()):
        ok = False
    if not ok:
        text = _render(wanted)
    _atomic_write(path, text)


def _atomic_write(path: Path, text: str) -> None:
    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the keybearer config file {path}: {exc.strerror or exc}"
        ) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ConfigurationError(
                f"cannot write the keybearer config file {path}: {exc.strerror or exc}"
            ) from exc
        raise
