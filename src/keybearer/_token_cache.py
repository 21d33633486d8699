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
from typing import Any

from keybearer._tokens import TokenSet
from keybearer.errors import KeyringUnavailableError, StoreError
from keybearer.stores._base import TokenStore

logger = logging.getLogger("keybearer")


class TokenCache:
    """The current tokens of one store key, loaded from the store at most once."""

    def __init__(self, store: TokenStore, key: str) -> None:
        self.store = store
        self.key = key
        self.tokens: TokenSet | None = None
        """The cached tokens; read freely, replace only through :meth:`put`."""
        self.loaded = False
        self.dead: TokenSet | None = None
        """Tokens whose refresh token the provider refused: asking again is pointless."""
        self.unreadable: StoreError | None = None
        """Why the last read of the store failed, if it did (shown by LoginRequiredError)."""
        self.rejected_after_refresh: TokenSet | None = None
        """Fresh tokens the API still refused: a 401 with them is not worth a refresh."""
        self.refresh_lock = threading.Lock()
        self.file_lock: Any = None
        """The cross-process refresh lock (a filelock.FileLock), made on first use."""
        self._load_lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def load(self) -> TokenSet | None:
        """The tokens, reading the store on first use only.

        A store that cannot be read (a locked keyring, a D-Bus hiccup) means
        "signed out" for now, with a warning; the next call reads it again. A
        store that does not exist at all (no keyring backend) still raises.
        """
        if self.loaded:
            return self.tokens
        with self._load_lock:
            if not self.loaded:
                try:
                    raw = self.store.load(self.key)
                except KeyringUnavailableError:
                    raise
                except StoreError as exc:
                    self.unreadable = exc
                    logger.warning(
                        "treating %s as signed out: the token store could not be read: %s",
                        self.key,
                        exc,
                    )
                    return None
                self.unreadable = None
                tokens = None
                if raw is not None:
                    try:
                        tokens = TokenSet.from_json(raw)
                    except StoreError as exc:
                        # A damaged entry means "signed out", never a crash or half a session.
                        logger.warning("ignoring the stored tokens for %s: %s", self.key, exc)
                self.tokens = tokens
                self.loaded = True
        return self.tokens

    def put(self, tokens: TokenSet) -> bool:
        """Make ``tokens`` current, in memory first, then in the store.

        Returns False when the store refused them: the session still works in
        this process and the warning says the tokens were not persisted.
        """
        self.tokens = tokens
        self.loaded = True
        self.dead = None
        try:
            self.store.save(self.key, tokens.to_json())
        except StoreError as exc:
            logger.warning(
                "tokens for %s are in memory only; the store did not save them: %s", self.key, exc
            )
            return False
        return True

    def end(self, tokens: TokenSet) -> TokenSet:
        """Mark ``tokens`` as a session the provider ended (its refresh token was refused).

        The marked copy replaces them in memory and, if the store takes it, in
        the store, so that other processes see the end without asking the
        provider again. The tokens themselves are kept, never wiped.
        """
        ended = tokens.model_copy(update={"ended": True})
        self.tokens = ended
        self.dead = ended
        try:
            self.store.save(self.key, ended.to_json())
        except StoreError as exc:
            logger.warning("could not record in the store that %s has ended: %s", self.key, exc)
        return ended

    def peek_store(self) -> TokenSet | None:
        """What the store holds now, without making it current (None if unreadable)."""
        try:
            raw = self.store.load(self.key)
            return TokenSet.from_json(raw) if raw is not None else None
        except StoreError as exc:
            logger.warning("could not re-read the stored tokens for %s: %s", self.key, exc)
            return None

    def adopt(self, tokens: TokenSet) -> None:
        """Make tokens another process stored current here, without saving them again."""
        self.tokens = tokens
        self.loaded = True
        self.dead = None

    def clear(self) -> None:
        """Forget the tokens, in memory and in the store."""
        self.tokens = None
        self.loaded = True
        self.dead = None
        self.store.delete(self.key)

    def loop_lock(self) -> asyncio.Lock:
        """The asyncio lock for the running loop (asyncio locks belong to one loop)."""
        loop = asyncio.get_running_loop()
        lock = self._loop_locks.get(loop)
        if lock is None:
            with self._load_lock:
                lock = self._loop_locks.setdefault(loop, asyncio.Lock())
        return lock


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
