"""Where the profiles file is, which profile is meant, and reading the file.

platformdirs is imported on first use (only when ``KEYBEARER_CONFIG`` is not
set), and the TOML parser is the standard library's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from keybearer._profiles.settings import (
    CONFIG_ENV,
    DEFAULT_PROFILE,
    PROFILE_ENV,
    check_profile_name,
)
from keybearer.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "ConfigFile",
    "TOMLDecodeError",
    "default_config_path",
    "profiles_of",
    "read_config",
    "selected_profile_name",
    "toml_loads",
]

TOMLDecodeError = tomllib.TOMLDecodeError


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
    # Lazy: only a run without KEYBEARER_CONFIG needs the platform's directories.
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


def toml_loads(text: str) -> dict[str, Any]:
    return cast("dict[str, Any]", tomllib.loads(text))


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
        data = toml_loads(text)
    except TOMLDecodeError as exc:
        raise ConfigurationError(
            f"the keybearer config file {path} is not valid TOML: {exc}"
        ) from None
    return ConfigFile(path, True, profiles_of(data, path))


def profiles_of(data: Mapping[str, Any], path: Path) -> dict[str, Mapping[str, Any]]:
    """The ``[profiles.<name>]`` tables of a parsed file; ConfigurationError for another shape."""
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
