"""The signed-in session behind a client: current tokens, single-flight refresh.

Many threads or tasks can find the token stale at once; exactly one of them
refreshes while the others wait and reuse the result. Each decision of a
refresh is written once: under the cache's thread lock and the store's
cross-process lock, :meth:`Session._plan` re-reads the store and decides
whether to reuse tokens or renew them; the provider is asked with the one
renewal flow (:meth:`Session._renewal_flow`); :meth:`Session._after_failure`
decides what a failure means; :meth:`Session._renewed` stores the answer.
:meth:`Session.refresh` runs these steps in the caller's thread;
:meth:`Session.arefresh` queues on a per-loop asyncio lock (so one task per
loop contends), takes the same locks without blocking the loop, runs the store
steps in worker threads and asks the provider with an async client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import httpx

from keybearer._config import ClientConfig, CognitoConfig, OidcConfig
from keybearer._io import drive
from keybearer._io.drive import Retry, run_async, run_sync
from keybearer._io.urls import loopback_mounts
from keybearer._locks import (
    ProcessLock,
    acquire_process_lock,
    acquire_thread_lock,
    finish_even_if_cancelled,
)
from keybearer._protocol import Flow, oauth
from keybearer._protocol.cognito_refresh import refresh as cognito_refresh
from keybearer._token_cache import TokenCache
from keybearer._token_checks import TokenChecks
from keybearer._tokens import TokenSet
from keybearer.errors import ConfigurationError, LoginRequiredError, ProtocolError, TransientError

logger = logging.getLogger("keybearer")

T = TypeVar("T")

Obtain = Callable[[], Flow[TokenSet]]
"""A flow that gets a new token set with no session to refresh (a client-credentials grant)."""

# How long a waiter trusts another refresher before refreshing itself. Longer
# than any refresh can take (its timeout), so it only ends a true deadlock.
_LOCK_GRACE = 5.0


def _note_if_not_held(lock: ProcessLock | None, held: bool) -> None:
    """Warn when the store has a cross-process lock that was not taken in time.

    The one decision for :meth:`Session.exclusive` and its async twin: another
    process holds the lock far longer than a refresh takes, so it is stuck, and
    going on beats never refreshing.
    """
    if lock is not None and not held:
        logger.warning("went on without the refresh lock %r: it is held too long", lock)


@dataclass(frozen=True)
class _Plan:
    """What a refresh decided under the locks: tokens to use, or tokens to renew from."""

    ready: TokenSet | None = None
    current: TokenSet | None = None


class Session:
    """Tokens for one config and cache, plus the HTTP plumbing to renew them.

    ``transport``/``async_transport`` are the httpx transports provider calls
    go through (default: httpx's network transports) and ``retry`` the policy
    for throttled calls (default :data:`keybearer._io.drive.RETRY`); tests
    pass their own instead of patching globals. ``obtain``, when given, gets a
    token set without a session (the client-credentials grant): then "not
    signed in" and "no refresh token" both mean "obtain one", single-flight
    exactly like a refresh.
    """

    def __init__(
        self,
        config: ClientConfig,
        cache: TokenCache,
        clock: Callable[[], float],
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        retry: Retry | None = None,
        obtain: Obtain | None = None,
    ) -> None:
        self.config = config
        self.cache = cache
        self.clock = clock
        self._transport = transport
        self._async_transport = async_transport
        self._retry = retry if retry is not None else drive.RETRY
        self._obtain = obtain
        self._endpoints = config.fixed_endpoints()
        self._checks = TokenChecks(config, clock, self)
        self._ahead = config.refresh_ahead
        self._lock_wait = config.timeout + _LOCK_GRACE
        self._deadline: tuple[TokenSet | None, float] = (None, 0.0)
        self._ssl: ssl.SSLContext | None = None
        self._sync_http: httpx.Client | None = None
        self._http_lock = threading.RLock()

    # -- the per-request path: a read, no lock, no I/O while the token is fresh --

    def fresh(self) -> TokenSet | None:
        """The current tokens if they need no refresh, else None."""
        tokens = self.cache.tokens
        if tokens is None:
            return None
        known, deadline = self._deadline
        if known is not tokens:
            deadline = self._refresh_deadline(tokens)
        return tokens if self.clock() < deadline else None

    def _refresh_deadline(self, tokens: TokenSet) -> float:
        """When to refresh: ``refresh_ahead`` before expiry, or at half-life if sooner.

        Tokens that live less than twice ``refresh_ahead`` would otherwise be
        refreshed on every request.
        """
        ahead = self._ahead
        if tokens.obtained_at is not None:
            ahead = min(ahead, max(0.0, (tokens.expires_at - tokens.obtained_at) / 2))
        deadline = tokens.expires_at - ahead
        # One tuple, one assignment: readers in other threads never see a mix.
        self._deadline = (tokens, deadline)
        return deadline

    def needs_refresh(self, tokens: TokenSet) -> bool:
        known, deadline = self._deadline
        if known is not tokens:
            deadline = self._refresh_deadline(tokens)
        return self.clock() >= deadline

    def tokens_for_request(self) -> TokenSet:
        """Tokens fit to send now: loaded, and refreshed (or obtained) first if due."""
        tokens = self.fresh()
        if tokens is not None:
            return tokens
        tokens = self.cache.load()
        if tokens is None:
            self._require(None)  # raises, unless tokens can be obtained without a session
            return self.refresh(seen=None, rejected=False, initial=True)
        if self.needs_refresh(tokens):
            tokens = self.refresh(seen=tokens, rejected=False)
        return tokens

    async def atokens_for_request(self) -> TokenSet:
        """Async :meth:`tokens_for_request`: store reads and refreshes run off the loop."""
        tokens = self.fresh()
        if tokens is not None:
            return tokens
        if not self.cache.loaded:
            # A keyring read can block (D-Bus, a file): keep it off the loop.
            await asyncio.to_thread(self.cache.load)
        tokens = self.cache.tokens
        if tokens is None:
            self._require(None)
            return await self.arefresh(seen=None, rejected=False, initial=True)
        if self.needs_refresh(tokens):
            tokens = await self.arefresh(seen=tokens, rejected=False)
        return tokens

    def _require(self, tokens: TokenSet | None) -> TokenSet | None:
        """``tokens``; if there are none, raise unless they can be obtained without a session."""
        if tokens is None and self._obtain is None:
            unreadable = self.cache.unreadable
            why = f"; the token store could not be read ({unreadable})" if unreadable else ""
            raise LoginRequiredError(
                f"not signed in ({self.config.describe}){why}: sign in first, e.g. with "
                "login_password() or login_browser()"
            )
        return tokens

    # -- refresh, single-flight: written once --

    def _reusable(
        self, current: TokenSet | None, seen: TokenSet | None, rejected: bool, initial: bool
    ) -> TokenSet | None:
        """The tokens to use without refreshing, if another caller already renewed them.

        ``seen`` is what the caller found stale (or what the API rejected);
        ``initial`` says the caller found no tokens at all. An explicit
        refresh (neither) always refreshes.
        """
        if current is None or self.cache.is_refused(current):
            return None  # re-read the store first: another process may have signed in
        if initial:
            return None if self.needs_refresh(current) else current
        if seen is None:
            return None
        if current is not seen:
            return current
        if not rejected and not self.needs_refresh(current):
            return current
        return None

    def refresh(self, *, seen: TokenSet | None, rejected: bool, initial: bool = False) -> TokenSet:
        """Refresh unless another caller (thread, task or process) already did.

        See :meth:`_reusable` for ``seen``, ``rejected`` and ``initial``.
        """
        with self.exclusive():
            return self.refresh_held(seen=seen, rejected=rejected, initial=initial)

    async def arefresh(
        self, *, seen: TokenSet | None, rejected: bool, initial: bool = False
    ) -> TokenSet:
        """:meth:`refresh` for a coroutine, with the same decisions, off the event loop.

        Tasks queue on a per-loop lock; the first reuses what an earlier task
        got if it can. The locks are taken without blocking the loop, the
        store is read and written in worker threads, and the provider is asked
        with an async client, on the loop. A cancelled caller still waits for
        the provider's answer to be stored (see :func:`finish_even_if_cancelled`).
        """
        async with self.cache.loop_lock():
            if self.cache.loaded:
                # An earlier task on this loop may have renewed them while this one queued.
                ready = self._reusable(self.cache.tokens, seen, rejected, initial)
                if ready is not None:
                    return ready
            async with self._aexclusive():
                plan = await asyncio.to_thread(self._plan, seen, rejected, initial)
                if plan.ready is not None:
                    return plan.ready
                current = plan.current

                async def renew() -> TokenSet:
                    try:
                        tokens = await self.run_async(self._renewal_flow(current))
                        if current is not None and current.refresh_token is not None:
                            await self.acheck_refreshed(current, tokens)  # OIDC Core 12.2
                    except (TransientError, ProtocolError, LoginRequiredError) as exc:
                        kept = self._after_failure(current, seen, rejected, exc)
                        if kept is None:
                            raise
                        return kept
                    return await asyncio.to_thread(self._renewed, tokens)

                return await finish_even_if_cancelled(asyncio.ensure_future(renew()))

    def refresh_held(
        self, *, seen: TokenSet | None, rejected: bool, initial: bool = False
    ) -> TokenSet:
        """:meth:`refresh` for a caller already inside :meth:`exclusive` (a logout)."""
        plan = self._plan(seen, rejected, initial)
        if plan.ready is not None:
            return plan.ready
        try:
            tokens = self.run_sync(self._renewal_flow(plan.current))
            if plan.current is not None and plan.current.refresh_token is not None:
                self.check_refreshed(plan.current, tokens)  # OIDC Core 12.2
        except (TransientError, ProtocolError, LoginRequiredError) as exc:
            kept = self._after_failure(plan.current, seen, rejected, exc)
            if kept is None:
                raise
            return kept
        return self._renewed(tokens)

    def _plan(self, seen: TokenSet | None, rejected: bool, initial: bool) -> _Plan:
        """Under the locks, before asking the provider: reuse tokens, or renew from which.

        Reads the store (another process may have refreshed or signed in).
        """
        ready = self._reusable(self.cache.load(), seen, rejected, initial)
        if ready is not None:
            return _Plan(ready=ready)
        current, ready = self._reread(seen, rejected, initial)
        if ready is not None:
            return _Plan(ready=ready)
        if current is not None and self.cache.is_refused(current):
            raise LoginRequiredError(
                f"the session has ended ({self.config.describe}): the provider refused its "
                "refresh token earlier; sign in again"
            )
        if current is not None and self._unrefreshable_but_valid(current, seen, rejected):
            return _Plan(ready=current)
        return _Plan(current=current)

    def _after_failure(
        self,
        current: TokenSet | None,
        seen: TokenSet | None,
        rejected: bool,
        exc: TransientError | ProtocolError | LoginRequiredError,
    ) -> TokenSet | None:
        """The provider failed or refused: the tokens to go on with, or None to raise."""
        if current is None:
            return None
        if isinstance(exc, LoginRequiredError):
            self.cache.mark_refused(current)  # refused by the provider
            return None
        return current if self._keep_on_failure(current, seen, rejected, exc) else None

    def _renewed(self, tokens: TokenSet) -> TokenSet:
        """Make renewed tokens current and stored (still under the locks)."""
        self.cache.put(tokens)
        logger.info("refreshed the tokens for %s", self.cache.key)
        return tokens

    def _unrefreshable_but_valid(
        self, current: TokenSet, seen: TokenSet | None, rejected: bool
    ) -> bool:
        # A session without a refresh token (implicit grant) is used until it
        # actually expires, not given up at the start of the refresh window.
        return (
            current.refresh_token is None
            and self._obtain is None
            and seen is not None
            and not rejected
            and current.expires_at > self.clock()
        )

    def _keep_on_failure(
        self,
        current: TokenSet,
        seen: TokenSet | None,
        rejected: bool,
        exc: TransientError | ProtocolError,
    ) -> bool:
        # A garbled answer (a captive portal's HTML page) counts as transient here.
        # An automatic refresh that fails transiently while the token still
        # works (inside the refresh window) should not fail the caller's
        # request. An explicit refresh() reports the failure.
        if seen is not None and not rejected and current.expires_at > self.clock():
            logger.warning(
                "refresh failed (%s); using the current token, which is still valid", exc
            )
            return True
        return False

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the refresh locks (this process's threads, then other processes).

        Inside, no refresh is in flight here or in another process sharing the
        store, so a sign-in's save, a refresh or a logout cannot interleave.
        """
        acquired = self.cache.refresh_lock.acquire(timeout=self._lock_wait)
        try:
            lock = self.cache.process_lock()
            held = lock is not None and lock.acquire(self._lock_wait)
            _note_if_not_held(lock, held)
            try:
                yield
            finally:
                if held and lock is not None:
                    lock.release()
        finally:
            if acquired:
                self.cache.refresh_lock.release()

    @contextlib.asynccontextmanager
    async def _aexclusive(self) -> AsyncIterator[None]:
        """:meth:`exclusive` for a coroutine: both locks taken without blocking the loop."""
        acquired = await acquire_thread_lock(self.cache.refresh_lock, self._lock_wait)
        try:
            if self.cache.process_lock_known:
                lock = self.cache.process_lock()
            else:  # the first time may create the lock folder: not on the loop
                lock = await asyncio.to_thread(self.cache.process_lock)
            held = lock is not None and await acquire_process_lock(lock, self._lock_wait)
            _note_if_not_held(lock, held)
            try:
                yield
            finally:
                if held and lock is not None:
                    # A lease lock's release is a round trip: not on the loop.
                    await asyncio.shield(asyncio.to_thread(lock.release))
        finally:
            if acquired:
                self.cache.refresh_lock.release()

    def keep(self, tokens: TokenSet) -> None:
        """Store a sign-in's tokens, after any refresh in flight (which would overwrite them)."""
        with self.exclusive():
            self.cache.put(tokens)
        logger.info("signed in to %s", self.cache.key)

    def reread(self) -> TokenSet | None:
        """Inside :meth:`exclusive`: the tokens, adopting what another process stored.

        With refresh-token rotation the stored refresh token may be newer than
        the one in memory; a logout must revoke that one, not the spent one.
        """
        current = self.cache.load()
        stored = self.cache.peek_store()
        if stored is not None and (current is None or stored.access_token != current.access_token):
            self.cache.adopt(stored)
            return stored
        return current

    def _reread(
        self, seen: TokenSet | None, rejected: bool, initial: bool
    ) -> tuple[TokenSet | None, TokenSet | None]:
        """Under the locks: adopt what another process stored meanwhile.

        Returns the tokens to refresh from and, if no refresh is needed any
        more, the tokens to use. With refresh-token rotation the stored refresh
        token may be newer than the one in memory; refreshing with the old one
        would end the session.
        """
        current = self.cache.tokens
        latest = self.reread()
        if latest is None:
            self._require(None)  # raises, unless tokens can be obtained without a session
            return None, None
        if latest is current:
            return current, None
        logger.info("another process stored new tokens for %s; using them", self.cache.key)
        if (seen is not None or initial) and (rejected or not self.needs_refresh(latest)):
            return latest, latest
        return latest, None

    def _renewal_flow(self, tokens: TokenSet | None) -> Flow[TokenSet]:
        """Obtain a new token set the way the session was obtained.

        The token endpoint for a browser sign-in, cognito-idp for a password
        sign-in, and ``obtain`` (a client-credentials grant) for a session
        that never had a refresh token.
        """
        if self._obtain is not None and (tokens is None or tokens.refresh_token is None):
            return (yield from self._obtain())
        if tokens is None:
            raise LoginRequiredError(f"not signed in ({self.config.describe}): sign in first")
        if tokens.origin == "hosted_ui":
            endpoints = yield from self.endpoints_flow()
            client = self.config.oauth_client
            return (yield from oauth.refresh(endpoints, client, tokens, self.clock))
        if tokens.origin == "implicit" or tokens.refresh_token is None:
            raise LoginRequiredError(
                "this session came from an implicit-grant redirect, which gives no refresh "
                "token; sign in again"
            )
        if not isinstance(self.config, CognitoConfig):
            raise LoginRequiredError("this session cannot be refreshed here; sign in again")
        return (yield from cognito_refresh(self.config, tokens, self.clock))

    def endpoints_flow(self) -> Flow[oauth.Endpoints]:
        """The provider's OAuth endpoints: fixed (Cognito's domain) or discovered once."""
        if self._endpoints is None:
            if not isinstance(self.config, OidcConfig):
                raise ConfigurationError(
                    "browser sign-in goes through the hosted UI: pass "
                    "domain='<prefix>.auth.<region>.amazoncognito.com' (or your custom "
                    "domain) to OAuthClient.cognito()"
                )
            self._endpoints = yield from oauth.discover(self.config.issuer, self.config.timeout)
        return self._endpoints

    # -- checking what a sign-in or a refresh brought back (keybearer._token_checks) --

    def check_id_token(self, tokens: TokenSet, nonce: str | None) -> None:
        """Verify a sign-in's tokens before they are stored (``nonce=None``: unsolicited)."""
        self._checks.received(tokens, nonce)

    async def acheck_id_token(self, tokens: TokenSet, nonce: str | None) -> None:
        """Async :meth:`check_id_token`."""
        await self._checks.areceived(tokens, nonce)

    def check_refreshed(self, before: TokenSet, after: TokenSet) -> None:
        """Verify refreshed tokens before they replace ``before`` (OIDC Core 12.2)."""
        self._checks.refreshed(before, after)

    async def acheck_refreshed(self, before: TokenSet, after: TokenSet) -> None:
        """Async :meth:`check_refreshed`."""
        await self._checks.arefreshed(before, after)

    # -- talking to the provider --

    def ssl_context(self) -> ssl.SSLContext:
        # Building a context reads the CA bundle (tens of ms): do it once.
        if self._ssl is None:
            with self._http_lock:
                if self._ssl is None:
                    self._ssl = httpx.create_ssl_context()
        return self._ssl

    def sync_http(self) -> httpx.Client:
        if self._sync_http is None:
            with self._http_lock:
                if self._sync_http is None:
                    self._sync_http = httpx.Client(
                        verify=self.ssl_context(),
                        timeout=self.config.timeout,
                        transport=self._transport,
                        mounts=loopback_mounts(self.config.provider_urls),
                    )
        return self._sync_http

    def run_sync(self, flow: Flow[T]) -> T:
        """Drive ``flow`` with the session's sync client and retry policy."""
        return run_sync(flow, self.sync_http(), retry=self._retry)

    async def run_async(self, flow: Flow[T]) -> T:
        """Drive ``flow`` with an async client (one per call: a loop owns its connections)."""
        if self._ssl is None:
            await asyncio.to_thread(self.ssl_context)
        async with httpx.AsyncClient(
            verify=self.ssl_context(),
            timeout=self.config.timeout,
            transport=self._async_transport,
            mounts=loopback_mounts(self.config.provider_urls),
        ) as http:
            return await run_async(flow, http, retry=self._retry)

    def close(self) -> None:
        if self._sync_http is not None:
            self._sync_http.close()
            self._sync_http = None
