"""An issuer's signing keys: download the JWKS, keep the usable keys, cache them.

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

import copy
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from keybearer._jose.unverified import show
from keybearer.errors import (
    KeybearerError,
    ProtocolError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
)

if TYPE_CHECKING:
    import asyncio
    import weakref
    from typing import TypeAlias

    import httpx

    from keybearer._jose.jws import VerifyKey
    from keybearer._protocol import Flow

    _LoopLocks: TypeAlias = weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
    #: Drivers that run a download flow to its key set (sync, async).
    RunFlow: TypeAlias = Callable[[Flow["KeySet"]], "KeySet"]
    ARunFlow: TypeAlias = Callable[[Flow["KeySet"]], Awaitable["KeySet"]]

logger = logging.getLogger("keybearer")

#: A JWKS larger than this is not a key set anyone publishes.
MAX_JWKS_BYTES = 1024 * 1024
#: Only the first this-many entries of a JWKS are looked at.
MAX_KEYS = 100
#: What a verifier allows when nobody says otherwise (and all Cognito signs with).
DEFAULT_ALGORITHMS = ("RS256",)


class KeySet:
    """One parsed JWKS: the usable keys, and why the other kids were skipped.

    ``keys`` maps each usable ``kid`` to its key, ``algorithms`` to the allowed
    algorithms it can verify.
    """

    __slots__ = ("algorithms", "keys", "skipped")

    def __init__(
        self,
        keys: Mapping[str, VerifyKey],
        algorithms: Mapping[str, frozenset[str]],
        skipped: Mapping[str, str],
    ) -> None:
        self.keys = dict(keys)
        self.algorithms = dict(algorithms)
        self.skipped = dict(skipped)

    def __repr__(self) -> str:
        return f"KeySet(keys={sorted(self.keys)}, skipped={self.skipped})"


def parse_jwks(document: object, algorithms: Iterable[str] = DEFAULT_ALGORITHMS) -> KeySet:
    """The keys of a JWKS document (RFC 7517 §5) that can verify ``algorithms``.

    ``ProtocolError`` if the document is no key set at all.
    """
    # joserfc (and cryptography) load here, on the first key set, not on import.
    from keybearer._jose.jws import import_signing_key

    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ProtocolError('the JWKS is not a JSON object with a "keys" list')
    allowed = tuple(algorithms)
    keys: dict[str, VerifyKey] = {}
    fits: dict[str, frozenset[str]] = {}
    skipped: dict[str, str] = {}
    for jwk in document["keys"][:MAX_KEYS]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys:
            continue  # no token can name it, or the first key with this kid wins
        found = import_signing_key(kid, jwk, allowed)
        if isinstance(found, str):
            skipped.setdefault(kid, found)
        else:
            keys[kid], fits[kid] = found
            skipped.pop(kid, None)
    return KeySet(keys, fits, skipped)


def keyset_from_response(
    response: httpx.Response, url: str, algorithms: Iterable[str] = DEFAULT_ALGORITHMS
) -> KeySet:
    """Parse the JWKS endpoint's answer, or raise the keybearer error that fits it."""
    # The package's one 429/5xx mapping; httpx is loaded already when a response exists.
    from keybearer._protocol.responses import status_error

    status = response.status_code
    transient = status_error(response, f"the JWKS endpoint {url}")
    if transient is not None:
        raise transient
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
    document = _json(response.content)
    if document is _NOT_JSON:
        raise ProtocolError(f"the JWKS from {url} is not JSON", status_code=status)
    problem: str | None = None
    try:
        return parse_jwks(document, algorithms)
    except ProtocolError as exc:
        problem = exc.message
    raise ProtocolError(f"{problem} (from {url})", status_code=status)


_NOT_JSON = object()


def _json(content: bytes) -> object:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return _NOT_JSON


