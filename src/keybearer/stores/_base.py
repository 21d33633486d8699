"""The one small protocol every token store speaks."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


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
class LockingStore(TokenStore, Protocol):
    """A store shared between processes, which names a lock file per key.

    keybearer holds that lock across a refresh and re-reads the store once it
    has it, so that processes sharing a session refresh it once, not once each
    (with refresh-token rotation, twice would end the session).
    """

    def lock_path(self, key: str) -> str: ...


# [m2m] begin: a store that brings its own cross-process lock (RedisStore).
class ProcessLock(Protocol):
    """A lock shared by processes, with a lease or an owner check of its own."""

    def acquire(self, timeout: float) -> bool:
        """Take it within ``timeout`` seconds; False when that failed (go on without it)."""
        ...

    def release(self) -> None:
        """Let go of it if held."""
        ...

    async def aacquire(self, timeout: float) -> bool:
        """Async :meth:`acquire`, not blocking the event loop."""
        ...

    async def arelease(self) -> None:
        """Async :meth:`release`."""
        ...


@runtime_checkable
class ProcessLockingStore(TokenStore, Protocol):
    """A store shared between processes that provides the lock for a key itself.

    keybearer holds that lock across every token request for the key and
    re-reads the store under it, as for :class:`LockingStore`.
    """

    def process_lock(self, key: str) -> ProcessLock: ...


# [m2m] end
