"""One in-memory token cache per store key, shared by every client in the process.

Users build a new ``OAuthClient`` per request or per notebook cell; keying the
cache by (store, key) instead of by client object keeps "read the store once"
and "one refresh at a time" true however many clients there are.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref

from keybearer._locks import FileProcessLock, ProcessLock
from keybearer._tokens import TokenSet
from keybearer.errors import KeyringUnavailableError, StoreError
from keybearer.stores._base import LockingStore, ProcessLockingStore, TokenStore

logger = logging.getLogger("keybearer")


class TokenCache:
    """The current tokens of one store key, loaded from the store at most once.

    The cache owns its state: the tokens, whether the store was read, which
    tokens the provider or the API refused, and the cross-process lock. Other
    classes read it through properties (and the ``tokens`` attribute) and change
    it only through methods.
    """

    def __init__(self, store: TokenStore, key: str) -> None:
        self._store = store
        self._key = key
        # A plain attribute, not a property: Session.fresh() reads it on every
        # request, and a property costs a third of that path (figure 7). Only
        # this class assigns it, in the methods below.
        self.tokens: TokenSet | None = None
        """The cached tokens (None before the first load, or when signed out); read-only outside."""
        self._loaded = False
        # Tokens whose refresh token the provider refused: asking again is pointless.
        self._refused: TokenSet | None = None
        # Fresh tokens the API still refused: a 401 with them is not worth a refresh.
        self._rejected_after_refresh: TokenSet | None = None
        self._unreadable: StoreError | None = None
        self._process_lock: ProcessLock | None = None
        self._process_lock_known = False
        self.refresh_lock = threading.Lock()
        """Keeps this process's threads to one refresh at a time (held by :class:`Session`)."""
        self._load_lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def store(self) -> TokenStore:
        return self._store

    @property
    def key(self) -> str:
        return self._key

    @property
    def loaded(self) -> bool:
        """Whether the store has been read (or tokens put) since the last :meth:`drop`."""
        return self._loaded

    @property
    def unreadable(self) -> StoreError | None:
        """Why the last read of the store failed, if it did (shown by LoginRequiredError)."""
        return self._unreadable

    def is_refused(self, tokens: TokenSet) -> bool:
        """Whether the provider refused these tokens' refresh token (the session ended)."""
        return tokens is self._refused or tokens.ended

    def mark_refused(self, tokens: TokenSet) -> None:
        """Remember that the provider refused ``tokens``' refresh token: the session ended.

        A copy marked ``ended`` replaces them in memory and, if the store takes
        it, in the store, so that every process (and ``keybearer whoami``) sees
        the end without asking the provider again. The tokens are kept, never
        wiped; a new sign-in replaces them.
        """
        if tokens.refresh_token is None:
            return
        ended = tokens if tokens.ended else tokens.model_copy(update={"ended": True})
        self.tokens = ended
        self._refused = ended
        try:
            self._store.save(self._key, ended.to_json())
        except StoreError as exc:
            logger.warning("could not record in the store that %s has ended: %s", self._key, exc)

    def rejected_after_refresh(self, tokens: TokenSet) -> bool:
        """Whether the API refused ``tokens`` right after they were refreshed."""
        return tokens is self._rejected_after_refresh

    def mark_rejected_after_refresh(self, tokens: TokenSet) -> None:
        """Remember that the API refused freshly refreshed ``tokens`` (wrong kind or scope)."""
        self._rejected_after_refresh = tokens

    @property
    def process_lock_known(self) -> bool:
        """Whether :meth:`process_lock` has been asked once (and so does no I/O now)."""
        return self._process_lock_known

    def process_lock(self) -> ProcessLock | None:
        """The store's cross-process lock for this key (asked for once), or None."""
        if not self._process_lock_known:
            with self._load_lock:
                if not self._process_lock_known:
                    self._process_lock = lock_for(self._store, self._key)
                    self._process_lock_known = True
        return self._process_lock

    def load(self) -> TokenSet | None:
        """The tokens, reading the store on first use only.

        A store that cannot be read (a locked keyring, a D-Bus hiccup) means
        "signed out" for now, with a warning; the next call reads it again. A
        store that does not exist at all (no keyring backend) still raises.
        """
        if self._loaded:
            return self.tokens
        with self._load_lock:
            if not self._loaded:
                try:
                    raw = self._store.load(self._key)
                except KeyringUnavailableError:
                    raise
                except StoreError as exc:
                    self._unreadable = exc
                    logger.warning(
                        "treating %s as signed out: the token store could not be read: %s",
                        self._key,
                        exc,
                    )
                    return None
                self._unreadable = None
                tokens = None
                if raw is not None:
                    try:
                        tokens = TokenSet.from_json(raw)
                    except StoreError as exc:
                        # A damaged entry means "signed out", never a crash or half a session.
                        logger.warning("ignoring the stored tokens for %s: %s", self._key, exc)
                self.tokens = tokens
                self._loaded = True
        return self.tokens

    def put(self, tokens: TokenSet) -> bool:
        """Make ``tokens`` current, in memory first, then in the store.

        Returns False when the store refused them: the session still works in
        this process and the warning says the tokens were not persisted.
        """
        self.adopt(tokens)
        try:
            self._store.save(self._key, tokens.to_json())
        except StoreError as exc:
            logger.warning(
                "tokens for %s are in memory only; the store did not save them: %s", self._key, exc
            )
            return False
        return True

    def peek_store(self) -> TokenSet | None:
        """What the store holds now, without making it current (None if unreadable)."""
        try:
            raw = self._store.load(self._key)
            return TokenSet.from_json(raw) if raw is not None else None
        except StoreError as exc:
            logger.warning("could not re-read the stored tokens for %s: %s", self._key, exc)
            return None

    def adopt(self, tokens: TokenSet) -> None:
        """Make tokens current here without saving them (another process stored them)."""
        self.tokens = tokens
        self._loaded = True
        self._refused = None

    def drop(self) -> None:
        """Forget the in-memory tokens only: the next :meth:`load` reads the store again."""
        with self._load_lock:
            self.tokens = None
            self._loaded = False
            self._refused = None

    def clear(self) -> None:
        """Forget the tokens, in memory and in the store.

        Raises:
            StoreError: the store could not delete them (they are gone from
                memory, but the next process would find them).
        """
        self.tokens = None
        self._loaded = True
        self._refused = None
        self._store.delete(self._key)

    def loop_lock(self) -> asyncio.Lock:
        """The asyncio lock for the running loop (asyncio locks belong to one loop)."""
        loop = asyncio.get_running_loop()
        lock = self._loop_locks.get(loop)
        if lock is None:
            with self._load_lock:
                lock = self._loop_locks.setdefault(loop, asyncio.Lock())
        return lock


def lock_for(store: TokenStore, key: str) -> ProcessLock | None:
    """The cross-process lock for ``key`` in ``store``, or None if it offers none."""
    if isinstance(store, ProcessLockingStore):
        return store.process_lock(key)
    if isinstance(store, LockingStore):
        return FileProcessLock(store.lock_path(key))
    return None


_caches: dict[tuple[str, str], TokenCache] = {}
_caches_lock = threading.Lock()


def cache_for(store: TokenStore, key: str) -> TokenCache:
    """The process-wide cache for ``key`` in the place ``store`` writes to."""
    ident = (store.identity, key)
    cache = _caches.get(ident)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(ident, TokenCache(store, key))
    return cache
