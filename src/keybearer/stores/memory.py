"""A token store that lives only as long as the process."""

from __future__ import annotations

import itertools
import threading

__all__ = ["MemoryStore"]

# A counter, not id(self): ids are reused after garbage collection, and a new
# store must never inherit the token cache keyed by a dead store's identity.
_serials = itertools.count(1)


class MemoryStore:
    """Keep tokens in this process's memory only.

    Nothing touches the disk or the OS keyring: the user logs in again in every
    new process. Useful for scripts, CI jobs, containers without a keyring and
    tests. Every instance is its own place (its own ``identity``); share one
    instance to share tokens.
    """

    def __init__(self) -> None:
        self._identity = f"memory:{next(_serials)}"
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        """``memory:<n>``, unique to this instance within the process."""
        return self._identity

    def load(self, key: str) -> str | None:
        """The value saved under ``key``, or ``None`` when there is none."""
        with self._lock:
            return self._values.get(key)

    def save(self, key: str, value: str) -> None:
        """Save ``value`` under ``key``, replacing what was there."""
        with self._lock:
            self._values[key] = value

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        with self._lock:
            self._values.pop(key, None)

    def __repr__(self) -> str:
        return f"<MemoryStore {self._identity}>"
