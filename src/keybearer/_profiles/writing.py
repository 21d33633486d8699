"""Writing the profiles file with tomlkit, which keeps a person's comments and layout.

Only the table of the profile being changed is touched: keys that stay keep
their comments and order, removed keys go, new keys are added in the order
:data:`~keybearer._profiles.settings.SETTINGS` lists them. The write is atomic
and a new file is readable by its owner only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Comment, Table, Whitespace

from keybearer._io.files import atomic_write
from keybearer._profiles.files import profiles_of, read_config, toml_loads
from keybearer._profiles.settings import SETTINGS, check_profile_name
from keybearer.errors import ConfigurationError

__all__ = ["write_profile"]

_FILE_HEADER = (
    "keybearer profiles: one [profiles.<name>] table each; see `keybearer configure --help`.",
    "No secret belongs here: a client secret is kept in the OS keyring.",
)
_ORDER = {s.key: i for i, s in enumerate(SETTINGS)}


def _item(value: Any) -> Any:
    """The TOML value for a setting; TypeError/ValueError for what a profile cannot hold."""
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("infinite and NaN settings cannot be written")
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"a profile setting cannot be a {type(value).__name__}")


def _update_table(table: Table, values: Mapping[str, Any]) -> None:
    """Make ``table`` hold exactly ``values``, leaving unchanged keys (and comments) alone.

    New keys go after the table's last setting, before the comments and blank
    lines that end it (tomlkit files those under this table, though they
    introduce what follows).
    """
    for key in [k for k in table if k not in values]:
        del table[key]
    body = table.value.body
    trailing: list[Comment | Whitespace] = []
    while body and body[-1][0] is None:
        item = body.pop()[1]
        if isinstance(item, (Comment, Whitespace)):  # not the Null a removed key leaves
            trailing.insert(0, item)
    for key in sorted(values, key=lambda k: (_ORDER.get(k, len(_ORDER)), k)):
        value = _item(values[key])
        if key not in table or table[key] != value:
            table[key] = value
    for kept in trailing:
        table.add(kept)


def _new_document() -> tomlkit.TOMLDocument:
    document = tomlkit.document()
    for line in _FILE_HEADER:
        document.add(tomlkit.comment(line))
    document.add(tomlkit.nl())
    return document


def render(text: str, name: str, values: Mapping[str, Any] | None) -> str:
    """``text`` with profile ``name``'s table set to ``values`` (``None``: removed)."""
    document = tomlkit.parse(text) if text.strip() else _new_document()
    profiles = document.get("profiles")
    if profiles is None:
        if values is None:
            return text
        profiles = tomlkit.table(is_super_table=True)
        document["profiles"] = profiles
    if values is None:
        if name in profiles:
            del profiles[name]
        return document.as_string()
    table = profiles.get(name)
    if not isinstance(table, Table):
        table = tomlkit.table()
        profiles[name] = table
    _update_table(table, values)
    return document.as_string()


def write_profile(path: Path, name: str, values: Mapping[str, Any] | None) -> None:
    """Write one profile's table (``None`` removes it), keeping the file's other text.

    Raises:
        ConfigurationError: the file cannot be read, parsed or written.
    """
    check_profile_name(name)
    config = read_config(path)
    old = path.read_text(encoding="utf-8") if config.exists else ""
    wanted = {k: dict(v) for k, v in config.profiles.items()}
    if values is None:
        wanted.pop(name, None)
    else:
        wanted[name] = dict(values)
    text = render(old, name, values)
    # tomlkit edits in place; what it wrote must read back as exactly what was meant.
    if profiles_of(toml_loads(text), path) != wanted:
        raise ConfigurationError(
            f"cannot update {path} without changing another profile; edit it by hand"
        )
    _write(path, text)


def _write(path: Path, text: str) -> None:
    """Atomically, keeping an existing file's mode; a new one is 0600 in a 0700 directory."""
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
        atomic_write(path, text, mode=mode)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the keybearer config file {path}: {exc.strerror or exc}"
        ) from exc
