"""A bounded memory of tokens a verifier has already accepted.

An API sees the same bearer token on every request of a session. Once a token
has passed the signature, issuer and time checks, its claims are kept here,
keyed by the exact token string, until its ``exp`` (never past it, leeway or
not) or until the key set it was checked against is replaced, whichever comes
first. A later call with the same string skips decoding and the RSA/ECDSA
verify; the per-call checks (token kind, audience, nonce, scopes) still run.

Bounded: at most ``size`` entries; when full, the oldest entry makes room.
Only tokens that verified get in, so a flood of forgeries cannot evict
anything, and a different spelling of a token is a different key that must
verify on its own. Reads take no lock (a dict lookup is atomic in CPython);
writes take one. The entries are never shown: the object's ``repr`` gives only
the count.
"""

from __future__ import annotations

import threading
from typing import Any


class Accepted:
    """One accepted token's claims, until when they may be reused, and what checked them."""

    __slots__ = ("claims", "keys", "kid", "until")

    def __init__(self, claims: dict[str, Any], until: float, kid: str, keys: object) -> None:
        self.claims = claims
        self.until = until
        self.kid = kid
        self.keys = keys


class AcceptedTokens:
    """Claims of accepted tokens by exact token string; see the module docstring."""

    __slots__ = ("_entries", "_lock", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[str, Accepted] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AcceptedTokens({len(self._entries)} of {self.size})"

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now: float) -> Accepted | None:
        """The entry for ``token`` if it is still before its ``exp``; never blocks."""
        entry = self._entries.get(token)
        if entry is not None and now < entry.until:
            return entry
        return None

    def put(self, token: str, entry: Accepted) -> None:
        """Remember ``entry`` for ``token``, dropping the oldest entry when full."""
        if self.size <= 0:
            return
        with self._lock:
            entries = self._entries
            entries.pop(token, None)
            while len(entries) >= self.size:
                del entries[next(iter(entries))]
            entries[token] = entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
