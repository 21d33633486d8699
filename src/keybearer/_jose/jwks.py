"""An issuer's signing keys: download the JWKS, keep the RS256 keys, cache them.

The cache answers from memory while its copy is younger than ``ttl``. It goes
back to the network only

* when it has no copy yet (many callers at once still make one download),
* when its copy is older than ``ttl`` (one caller refreshes; the others keep
  using the old copy meanwhile, and keep using it if the refresh fails), or
* for a ``kid`` it does not know, at most once per ``refetch_interval``, so a
  flood of tokens with made-up key ids cannot make it hammer the issuer.

Every attempt, whether it succeeded or failed, counts against
``refetch_interval``. Threads share one download through a lock; asyncio tasks
share one through a per-loop lock. (A thread and a task racing on a cold cache
may make two.) The download itself is a sans-I/O flow run by ``keybearer._io.drive``,
which maps transport failures to :class:`~keybearer.errors.TransientError`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from keybearer._jose.jws import ALGORITHM, RsaKey, b64url_decode, show
from keybearer.errors import (
    KeybearerError,
    ProtocolError,
    ServiceError,
    ThrottledError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
)

if TYPE_CHECKING:
    import asyncio
    import weakref
    from typing import TypeAlias

    import httpx

    from keybearer._protocol import Flow

    _LoopLocks: TypeAlias = weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]

#: A JWKS larger than this is not a key set anyone publishes.
MAX_JWKS_BYTES = 1024 * 1024
#: Only the first this-many entries of a JWKS are looked at.
MAX_KEYS = 100


class KeySet:
    """One parsed JWKS: usable RS256 keys by kid, and why the other kids were skipped."""

    __slots__ = ("keys", "skipped")

    def __init__(self, keys: Mapping[str, RsaKey], skipped: Mapping[str, str]) -> None:
        self.keys = dict(keys)
        self.skipped = dict(skipped)

    def __repr__(self) -> str:
        return f"KeySet(keys={sorted(self.keys)}, skipped={self.skipped})"


def _b64url_uint(value: object) -> int:
    if not isinstance(value, str) or not value:
        raise ValueError("not a base64url string")
    return int.from_bytes(b64url_decode(value), "big")


def _rsa_key(kid: str, jwk: Mapping[str, Any]) -> RsaKey | str:
    """The key, or why it cannot verify an RS256 signature."""
    kty = jwk.get("kty")
    if kty != "RSA":
        return f"kty is {show(kty)}, not 'RSA'"
    alg = jwk.get("alg", ALGORITHM)
    if alg != ALGORITHM:
        return f"the key is for alg {show(alg)}, not 'RS256'"
    use = jwk.get("use", "sig")
    if use != "sig":
        return f"the key's use is {show(use)}, not 'sig'"
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return f"the key's key_ops {show(key_ops)} do not include 'verify'"
    try:
        return RsaKey(kid, _b64url_uint(jwk.get("n")), _b64url_uint(jwk.get("e")))
    except (ValueError, TypeError):
        return "n and e are not a valid RSA public key"


def parse_jwks(document: object) -> KeySet:
    """The RS256 keys of a JWKS document (RFC 7517 §5); ``ProtocolError`` if it is none."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ProtocolError('the JWKS is not a JSON object with a "keys" list')
    keys: dict[str, RsaKey] = {}
    skipped: dict[str, str] = {}
    for jwk in document["keys"][:MAX_KEYS]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys:
            continue  # no token can name it, or the first key with this kid wins
        found = _rsa_key(kid, jwk)
        if isinstance(found, RsaKey):
            keys[kid] = found
            skipped.pop(kid, None)
        else:
            skipped.setdefault(kid, found)
    return KeySet(keys, skipped)


def keyset_from_response(response: httpx.Response, url: str) -> KeySet:
    """Parse the JWKS endpoint's answer, or raise the keybearer error that fits it."""
    status = response.status_code
    if status == 429:
        retry = response.headers.get("retry-after")
        try:
            retry_after = max(0.0, float(retry)) if retry is not None else None
        except ValueError:
            retry_after = None
        raise ThrottledError(
            f"the JWKS endpoint {url} is throttling this client (HTTP 429)",
            status_code=status,
            retry_after=retry_after,
        )
    if status >= 500:
        raise ServiceError(
            f"the JWKS endpoint {url} failed on its side (HTTP {status})", status_code=status
        )
    if status != 200:
        raise ProtocolError(
            f"the JWKS endpoint {url} answered HTTP {status}; are the user pool id, "
            "issuer and jwks_url right?",
            status_code=status,
        )
    if len(response.content) > MAX_JWKS_BYTES:
        raise ProtocolError(
            f"the JWKS from {url} is {len(response.content)} bytes, far larger than a key set",
            status_code=status,
        )
    try:
        document = json.loads(response.content)
    except (ValueError, RecursionError):
        raise ProtocolError(f"the JWKS from {url} is not JSON", status_code=status) from None
    try:
        return parse_jwks(document)
    except ProtocolError as exc:
        raise ProtocolError(f"{exc.message} (from {url})", status_code=status) from None