def jwks_flow(
    url: str, timeout: httpx.Timeout, algorithms: Iterable[str] = DEFAULT_ALGORITHMS
) -> Flow[KeySet]:
    """Download and parse a JWKS (sans-I/O: yields the request, gets the response).

    Only keys that can verify ``algorithms`` are kept (by default RS256 keys).
    """
    # httpx loads with the first download, so that importing keybearer.verify stays cheap.
    import httpx

    response = yield httpx.Request(
        "GET",
        url,
        headers={"Accept": "application/json"},
        extensions={"timeout": timeout.as_dict()},
    )
    return keyset_from_response(response, url, algorithms)


def _fresh(exc: KeybearerError) -> KeybearerError:
    """A copy of ``exc`` without its traceback, to store or to raise again."""
    fresh = copy.copy(exc)
    fresh.__cause__ = fresh.__context__ = fresh.__traceback__ = None
    return fresh


class _Snapshot:
    __slots__ = ("fetched_at", "keyset")

    def __init__(self, keyset: KeySet, fetched_at: float) -> None:
        self.keyset = keyset
        self.fetched_at = fetched_at


class _Stale:
    """A key set older than ``ttl`` that has the key: use it, after trying to refresh it."""

    __slots__ = ("keyset",)

    def __init__(self, keyset: KeySet) -> None:
        self.keyset = keyset


