"""Resolving a profile: flags over the environment over the file over the defaults, checked.

Each setting has an environment variable (``KEYBEARER_<KEY>``); a value is
taken from the first layer that has it. The result, :class:`ResolvedProfile`,
remembers where each value came from so that an error can name the flag, the
variable or the file that set it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from keybearer._config import _CLIENT_ID
from keybearer._profiles.client import build_client
from keybearer._profiles.files import default_config_path, read_config, selected_profile_name
from keybearer._profiles.settings import (
    SECRET_ENV,
    SETTINGS,
    ProfileSettings,
    check_profile_name,
    secret_key,
    setting,
)
from keybearer._profiles.stores import open_store
from keybearer.errors import ConfigurationError

if TYPE_CHECKING:
    from keybearer._client import OAuthClient
    from keybearer.stores._base import TokenStore

__all__ = ["ResolvedProfile", "build_profile", "client_from_profile", "resolve_profile"]


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
        """``KEYBEARER_CLIENT_SECRET``, else the stored secret of a confidential client."""
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
        return build_client(
            self.settings,
            name=self.name,
            where=self.where,
            store=store,
            client_secret=client_secret,
        )


def _env_layer(environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for entry in SETTINGS:
        raw = environ.get(entry.env)
        # An empty variable counts as unset, as most tools treat it.
        if raw is not None and raw.strip():
            values[entry.key] = raw.strip()
    return values


def _source_label(layer: str, key: str) -> str:
    if layer == "env":
        known = setting(key)
        return known.env if known is not None else "the environment"
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
        (_env_layer(environ), "env"),
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
        for entry in SETTINGS:
            if entry.cognito_only and entry.key in profile.sources:
                raise ConfigurationError(
                    _problem(
                        where,
                        entry.key,
                        "applies to Cognito user pools only, and this profile names an "
                        "OpenID Connect issuer",
                        profile.sources.get(entry.key),
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