def jwks_flow(url: str, timeout: httpx.Timeout) -> Flow[KeySet]:
    """Download and parse a JWKS (sans-I/O: yields the request, gets the response)."""
    import httpx

    response = yield httpx.Request(
        "GET",
        url,
        headers={"Accept": "application/json"},
        extensions={"timeout": timeout.as_dict()},
    )
    return keyset_from_response(response, url)


def _fresh(exc: KeybearerError) -> KeybearerError:
    """A copy of ``exc`` without its traceback, to store or to raise again."""
    import copy

    fresh = copy.copy(exc)
    fresh.__cause__ = fresh.__context__ = fresh.__traceback__ = None
    return fresh


class _Snapshot:
    __slots__ = ("fetched_at", "keyset")

    def __init__(self, keyset: KeySet, fetched_at: float) -> None:
        self.keyset = keyset
        self.fetched_at = fetched_at


class _Stale:
    """A key from a copy older than ``ttl``: use it, after trying to refresh the copy."""

    __slots__ = ("key",)

    def __init__(self, key: RsaKey) -> None:
        self.key = key


class JwksCache:
    """The signing keys published at ``url``, cached as the module docstring says.

    ``clock`` gives seconds (``time.time`` by default, as for ``exp``); a clock
    that jumps backwards never blocks a download. ``http`` / ``async_http`` are
    clients to download with (their timeout applies); without one, a short-lived
    client with ``timeout`` is made for each download, which happens rarely.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        refetch_interval: float,
        clock: Callable[[], float],
        timeout: float,
        http: httpx.Client | None = None,
        async_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.refetch_interval = refetch_interval
        self._clock = clock
        self._timeout = timeout
        self._http = http
        self._async_http = async_http
        self._snapshot: _Snapshot | None = None
        self._attempted_at: float | None = None
        self._last_error: KeybearerError | None = None
        self._generation = 0  # bumped by every finished download, good or bad
        self._lock = threading.Lock()  # guards the fields above; never held across I/O
        self._sync_download = threading.Lock()
        # One asyncio.Lock per event loop, made on first async use.
        self._async_downloads: _LoopLocks | None = None

    def __repr__(self) -> str:
        snapshot = self._snapshot
        kids = sorted(snapshot.keyset.keys) if snapshot else None
        return f"JwksCache(url={self.url!r}, kids={kids})"

    # -- the hot path -------------------------------------------------------------

    def cached(self, kid: str, now: float) -> RsaKey | None:
        """The key for ``kid`` if a fresh copy of the JWKS has it; never blocks."""
        snapshot = self._snapshot
        if snapshot is not None and now - snapshot.fetched_at < self.ttl:
            return snapshot.keyset.keys.get(kid)
        return None

    # -- the slow paths ---------------------------------------------------------

    def key(self, kid: str) -> RsaKey:
        """The key for ``kid``, downloading the JWKS if the rules allow (sync)."""
        plan = self._plan(kid, may_download=True)
        if isinstance(plan, RsaKey):
            return plan
        if isinstance(plan, _Stale):
            try:
                self._store(self._download_sync)
            except KeybearerError as exc:
                self._keep_stale(exc)
            return self._settle(kid)
        with self._sync_download:
            if self._generation == plan:  # nobody downloaded while we waited
                self._store(self._download_sync)
        return self._settle(kid)

    async def akey(self, kid: str) -> RsaKey:
        """The key for ``kid``, downloading the JWKS if the rules allow (async)."""
        plan = self._plan(kid, may_download=True)
        if isinstance(plan, RsaKey):
            return plan
        if isinstance(plan, _Stale):
            try:
                await self._astore()
            except KeybearerError as exc:
                self._keep_stale(exc)
            return self._settle(kid)
        async with self._async_lock():
            if self._generation == plan:
                await self._astore()
        return self._settle(kid)

    def _keep_stale(self, exc: KeybearerError) -> None:
        # The old copy stays in use; the next try is one refetch_interval away.
        import logging

        logging.getLogger("keybearer").warning(
            "could not refresh the JWKS, still using the copy from %.0f s ago: %s",
            self._clock() - (self._snapshot.fetched_at if self._snapshot else 0.0),
            exc,
        )

    def _settle(self, kid: str) -> RsaKey:
        """The key after a download (ours or another caller's): use it or fail."""
        plan = self._plan(kid, may_download=False)
        if not isinstance(plan, RsaKey):  # cannot happen: without downloads, a key or a raise
            raise ProtocolError(f"the JWKS at {self.url} has not been loaded")
        return plan

    def _plan(self, kid: str, *, may_download: bool) -> RsaKey | _Stale | int:
        """Decide, under the lock, whether to use a key, refresh, download, or fail.

        Returns the key to use; or ``_Stale(key)``: the caller refreshes the
        copy (the attempt is booked now, so nobody else does) then uses the key;
        or a generation number: the caller downloads, unless the generation
        moved on while it waited for the download lock. Raises when there is
        nothing to wait for. With ``may_download=False`` it returns a key or raises.
        """
        with self._lock:
            now = self._clock()
            since = None if self._attempted_at is None else now - self._attempted_at
            # A clock that went backwards must not block downloads for that long.
            recent = since is not None and 0 <= since < self.refetch_interval
            snapshot = self._snapshot
            if snapshot is None:
                if recent or not may_download:
                    if self._last_error is not None:
                        # A copy: one instance raised in many threads at once would
                        # share (and grow) one traceback.
                        raise _fresh(self._last_error)
                    if not may_download:
                        raise ProtocolError(f"the JWKS at {self.url} has not been loaded")
                return self._generation
            key = snapshot.keyset.keys.get(kid)
            if key is not None:
                if now - snapshot.fetched_at >= self.ttl and may_download and not recent:
                    self._attempted_at = now
                    return _Stale(key)
                return key
            reason = snapshot.keyset.skipped.get(kid)
            if reason is not None:
                raise UnsupportedAlgorithmError(
                    f"unsupported alg: the token's alg 'RS256' does not fit the JWKS key "
                    f"{show(kid)} ({reason})",
                    claim="alg",
                    expected="an RS256 signing key",
                    actual=reason,
                )
            if recent or not may_download:
                ago = f"{since:.0f} s ago" if since is not None else "just now"
                raise UnknownKeyError(
                    f"unknown kid {show(kid)}: no key in the JWKS at {self.url} "
                    f"(downloaded {ago}; known kids: {sorted(snapshot.keyset.keys)})",
                    claim="kid",
                    expected=tuple(sorted(snapshot.keyset.keys)),
                    actual=kid,
                )
            return self._generation

    def _store(self, download: Callable[[], KeySet]) -> None:
        try:
            keyset = download()
        except KeybearerError as exc:
            self._failed(exc)
            raise
        self._succeeded(keyset)

    async def _astore(self) -> None:
        try:
            keyset = await self._download_async()
        except KeybearerError as exc:
            self._failed(exc)
            raise
        self._succeeded(keyset)

    def _succeeded(self, keyset: KeySet) -> None:
        with self._lock:
            now = self._clock()
            self._snapshot = _Snapshot(keyset, now)
            self._attempted_at = now
            self._last_error = None
            self._generation += 1

    def _failed(self, exc: KeybearerError) -> None:
        stored = _fresh(exc)
        with self._lock:
            self._attempted_at = self._clock()
            self._last_error = stored
            self._generation += 1

    def _async_lock(self) -> asyncio.Lock:
        import asyncio
        import weakref

        loop = asyncio.get_running_loop()
        with self._lock:
            if self._async_downloads is None:
                self._async_downloads = weakref.WeakKeyDictionary()
            lock = self._async_downloads.get(loop)
            if lock is None:
                lock = self._async_downloads[loop] = asyncio.Lock()
        return lock

    # -- I/O ----------------------------------------------------------------------

    def _download_sync(self) -> KeySet:
        import httpx

        from keybearer._io.drive import run_sync
        from keybearer._protocol.urls import loopback_mounts

        try:
            if self._http is not None:
                return run_sync(jwks_flow(self.url, self._http.timeout), self._http)
            with httpx.Client(timeout=self._timeout, mounts=loopback_mounts([self.url])) as client:
                return run_sync(jwks_flow(self.url, client.timeout), client)
        except httpx.HTTPError as exc:  # not a transport error: e.g. a bad content encoding
            raise ProtocolError(
                f"the JWKS from {self.url} could not be read ({type(exc).__name__})"
            ) from None

    async def _download_async(self) -> KeySet:
        import httpx

        from keybearer._io.drive import run_async
        from keybearer._protocol.urls import loopback_mounts

        try:
            if self._async_http is not None:
                client = self._async_http
                return await run_async(jwks_flow(self.url, client.timeout), client)
            async with httpx.AsyncClient(
                timeout=self._timeout, mounts=loopback_mounts([self.url])
            ) as own:
                return await run_async(jwks_flow(self.url, own.timeout), own)
        except httpx.HTTPError as exc:
            raise ProtocolError(
                f"the JWKS from {self.url} could not be read ({type(exc).__name__})"
            ) from None
