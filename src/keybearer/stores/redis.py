"""A token store in Redis, shared by a fleet of processes, with a distributed lock.

Values are sealed with AES-GCM under a key derived (HKDF-SHA256) from the app
client's secret, so someone who can only read Redis gets nothing usable. The
lock is a Redis key with a lease (``SET NX PX``): a holder that dies frees it
when the lease runs out. Every Redis fault is survivable: a read or a write
that fails raises StoreError, which keybearer turns into "use a token of this
process's own" (with a warning), and a lock that cannot be taken lets the
caller go on alone (a warning at most once a minute).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from keybearer.errors import ConfigurationError, StoreError

if TYPE_CHECKING:
    import redis

__all__ = ["RedisLock", "RedisStore"]

logger = logging.getLogger("keybearer")

_SEAL_PREFIX = "kb1."
_HKDF_SALT = b"keybearer RedisStore v1"
_WARN_EVERY = 60.0

# Delete the lock only if it still holds our token: after the lease ran out
# another worker may own it, and a plain DEL would free its lock too.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class _Warnings:
    """One warning per kind of fault per minute, so a Redis outage is not a log flood."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warn(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < _WARN_EVERY:
                return
            self._last[kind] = now
        logger.warning(message, *args)


def _fault_name(exc: BaseException) -> str:
    """The fault's class only: a Redis error message may quote a command's arguments."""
    return type(exc).__name__


class RedisLock:
    """A lock in Redis with a lease, for one store key.

    ``acquire`` returns False when the lock is not free within ``timeout`` or
    when Redis cannot be reached: the caller then goes on without it (one
    extra token request beats a failed request). A holder that dies frees the
    lock after ``lease`` seconds at the latest.
    """

    def __init__(self, store: RedisStore, name: str, lease: float) -> None:
        self._store = store
        self.name = name
        self.lease = lease
        self._token: str | None = None

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds; False if not taken."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            taken = self._try()
            if taken is not None:
                return taken
            if time.monotonic() >= deadline:
                self._store._timed_out(self.name)
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def aacquire(self, timeout: float) -> bool:
        """Async :meth:`acquire`: Redis calls run in a worker thread, waits on the loop."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            taken = await asyncio.to_thread(self._try)
            if taken is not None:
                return taken
            if time.monotonic() >= deadline:
                self._store._timed_out(self.name)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _try(self) -> bool | None:
        """True when taken, None when held by another, False when Redis failed."""
        import redis  # lazy: the optional dependency (keybearer[redis])

        token = secrets.token_hex(16)
        try:
            taken = self._store.client.set(self.name, token, nx=True, px=int(self.lease * 1000))
        except redis.RedisError as exc:
            self._warn_fault("lock", "went on without the Redis lock %s: Redis failed (%s)", exc)
            return False
        if taken:
            self._token = token
            return True
        return None

    def release(self) -> None:
        """Let go of the lock if this object still holds it (a no-op otherwise)."""
        import redis  # lazy: see _try

        token, self._token = self._token, None
        if token is None:
            return
        try:
            self._store.client.eval(_RELEASE, 1, self.name, token)
        except redis.RedisError as exc:
            # The lease frees it in time; nothing else to do.
            self._warn_fault(
                "unlock", "could not release the Redis lock %s (%s); its lease will", exc
            )

    async def arelease(self) -> None:
        """Async :meth:`release`."""
        await asyncio.to_thread(self.release)

    def _warn_fault(self, kind: str, message: str, exc: BaseException) -> None:
        """Warn (at most every so often per ``kind``) that Redis failed on this lock.

        ``message`` takes the lock's name, then the fault's class: never its
        text, which may quote a command's arguments.
        """
        self._store._warnings.warn(kind, message, self.name, _fault_name(exc))

    @property
    def held(self) -> bool:
        """Whether this object took the lock and has not released it (the lease may be over)."""
        return self._token is not None

    def __repr__(self) -> str:
        return f"<RedisLock {self.name} lease={self.lease}s held={self.held}>"


class RedisStore:
    """Keep tokens in Redis, sealed, shared by every process that uses the same Redis.

    Build it from a URL (``RedisStore(url="redis://cache:6379/0")``) or an
    existing client (``RedisStore(client=redis.Redis(...))``); keys are
    ``prefix`` + the store key. Values are sealed with a key derived from
    ``secret``; when it is not given, the :class:`~keybearer.OAuthClient`
    the store is passed to seals with its app client secret (an app client
    without one needs ``secret=``). A value that does not open (another secret,
    tampering, garbage) counts as absent.

    With it the session takes :meth:`process_lock` around every token request
    and re-reads the store under it, so a fleet asks the provider once per
    token lifetime. Between requests the token lives in each process's memory:
    while it is fresh, sending a request costs no Redis round trip.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        prefix: str = "keybearer:",
        secret: str | None = None,
        lease: float = 40.0,
        timeout: float = 2.0,
    ) -> None:
        """
        Args:
            url: a ``redis://`` or ``rediss://`` URL; or pass ``client=``.
            client: a ``redis.Redis`` to use as it is (its own timeouts apply).
            prefix: prepended to every Redis key this store writes.
            secret: what the sealing key is derived from; default: the client secret.
            lease: seconds a lock holder may keep the lock before it frees itself;
                longer than a token request takes (the client's timeout, 30 s by default).
            timeout: socket timeout for a client made from ``url``, in seconds.
        """
        if (url is None) == (client is None):
            raise ConfigurationError("RedisStore needs exactly one of url= or client=")
        if not (0 < lease <= 3600):
            raise ConfigurationError("RedisStore lease must be between 0 and 3600 seconds")
        if url is not None:
            import redis  # lazy: the optional dependency (keybearer[redis])

            self.client: redis.Redis = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        else:
            assert client is not None
            self.client = client
        self.prefix = prefix
        self.lease = lease
        self._key: bytes | None = _derive(secret) if secret is not None else None
        self._where = _describe(self.client)
        self._warnings = _Warnings()

    @property
    def identity(self) -> str:
        """``redis:<host>:<port>/<db>|<prefix>``: where the values go, not who reads them."""
        return f"redis:{self._where}|{self.prefix}"

    @property
    def sealed(self) -> bool:
        """Whether the store has its sealing key (else ``sealed_with`` must give it one)."""
        return self._key is not None

    def sealed_with(self, secret: str | None) -> RedisStore:
        """This store, sealing with ``secret`` unless it was given one already.

        Called by :class:`~keybearer.OAuthClient` with the app client secret.
        The returned store shares the Redis client and has the same identity.
        """
        if self._key is not None:
            return self
        if secret is None:
            raise ConfigurationError(
                "RedisStore seals tokens with a key derived from the app client secret; "
                "this app client has none, so pass RedisStore(..., secret=...) "
                "(the same value in every process)"
            )
        bound = object.__new__(RedisStore)
        bound.__dict__.update(self.__dict__)
        bound._key = _derive(secret)
        return bound

    def _timed_out(self, lock_name: str) -> None:
        self._warnings.warn(
            "lock-timeout", "went on without the Redis lock %s: it is held too long", lock_name
        )

    def _name(self, key: str) -> str:
        return self.prefix + key

    def _sealing_key(self) -> bytes:
        if self._key is None:
            raise ConfigurationError(
                "this RedisStore has no sealing key: pass secret= or give it to an OAuthClient "
                "with a client secret"
            )
        return self._key

    def load(self, key: str) -> str | None:
        """The value saved under ``key``; None if absent or not sealed with this secret.

        Raises StoreError when Redis cannot be read: "unreadable" is not
        "absent", and keybearer reads a store that failed again next time.
        """
        import redis  # lazy: see __init__

        sealing_key = self._sealing_key()
        try:
            raw = self.client.get(self._name(key))
        except redis.RedisError as exc:
            raise StoreError(f"Redis could not be read ({_fault_name(exc)})") from None
        if raw is None:
            return None
        value = _open(sealing_key, key, raw)
        if value is None:
            self._warnings.warn(
                "seal",
                "ignoring the value in Redis under %s: it does not open with this client secret",
                self._name(key),
            )
        return value

    def save(self, key: str, value: str) -> None:
        """Seal ``value`` and save it under ``key`` (raises StoreError if Redis fails)."""
        import redis  # lazy: see __init__

        sealed = _seal(self._sealing_key(), key, value)
        try:
            self.client.set(self._name(key), sealed)
        except redis.RedisError as exc:
            raise StoreError(f"Redis refused the write ({_fault_name(exc)})") from None

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        import redis  # lazy: see __init__

        try:
            self.client.delete(self._name(key))
        except redis.RedisError as exc:
            raise StoreError(f"Redis refused the delete ({_fault_name(exc)})") from None

    def process_lock(self, key: str) -> RedisLock:
        """The lock that keeps token requests for ``key`` single across the fleet."""
        return RedisLock(self, self._name(key) + ":lock", self.lease)

    def __repr__(self) -> str:
        return f"<RedisStore {self.identity}>"


