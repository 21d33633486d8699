"""The store factory: the token store a spec names (keyring, file or memory)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keybearer._profiles.settings import check_store_spec
from keybearer.errors import ConfigurationError
from keybearer.stores.file import FileStore
from keybearer.stores.keyring import KeyringStore
from keybearer.stores.memory import MemoryStore

if TYPE_CHECKING:
    from keybearer.stores._base import TokenStore

__all__ = ["open_store"]

_memory_store: TokenStore | None = None


def open_store(spec: str, *, relative_to: Path | None = None) -> TokenStore:
    """The token store a spec names: ``keyring[:SERVICE]``, ``file:PATH`` or ``memory``.

    ``memory`` is one store for the whole process: every command of a ``keybearer``
    process (and every ``client_from_profile`` call) shares it, and it is gone
    when the process ends. A relative ``file:`` path is taken below
    ``relative_to`` when given (the config file's directory, for a store named
    in the file).
    """
    global _memory_store
    try:
        spec = check_store_spec(spec.strip())
    except ValueError as exc:
        raise ConfigurationError(f"token store: {exc}") from None
    kind, _, rest = spec.partition(":")
    if kind == "keyring":
        return KeyringStore(rest or "keybearer")
    if kind == "file":
        path = Path(rest.strip()).expanduser()
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        return FileStore(path)
    if _memory_store is None:
        _memory_store = MemoryStore()
    return _memory_store