class JwksCache:
    """The signing keys published at ``url``, cached as the module docstring says.

    Only keys that can verify one of ``algorithms`` are kept. ``clock`` gives
    seconds (``time.time`` by default, as for ``exp``); a clock that jumps
    backwards never blocks a download. ``http`` / ``async_http`` are clients
    to download with (their timeout applies); without one, a short-lived client
    with ``timeout`` is made for each download, which happens rarely.
    """

    def __init__(
        self,
        url: str,
        *,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        ttl: float,
        refetch_interval: float,
        clock: Callable[[], float],
        timeout: float,
        http: httpx.Client | None = None,
        async_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.algorithms = tuple(algorithms)
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
        self._drivers: tuple[RunFlow, ARunFlow] | None = None

    def __repr__(self) -> str:
        snapshot = self._snapshot
        kids = sorted(snapshot.keyset.keys) if snapshot else None
        return f"JwksCache(url={self.url!r}, kids={kids})"

    # -- the hot path -------------------------------------------------------------

    def cached(self, kid: str, now: float) -> KeySet | None:
        """The key set if a fresh copy of the JWKS has a key for ``kid``; never blocks."""
        snapshot = self._snapshot
        if snapshot is not None and now - snapshot.fetched_at < self.ttl:
            keyset = snapshot.keyset
            if kid in keyset.keys:
                return keyset
        return None

    # -- the slow paths ---------------------------------------------------------

    def key(self, kid: str, alg: str) -> KeySet:
        """A key set with a key for ``kid``, downloading the JWKS if the rules allow (sync).

        ``alg`` is the token's, named in the error when ``kid`` is a key for
        something else.
        """
        plan = self._plan(kid, alg, may_download=True)
        if isinstance(plan, KeySet):
            return plan
        if isinstance(plan, _Stale):
            try:
                self._store(self._download_sync)
            except KeybearerError as exc:
                self._keep_stale(exc)
            return self._settle(kid, alg)
        with self._sync_download:
            if self._generation == plan:  # nobody downloaded while we waited
                self._store(self._download_sync)
        return self._settle(kid, alg)

    async def akey(self, kid: str, alg: str) -> KeySet:
        """:meth:`key` for asyncio."""
        plan = self._plan(kid, alg, may_download=True)
        if isinstance(plan, KeySet):
            return plan
        if isinstance(plan, _Stale):
            try:
                await self._astore()
            except KeybearerError as exc:
                self._keep_stale(exc)
            return self._settle(kid, alg)
        async with self._async_lock():
            if self._generation == plan:
                await self._astore()
        return self._settle(kid, alg)

    def _keep_stale(self, exc: KeybearerError) -> None:
        # The old copy stays in use; the next try is one refetch_interval away.
        logger.warning(
            "could not refresh the JWKS, still using the copy from %.0f s ago: %s",
            self._clock() - (self._snapshot.fetched_at if self._snapshot else 0.0),
            exc,
        )

    def _settle(self, kid: str, alg: str) -> KeySet:
        """The key set after a download (ours or another caller's): use it or fail."""
        plan = self._plan(kid, alg, may_download=False)
        if not isinstance(plan, KeySet):  # cannot happen: without downloads, keys or a raise
            raise ProtocolError(f"the JWKS at {self.url} has not been loaded")
        return plan

    def _plan(self, kid: str, alg: str, *, may_download: bool) -> KeySet | _Stale | int:
        """Decide, under the lock, whether to use the keys, refresh, download, or fail.

        Returns the key set to use; or ``_Stale(keyset)``: the caller refreshes
        the copy (the attempt is booked now, so nobody else does) then uses it;
        or a generation number: the caller downloads, unless the generation
        moved on while it waited for the download lock. Raises when there is
        nothing to wait for. With ``may_download=False`` it returns keys or raises.
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
            keyset = snapshot.keyset
            if kid in keyset.keys:
                if now - snapshot.fetched_at >= self.ttl and may_download and not recent:
                    self._attempted_at = now
                    return _Stale(keyset)
                return keyset
            reason = keyset.skipped.get(kid)
            if reason is not None:
                raise UnsupportedAlgorithmError(
                    f"unsupported alg: the token's alg {show(alg)} does not fit the JWKS key "
                    f"{show(kid)} ({reason})",
                    claim="alg",
                    expected=f"an {alg} signing key",
                    actual=reason,
                )
            if recent or not may_download:
                ago = f"{since:.0f} s ago" if since is not None else "just now"
                raise UnknownKeyError(
                    f"unknown kid {show(kid)}: no key in the JWKS at {self.url} "
                    f"(downloaded {ago}; known kids: {sorted(keyset.keys)})",
                    claim="kid",
                    expected=tuple(sorted(keyset.keys)),
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
        # asyncio loads only for async callers: sync users of verify never pay for it.
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

    def use_drivers(self, run: RunFlow, arun: ARunFlow) -> None:
        """Download through these flow drivers (a session's, with its transport).

        Without them, each download runs on a short-lived client of its own.
        """
        self._drivers = (run, arun)

    def _download_sync(self) -> KeySet:
        # httpx and the driver load with the first download, not with keybearer.verify.
        import httpx

        if self._drivers is not None:
            return self._drivers[0](self._flow(httpx.Timeout(self._timeout)))

        # Without a session's drivers, the verifier's own (httpx loads only now).
        from keybearer._io.drive import run_sync
        from keybearer._protocol.urls import loopback_mounts

        failed: str | None = None
        try:
            if self._http is not None:
                return run_sync(self._flow(self._http.timeout), self._http)
            with httpx.Client(timeout=self._timeout, mounts=loopback_mounts([self.url])) as client:
                return run_sync(self._flow(client.timeout), client)
        except httpx.HTTPError as exc:  # not a transport error: e.g. a bad content encoding
            failed = type(exc).__name__
        raise ProtocolError(f"the JWKS from {self.url} could not be read ({failed})")

    async def _download_async(self) -> KeySet:
        # httpx and the driver load with the first download, not with keybearer.verify.
        import httpx

        if self._drivers is not None:
            return await self._drivers[1](self._flow(httpx.Timeout(self._timeout)))

        # Without a session's drivers, the verifier's own (httpx loads only now).
        from keybearer._io.drive import run_async
        from keybearer._protocol.urls import loopback_mounts

        failed: str | None = None
        try:
            if self._async_http is not None:
                client = self._async_http
                return await run_async(self._flow(client.timeout), client)
            async with httpx.AsyncClient(
                timeout=self._timeout, mounts=loopback_mounts([self.url])
            ) as own:
                return await run_async(self._flow(own.timeout), own)
        except httpx.HTTPError as exc:
            failed = type(exc).__name__
        raise ProtocolError(f"the JWKS from {self.url} could not be read ({failed})")

    def _flow(self, timeout: httpx.Timeout) -> Flow[KeySet]:
        return jwks_flow(self.url, timeout, self.algorithms)