def _derive(secret: str) -> bytes:
    """A 256-bit AES key from the secret: HKDF-SHA256 with a fixed, versioned salt."""
    from cryptography.hazmat.primitives import hashes  # lazy: heavy, and only for this store
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=b"token store seal")
    return hkdf.derive(secret.encode("utf-8"))


def _seal(sealing_key: bytes, key: str, value: str) -> str:
    """``kb1.`` + base64url(nonce || AES-GCM(value)); the store key is the associated data,
    so a value copied under another key does not open."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # lazy: see _derive

    nonce = os.urandom(12)
    sealed = AESGCM(sealing_key).encrypt(nonce, value.encode("utf-8"), key.encode("utf-8"))
    return _SEAL_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _open(sealing_key: bytes, key: str, raw: bytes | str) -> str | None:
    from cryptography.exceptions import InvalidTag  # lazy: see _derive
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
    if not text.startswith(_SEAL_PREFIX):
        return None
    try:
        blob = base64.urlsafe_b64decode(text[len(_SEAL_PREFIX) :])
    except (binascii.Error, ValueError):
        return None
    if len(blob) < 12 + 16:
        return None
    try:
        plain = AESGCM(sealing_key).decrypt(blob[:12], blob[12:], key.encode("utf-8"))
        return plain.decode("utf-8")
    except (InvalidTag, UnicodeDecodeError):
        return None


def _describe(client: redis.Redis) -> str:
    """host:port/db of a redis-py client, for the store's identity."""
    kwargs: dict[str, Any] = client.connection_pool.connection_kwargs
    where = kwargs.get("path") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
    return f"{where}/{kwargs.get('db', 0)}"
