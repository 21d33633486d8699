"""A token store in one JSON file, protected only by its file permissions."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from keybearer._chains import detached
from keybearer._io.files import atomic_write
from keybearer.errors import StoreError

__all__ = ["FileStore"]

_FILE_MODE = 0o600
_DIR_MODE = 0o700

# One lock per file, shared by every FileStore in the process that points at
# it, so two instances cannot interleave their read-modify-write cycles.
_path_locks: dict[Path, threading.Lock] = {}
_path_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _path_locks_guard:
        return _path_locks.setdefault(path, threading.Lock())


class FileStore:
    """Keep tokens in a plain-text JSON file that only its owner may read.

    The file maps each key to its value and is **not encrypted**: anyone who can
    read it (the same user, root, a backup, a synced folder) can use the tokens.
    Choose it explicitly where no OS keyring exists and file permissions are
    protection enough, e.g. a headless server or a container volume.

    The file is created with mode ``0600`` and, when missing, its parent
    directory with mode ``0700`` (POSIX; on Windows the user profile's ACLs
    apply). Every write replaces the whole file atomically: a crash leaves the
    old file or the new one, never a mix. Writes from threads of one process are
    serialized; concurrent writers in *different* processes can lose each
    other's updates to *other* keys, so give each process its own file or hold a
    cross-process lock around ``save``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # Resolved once, so the identity and every read and write name the same
        # file even if the working directory changes later.
        self._path = Path(path).expanduser().resolve()
        self._lock = _lock_for(self._path)

    @property
    def path(self) -> Path:
        """The absolute path of the token file."""
        return self._path

    def lock_path(self, key: str) -> str:
        """The lock file that serializes refreshes across processes sharing this file."""
        return f"{self._path}.lock"

    @property
    def identity(self) -> str:
        """``file:<resolved absolute path>``."""
        return f"file:{self._path}"

    def load(self, key: str) -> str | None:
        """The value saved under ``key``, or ``None`` when there is none.

        Raises:
            StoreError: the file exists but cannot be read or is not a token file.
        """
        with self._lock:
            return self._read().get(key)

    def save(self, key: str, value: str) -> None:
        """Save ``value`` under ``key``, keeping every other key in the file.

        Raises:
            StoreError: the file cannot be read, or the new file cannot be written.
        """
        with self._lock:
            entries = self._read()
            entries[key] = value
            self._write(entries)

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key (or from a missing file) is not an error."""
        with self._lock:
            entries = self._read()
            if entries.pop(key, None) is not None:
                self._write(entries)

    def __repr__(self) -> str:
        return f"FileStore({str(self._path)!r})"

    @detached()  # a decode error holds the file's text: the tokens
    def _read(self) -> dict[str, str]:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(
                f"cannot read token file {self._path}: {exc.strerror or type(exc).__name__}"
            ) from exc
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError:
            # `from None`: the decode errors carry the file's text (`.doc`,
            # `.object`), which holds tokens and must not travel with the error.
            raise StoreError(
                f"token file {self._path} is corrupt (not UTF-8 JSON); delete it and log in again"
            ) from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise StoreError(
                f"token file {self._path} is corrupt (not a JSON object of strings); "
                "delete it and log in again"
            )
        return data

    def _write(self, entries: dict[str, str]) -> None:
        try:
            atomic_write(
                self._path,
                json.dumps(entries, indent=2, sort_keys=True),
                mode=_FILE_MODE,
                dir_mode=_DIR_MODE,
            )
        except OSError as exc:
            raise StoreError(
                f"cannot write token file {self._path}: {exc.strerror or type(exc).__name__}"
            ) from None
