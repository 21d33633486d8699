"""The small protocols every token store speaks, and the optional cross-process lock."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from keybearer._locks import ProcessLock

__all__ = ["LockingStore", "ProcessLock", "ProcessLockingStore", "TokenStore"]


@runtime_checkable
class TokenStore(Protocol):
    """Where a serialized token set lives between processes.

    A store keeps opaque strings under string keys. keybearer reads a key once
    per process and caches the tokens in memory, so a store need not be fast;
    it must not lose data: ``save`` replaces the whole value or nothing.
    ``identity`` names the place the store writes to (a keyring service, a file
    path), so that two store objects pointing at the same place share one
    in-memory token cache.
    """

    @property
    def identity(self) -> str: ...

    def load(self, key: str) -> str | None:
        """The value saved under ``key``, or ``None`` when there is none."""
        ...

    def save(self, key: str, value: str) -> None:
        """Save ``value`` under ``key``, replacing what was there."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        ...


@runtime_checkable
class ProcessLockingStore(TokenStore, Protocol):
    """A store shared between processes, which hands out its own lock per key.

    keybearer holds ``process_lock(key)`` across a refresh, a sign-in's save
    and a logout, and re-reads the store once it has it, so that processes
    sharing a session refresh it once, not once each (with refresh-token
    rotation, twice would end the session). keybearer asks once per key and
    process, then acquires and releases that object as often as it needs.
    """

    def process_lock(self, key: str) -> ProcessLock: ...


@runtime_checkable
class LockingStore(TokenStore, Protocol):
    """A store shared between processes, which names a lock file per key.

    The file form of :class:`ProcessLockingStore`: keybearer locks the file
    (never through a symlink) across a refresh, a sign-in's save and a logout,
    and re-reads the store once it has it.
    """

    def lock_path(self, key: str) -> str: ...
