"""Where keybearer keeps tokens between processes.

:class:`KeyringStore` (the OS keyring) is the default; :class:`FileStore` and
:class:`MemoryStore` are explicit alternatives; :class:`RedisStore` shares
tokens across a fleet of processes (``pip install 'keybearer[redis]'``). Any object that speaks the
:class:`TokenStore` protocol can stand in for them; one that also names a lock
file per key (:class:`LockingStore`), or hands out a lock of its own
(:class:`ProcessLockingStore`), keeps refreshes single across processes.
"""

from __future__ import annotations

from keybearer.stores._base import LockingStore, ProcessLock, ProcessLockingStore, TokenStore
from keybearer.stores.file import FileStore
from keybearer.stores.keyring import KeyringStore
from keybearer.stores.memory import MemoryStore
from keybearer.stores.redis import RedisLock, RedisStore

__all__ = [
    "FileStore",
    "KeyringStore",
    "LockingStore",
    "MemoryStore",
    "ProcessLock",
    "ProcessLockingStore",
    "RedisLock",
    "RedisStore",
    "TokenStore",
]
