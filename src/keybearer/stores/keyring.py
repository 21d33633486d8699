"""The default token store: the OS keyring, through the ``keyring`` package.

``keyring`` is imported on first use, not here: importing it scans installed
backends, and ``import keybearer`` must stay fast.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING

from keybearer._chains import detached
from keybearer._locks import private_lock_dir
from keybearer.errors import ConfigurationError, KeyringUnavailableError, StoreError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

__all__ = ["KeyringStore"]

logger = logging.getLogger("keybearer")

# A head entry holding a manifest starts with this; a stored token set is JSON
# and starts with "{", so the two cannot be confused.
_SPLIT_MARKER = "keybearer-split:v1:"
# Windows Credential Manager refuses blobs over 2,560 bytes of UTF-16 (1,280
# units); 1,200 leaves headroom for backends that add bytes of their own.
_WINDOWS_MAX_ENTRY_CHARS = 1200
# The manifest itself (marker, count, 64 hex digits) must fit in one entry.
_MIN_ENTRY_CHARS = 128
_MAX_CHUNKS = 10_000
# A reader that meets a half-written split value re-reads the head this often,
# in case another process was mid-save and has since finished.
_LOAD_ATTEMPTS = 3

_op_locks: dict[str, threading.Lock] = {}
_op_locks_guard = threading.Lock()
_backend_serials: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
_serials = itertools.count(1)


class KeyringStore:
    """Keep tokens in the OS keyring: the default store.

    The keyring is macOS Keychain, Windows Credential Manager, or the Secret
    Service (GNOME Keyring, KWallet) on Linux, whichever ``keyring`` picks (or
    ``PYTHON_KEYRING_BACKEND`` names). Each key is one entry's user name under
    ``service``.

    Args:
        service: the keyring service name entries are filed under.
        backend: a ``keyring`` backend instance to use instead of
            ``keyring.get_keyring()`` (tests, or an explicit choice).
        max_entry_chars: the longest value one entry may hold, in UTF-16 code
            units (one per character except for rare characters outside the
            Basic Multilingual Plane). Longer values are split over several
            entries. ``None`` means 1,200 on Windows Credential Manager, whose
            limit is 1,280, and no limit elsewhere.

    The backend is looked up and checked on first use, not here. If it is
    ``keyring``'s fail or null backend (no keyring on this machine) every
    method raises :class:`~keybearer.errors.KeyringUnavailableError`, whose
    message names the explicit alternatives.

    Keys ending in ``#<number>`` are reserved: a split value's chunks live there.
    """

    def __init__(
        self,
        service: str = "keybearer",
        *,
        backend: KeyringBackend | None = None,
        max_entry_chars: int | None = None,
    ) -> None:
        if not service:
            raise ConfigurationError("KeyringStore needs a non-empty service name")
        if max_entry_chars is not None and max_entry_chars < _MIN_ENTRY_CHARS:
            raise ConfigurationError(
                f"max_entry_chars must be at least {_MIN_ENTRY_CHARS} "
                "so that a split value's manifest fits in one entry"
            )
        self._service = service
        self._explicit_backend = backend
        self._max_entry_chars = max_entry_chars
        self._identity = f"keyring:{service}"
        if backend is not None:
            # A backend passed in is a different place from the default keyring
            # (often a test's temporary one), so it must not share its cache.
            self._identity += f"@{_backend_serial(backend)}"
        self._resolve_lock = threading.Lock()
        self._resolved: tuple[KeyringBackend, int | None] | None = None
        self._unavailable: str | None = None
        with _op_locks_guard:
            self._op_lock = _op_locks.setdefault(self._identity, threading.Lock())

    @property
    def identity(self) -> str:
        """``keyring:<service>`` (with a suffix when ``backend`` was passed in)."""
        return self._identity

    @property
    def service(self) -> str:
        """The keyring service name entries are filed under."""
        return self._service

    def load(self, key: str) -> str | None:
        """The value saved under ``key``, or ``None`` when there is none.

        A split value that is incomplete or fails its digest check (a save that
        was interrupted) also loads as ``None``, with a warning logged.

        Raises:
            KeyringUnavailableError: there is no usable keyring backend.
            StoreError: the backend failed.
        """
        backend, _ = self._resolve()
        with self._op_lock:
            head = self._get(backend, key)
            problem = ""
            for _ in range(_LOAD_ATTEMPTS):
                if head is None or not head.startswith(_SPLIT_MARKER):
                    return head
                value, problem = self._join(backend, key, head)
                if value is not None:
                    return value
                again = self._get(backend, key)
                if again == head:
                    break
                head = again
            logger.warning(
                "Ignoring the split value of key %r in keyring service %r: %s. "
                "It was probably half-written; a new login will replace it.",
                key,
                self._service,
                problem,
            )
            return None

    def save(self, key: str, value: str) -> None:
        """Save ``value`` under ``key``, splitting it if it is too long for one entry.

        Chunks are written before the head entry that names them, so an
        interrupted save leaves either the old value or one that fails its
        digest check and loads as ``None``; never a mix of two values.

        Raises:
            KeyringUnavailableError: there is no usable keyring backend.
            StoreError: the backend failed.
        """
        backend, limit = self._resolve()
        with self._op_lock:
            old_count = _chunk_count(self._get(backend, key))
            if value.startswith(_SPLIT_MARKER) or (limit is not None and _units(value) > limit):
                # A raw value that looks like a manifest goes through the split
                # path too, so that load can never misread it.
                chunks = _split(value, limit)
                for index, chunk in enumerate(chunks, 1):
                    self._set(backend, _chunk_key(key, index), chunk)
                self._set(backend, key, _manifest(value, len(chunks)))
                new_count = len(chunks)
            else:
                self._set(backend, key, value)
                new_count = 0
            self._remove_chunks(backend, key, first=new_count + 1, known=old_count)

    def delete(self, key: str) -> None:
        """Remove ``key`` and any chunks of it; removing a missing key is not an error.

        Raises:
            KeyringUnavailableError: there is no usable keyring backend.
            StoreError: the backend failed.
        """
        backend, _ = self._resolve()
        with self._op_lock:
            head = self._get(backend, key)
            if head is not None:
                self._remove(backend, key)
            self._remove_chunks(backend, key, first=1, known=_chunk_count(head))

    def __repr__(self) -> str:
        return f"KeyringStore(service={self._service!r})"

    def lock_path(self, key: str) -> str:
        """A lock file, private to this user, that serializes refreshes across processes.

        Keyrings have no locks of their own; a file stands in for one, in a
        folder only this user can enter (``$XDG_RUNTIME_DIR/keybearer``, else
        the user state directory), created 0700 and checked (owner, mode, not
        a symlink) each time a lock path is asked for.

        Raises:
            StoreError: that folder is a symlink, another user's, or open to others.
        """
        name = hashlib.sha256(f"{self._identity}\0{key}".encode()).hexdigest()[:32]
        return str(private_lock_dir() / f"{name}.lock")

    def _resolve(self) -> tuple[KeyringBackend, int | None]:
        with self._resolve_lock:
            if self._resolved is None and self._unavailable is None:
                backend = self._explicit_backend
                if backend is None:
                    import keyring  # lazy: importing it scans backends (module docstring)

                    try:
                        backend = keyring.get_keyring()
                    except Exception as exc:
                        # A PYTHON_KEYRING_BACKEND or keyringrc.cfg naming a
                        # backend that cannot load ends up here.
                        self._unavailable = (
                            f"keyring could not load its configured backend: "
                            f"{type(exc).__name__}: {exc}"
                        )
                    if backend is not None and not _chosen_by_user():
                        self._unavailable = _fallback_reason(backend)
                if backend is not None and self._unavailable is None:
                    self._unavailable = _unusable_reason(backend)
                    if self._unavailable is None:
                        limit = self._max_entry_chars
                        if limit is None and _is_windows_vault(backend):
                            limit = _WINDOWS_MAX_ENTRY_CHARS
                        self._resolved = (backend, limit)
            if self._resolved is None:
                raise KeyringUnavailableError(_unavailable_message(self._unavailable or ""))
            return self._resolved

    def _join(self, backend: KeyringBackend, key: str, head: str) -> tuple[str | None, str]:
        parsed = _parse_manifest(head)
        if parsed is None:
            return None, "its manifest is malformed"
        count, digest = parsed
        chunks = []
        for index in range(1, count + 1):
            chunk = self._get(backend, _chunk_key(key, index))
            if chunk is None:
                return None, f"chunk {index} of {count} is missing"
            chunks.append(chunk)
        value = "".join(chunks)
        if _digest(value) != digest:
            return None, f"its {count} chunks do not match the manifest's digest"
        return value, ""

    def _remove_chunks(self, backend: KeyringBackend, key: str, *, first: int, known: int) -> None:
        for index in range(first, known + 1):
            self._remove(backend, _chunk_key(key, index))
        # Sweep on past the chunks the old head named: a save interrupted
        # before its first head write leaves chunks that no head names.
        index = max(first, known + 1)
        while self._get(backend, _chunk_key(key, index)) is not None:
            self._remove(backend, _chunk_key(key, index))
            index += 1

    @detached()
    def _get(self, backend: KeyringBackend, name: str) -> str | None:
        try:
            return backend.get_password(self._service, name)
        except Exception as exc:
            raise self._error(backend, "read", name, exc) from None

    @detached()
    def _set(self, backend: KeyringBackend, name: str, text: str) -> None:
        try:
            backend.set_password(self._service, name, text)
        except Exception as exc:
            raise self._error(backend, "write", name, exc) from None

    @detached()
    def _remove(self, backend: KeyringBackend, name: str) -> None:
        from keyring.errors import PasswordDeleteError  # lazy: see the module docstring

        try:
            backend.delete_password(self._service, name)
        except PasswordDeleteError as exc:
            # Backends raise this for an entry that does not exist (the state
            # delete is after), but also for a refusal: a cancelled KWallet
            # prompt, a keychain error. Only a read can tell them apart.
            if self._get(backend, name) is not None:
                raise self._error(backend, "delete", name, exc) from None
        except Exception as exc:
            raise self._error(backend, "delete", name, exc) from None

    def _error(self, backend: KeyringBackend, verb: str, name: str, exc: Exception) -> StoreError:
        from keyring.errors import NoKeyringError  # lazy: see the module docstring

        if isinstance(exc, NoKeyringError):
            return KeyringUnavailableError(
                _unavailable_message(f"{_backend_name(backend)} reports no keyring")
            )
        # Only the exception's type: a backend's own message could quote what
        # it was given or what it holds, so the original is not chained either.
        return StoreError(
            f"keyring backend {_backend_name(backend)} could not {verb} key {name!r} "
            f"in service {self._service!r} ({type(exc).__name__})"
        )


def _unavailable_message(reason: str) -> str:
    return (
        f"No OS keyring backend is available to store tokens ({reason}). "
        "Choose where tokens live explicitly: keybearer.FileStore(path) keeps them in a "
        "plain-text file only your user can read (mode 0600); keybearer.MemoryStore() "
        "keeps them only for this process, so you log in again next time. "
        "Or make a keyring usable: run the desktop's secret service (GNOME Keyring, "
        "KWallet, macOS Keychain, Windows Credential Manager), or name a backend in "
        "PYTHON_KEYRING_BACKEND."
    )


def _chosen_by_user() -> bool:
    """Whether the user named a backend (environment or keyringrc.cfg)."""
    from keyring import core  # lazy: see the module docstring

    return bool(os.environ.get("PYTHON_KEYRING_BACKEND")) or core.load_config() is not None


def _fallback_reason(backend: KeyringBackend) -> str | None:
    """Refuse a fallback backend keyring picked on its own (e.g. a plain-text file).

    keyring calls backends with a priority below 1 "not recommended"; when it
    lands on one because nothing better exists, using it would be exactly the
    silent plain-text fallback tokens must never get. Naming it explicitly
    (PYTHON_KEYRING_BACKEND, keyringrc.cfg, or ``backend=``) is fine.
    """
    from keyring.backends import chainer  # lazy: see the module docstring

    if isinstance(backend, chainer.ChainerBackend):
        return None
    try:
        priority = float(getattr(type(backend), "priority", 0))
    except Exception:
        return None  # _unusable_reason reports it
    if priority < 1:
        return (
            f"the only backend keyring found is {_backend_name(backend)}, which keyring "
            "itself does not recommend (it may keep secrets in plain text); name it in "
            "PYTHON_KEYRING_BACKEND to use it anyway"
        )
    return None


def _unusable_reason(backend: KeyringBackend) -> str | None:
    from keyring.backends import chainer, fail, null  # lazy: see the module docstring

    name = _backend_name(backend)
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return f"keyring selected {name}"
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return f"keyring selected {name} with no backends to chain"
    try:
        # keyring's convention: a backend unfit for this machine raises from
        # `priority` (e.g. Secret Service without a D-Bus session).
        getattr(type(backend), "priority", None)
    except Exception as exc:
        return f"{name} is not usable here: {exc}"
    return None


def _is_windows_vault(backend: KeyringBackend) -> bool:
    from keyring.backends import chainer  # lazy: see the module docstring

    candidates: list[object] = [backend]
    if isinstance(backend, chainer.ChainerBackend):
        candidates.extend(backend.backends)
    # Matched by name so that Linux and macOS never import the Windows module.
    return any(
        cls.__name__ == "WinVaultKeyring" and cls.__module__ == "keyring.backends.Windows"
        for candidate in candidates
        for cls in type(candidate).__mro__
    )


def _backend_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _backend_serial(backend: object) -> int:
    # Keyed by the backend object, weakly: stores sharing one backend share an
    # identity, and a new backend never inherits a collected one's serial.
    try:
        serial = _backend_serials.get(backend)
        if serial is None:
            serial = _backend_serials[backend] = next(_serials)
        return serial
    except TypeError:  # not hashable or not weak-referenceable
        return next(_serials)


def _chunk_key(key: str, index: int) -> str:
    return f"{key}#{index}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _manifest(value: str, count: int) -> str:
    return f"{_SPLIT_MARKER}{count}:{_digest(value)}"


def _parse_manifest(head: str) -> tuple[int, str] | None:
    count_text, _, digest = head[len(_SPLIT_MARKER) :].partition(":")
    if not (count_text.isascii() and count_text.isdigit()):
        return None
    count = int(count_text)
    if not 1 <= count <= _MAX_CHUNKS:
        return None
    if len(digest) != 64 or digest.strip("0123456789abcdef"):
        return None
    return count, digest


def _chunk_count(head: str | None) -> int:
    """How many chunks ``head`` names: 0 for a plain value or no value."""
    if head is None or not head.startswith(_SPLIT_MARKER):
        return 0
    parsed = _parse_manifest(head)
    return parsed[0] if parsed else 0


def _units(text: str) -> int:
    """Length in UTF-16 code units, which is what Windows counts."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _split(text: str, limit: int | None) -> list[str]:
    if limit is None:
        return [text]
    if text.isascii():
        return [text[i : i + limit] for i in range(0, len(text), limit)] or [text]
    chunks: list[str] = []
    start = used = 0
    for index, ch in enumerate(text):
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > limit:
            chunks.append(text[start:index])
            start, used = index, 0
        used += width
    chunks.append(text[start:])
    return chunks
