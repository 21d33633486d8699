"""Cross-process locks: the lock a store offers, and the private folder lock files live in.

A refresh (and a sign-in or logout) holds one lock per store key across
processes, so that processes sharing a session refresh it once. A store says
how to lock in one of two ways:

- it implements :class:`~keybearer.stores.ProcessLockingStore` and hands out a
  :class:`ProcessLock` of its own (a Redis lease, say);
- it implements the older :class:`~keybearer.stores.LockingStore` and names a
  lock file, which :class:`FileProcessLock` locks.

Lock files are never followed through a symlink, and the folder the keyring's
lock files live in (:func:`private_lock_dir`) is checked before any use: a
folder another local user made or can write to would let them stall or
misdirect every refresh.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from keybearer.errors import StoreError

__all__ = [
    "FileProcessLock",
    "ProcessLock",
    "acquire_process_lock",
    "acquire_thread_lock",
    "finish_even_if_cancelled",
    "private_lock_dir",
]

T = TypeVar("T")

_DIR_MODE = 0o700


@runtime_checkable
class ProcessLock(Protocol):
    """One key's lock across processes, as a store hands it out.

    ``acquire(timeout)`` waits at most ``timeout`` seconds and returns True
    once the lock is held, False if another holder kept it that long
    (keybearer then goes on without it, with a warning, rather than never
    refreshing). It raises :class:`~keybearer.errors.StoreError` when the lock
    itself is unusable. ``release()`` lets go of a lock this object holds.

    keybearer calls them from one thread at a time (its own thread lock is
    held around them), but not always the same thread: an async refresh
    polls ``acquire(0)`` in worker threads and may release from another one,
    so the lock must not be bound to the thread that took it (with redis-py:
    ``thread_local=False``). A lease-based lock should outlive a refresh:
    keybearer holds it for one provider round trip plus a store read and
    write, at most the client's ``timeout`` plus a few seconds.
    """

    def acquire(self, timeout: float) -> bool: ...

    def release(self) -> None: ...


# -- taking locks from a coroutine, without blocking its event loop --


async def finish_even_if_cancelled(work: asyncio.Future[T]) -> T:
    """Wait for ``work`` to its end even if the caller is cancelled meanwhile, then re-raise.

    A refresh the provider has answered has spent the old refresh token (with
    rotation); dropping the answer, or letting go of the locks before it is
    stored, ends the session. The wait is bounded by the request timeout.
    """
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(work)
            break
        except asyncio.CancelledError:
            if work.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


async def acquire_thread_lock(lock: threading.Lock, wait: float) -> bool:
    """Take a thread lock within ``wait`` seconds, polled so the loop keeps running meanwhile."""
    deadline = time.monotonic() + wait
    delay = 0.001
    while not lock.acquire(blocking=False):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


async def acquire_process_lock(lock: ProcessLock, wait: float) -> bool:
    """Take a process lock within ``wait`` seconds without blocking the loop.

    Each attempt (``acquire(0)``: a syscall, or a round trip for a lease) runs
    in a worker thread. A caller cancelled during an attempt lets go of what
    that attempt took, so a cancellation never leaves the lock held.
    """
    deadline = time.monotonic() + wait
    delay = 0.001
    while True:
        attempt = asyncio.ensure_future(asyncio.to_thread(lock.acquire, 0.0))
        try:
            if await asyncio.shield(attempt):
                return True
        except asyncio.CancelledError:
            attempt.add_done_callback(partial(_release_if_taken, lock))
            raise
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


def _release_if_taken(lock: ProcessLock, attempt: asyncio.Future[bool]) -> None:
    if not attempt.cancelled() and attempt.exception() is None and attempt.result():
        lock.release()


class FileProcessLock:
    """An OS file lock (``filelock``) on one path, never through a symlink.

    ``filelock`` opens the file with ``O_NOFOLLOW`` since 3.20.1 (our floor is
    past it); the check here refuses a symlink with a typed error naming the
    path, where ``filelock`` would raise a raw ``OSError``.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock: _FileLockLike | None = None

    @property
    def path(self) -> str:
        """The lock file."""
        return self._path

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True once held, False if another holder kept it.

        Raises:
            StoreError: the lock file is a symlink or cannot be opened.
        """
        lock = self._lock or self._make()
        # filelock is imported only when a lock is first taken (a refresh or a
        # sign-in): a process that only sends a cached token never needs it.
        from filelock import Timeout

        _refuse_symlink(self._path)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            return False
        except OSError as exc:
            raise StoreError(
                f"cannot open the lock file {self._path}: {exc.strerror or type(exc).__name__}"
            ) from None
        return True

    def release(self) -> None:
        """Let go of the lock (held by this object)."""
        if self._lock is not None:
            self._lock.release()

    def _make(self) -> _FileLockLike:
        from filelock import FileLock  # lazy: see acquire()

        # thread_local=False: an async caller's refresh runs in a worker thread;
        # the session's thread lock already keeps this process's threads apart.
        self._lock = FileLock(self._path, thread_local=False)
        return self._lock

    def __repr__(self) -> str:
        return f"FileProcessLock({self._path!r})"


class _FileLockLike(Protocol):
    """The part of ``filelock.FileLock`` used here (typed without importing it)."""

    def acquire(self, timeout: float) -> object: ...

    def release(self) -> None: ...


def _refuse_symlink(path: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(
            f"cannot inspect the lock file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(
            f"refusing the lock file {path}: it is a symbolic link, which keybearer never "
            "follows (someone else may have planted it); remove it"
        )


def private_lock_dir() -> Path:
    """A folder for lock files that only this user can enter, created if missing.

    ``$XDG_RUNTIME_DIR/keybearer`` when the XDG runtime directory is usable
    (private by the XDG spec, and checked here), else the user state directory
    from platformdirs (``~/.local/state/keybearer/locks`` on Linux). Never the
    shared temporary directory: there another user can create the folder first.

    Raises:
        StoreError: the folder exists but is a symlink, not a directory, owned
            by another user, or open to others; or it cannot be created.
    """
    # Lazy: only a keyring store's first lock needs it, never the per-request path.
    import platformdirs

    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and _private(Path(runtime)) is None:
        folder = Path(runtime) / "keybearer"
    else:
        folder = Path(platformdirs.user_state_dir("keybearer", appauthor=False)) / "locks"
    try:
        folder.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the lock folder {folder}: {exc.strerror or type(exc).__name__}"
        ) from None
    problem = _private(folder)
    if problem is not None:
        raise StoreError(
            f"refusing the lock folder {folder}: it {problem}; only this user may own and "
            "enter it (remove it, and keybearer makes a private one)"
        )
    return folder


def _private(folder: Path) -> str | None:
    """Why ``folder`` is not a private directory of this user, or None if it is."""
    try:
        info = folder.lstat()
    except OSError as exc:
        return f"cannot be inspected ({exc.strerror or type(exc).__name__})"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    if sys.platform == "win32":  # pragma: no cover - Windows: the profile's ACLs apply
        return None
    if info.st_uid != os.geteuid():
        return f"belongs to another user (uid {info.st_uid})"
    if info.st_mode & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(info.st_mode):o})"
    return None
