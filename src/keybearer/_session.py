"""The signed-in session behind a client: current tokens, single-flight refresh.

Many threads or tasks can find the token stale at once; exactly one of them
refreshes while the others wait and reuse the result. Sync callers take the
cache's thread lock. Async callers first queue on a per-loop asyncio lock (so
one task per loop contends), then take the same thread lock without blocking
the loop, so threads, tasks and several loops all share one refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx

from keybearer._config import ClientConfig, CognitoConfig, OidcConfig
from keybearer._io.drive import run_async, run_sync
from keybearer._io.urls import loopback_mounts
from keybearer._protocol import Flow, oauth
from keybearer._protocol.cognito_refresh import refresh as cognito_refresh
from keybearer._token_cache import TokenCache
from keybearer._tokens import TokenSet
from keybearer.errors import ConfigurationError, LoginRequiredError, ProtocolError, TransientError

logger = logging.getLogger("keybearer")

T = TypeVar("T")

# How long a waiter trusts another refresher before refreshing itself. Longer
# than any refresh can take (its timeout), so it only ends a true deadlock,
# such as sync code run on the event loop thread while a task holds the lock.
_LOCK_GRACE = 5.0


async def _finish_even_if_cancelled(step: Awaitable[T]) -> T:
    """Run ``step`` to its end even if the caller is cancelled meanwhile, then re-raise.

    A refresh the provider has answered has spent the old refresh token (with
    rotation); dropping the answer, or letting go of the locks before it is
    stored, ends the session. The wait is bounded by the request timeout.
    """
    task = asyncio.ensure_future(step)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


class Session:
    """Tokens for one config and cache, plus the HTTP plumbing to renew them."""

    def __init__(self, config: ClientConfig, cache: TokenCache, clock: Callable[[], float]) -> None:
        self.config = config
        self.cache = cache
        self.clock = clock
        self._endpoints = config.fixed_endpoints()
        self._id_verifier: Any = None
        self._ahead = config.refresh_ahead
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
        tokens = self.fresh()
        if tokens is not None:
            return tokens
        tokens = self._require(self.cache.load())
        if self.needs_refresh(tokens):
            tokens = self.refresh(seen=tokens, rejected=False)
        return tokens

    async def atokens_for_request(self) -> TokenSet:
        tokens = self.fresh()
        if tokens is not None:
            return tokens
        if not self.cache.loaded:
            # A keyring read can block (D-Bus, a file): keep it off the loop.
            await asyncio.to_thread(self.cache.load)
        tokens = self._require(self.cache.tokens)
        if self.needs_refresh(tokens):
            tokens = await self.arefresh(seen=tokens, rejected=False)
        return tokens

    def _require(self, tokens: TokenSet | None) -> TokenSet:
        if tokens is None:
            unreadable = self.cache.unreadable
            why = f"; the token store could not be read ({unreadable})" if unreadable else ""
            raise LoginRequiredError(
                f"not signed in ({self.config.describe}){why}: sign in first, e.g. with "
                "login_password() or login_browser()"
            )
        return tokens

    # -- refresh, single-flight --

    def _decide(self, seen: TokenSet | None, rejected: bool) -> TokenSet | None:
        """Inside the lock: the tokens to use without refreshing, if any.

        ``seen`` is what the caller found stale (or what the API rejected).
        If another caller has replaced it meanwhile, that result is reused.
        """
        current = self._require(self.cache.load())
        if current is self.cache.dead:
            return None  # re-read the store first: another process may have signed in
        if seen is None:
            return None  # an explicit refresh() always refreshes
        if current is not seen:
            return current
        if not rejected and not self.needs_refresh(current):
            return current
        return None

    def _check_alive(self, current: TokenSet) -> None:
        """After the re-read: refuse a session whose refresh token was refused."""
        if current is self.cache.dead:
            raise LoginRequiredError(
                f"the session has ended ({self.config.describe}): the provider refused its "
                "refresh token earlier; sign in again"
            )

    def _unrefreshable_but_valid(
        self, current: TokenSet, seen: TokenSet | None, rejected: bool
    ) -> bool:
        # A session without a refresh token (implicit grant) is used until it
        # actually expires, not given up at the start of the refresh window.
        return (
            current.refresh_token is None
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

    def refresh(self, *, seen: TokenSet | None, rejected: bool) -> TokenSet:
        """Refresh unless another caller already did; see :meth:`_decide`."""
        acquired = self.cache.refresh_lock.acquire(timeout=self.config.timeout + _LOCK_GRACE)
        try:
            ready = self._decide(seen, rejected)
            if ready is not None:
                return ready
            with self._process_lock():
                current, ready = self._reread(seen, rejected)
                if ready is not None:
                    return ready
                self._check_alive(current)
                if self._unrefreshable_but_valid(current, seen, rejected):
                    return current
                try:
                    tokens = run_sync(self._refresh_flow(current), self.sync_http())
                except (TransientError, ProtocolError) as exc:
                    if self._keep_on_failure(current, seen, rejected, exc):
                        return current
                    raise
                except LoginRequiredError:
                    if current.refresh_token is not None:  # refused by the provider
                        self.cache.dead = current
                    raise
                self.cache.put(tokens)
            logger.info("refreshed the tokens for %s", self.cache.key)
            return tokens
        finally:
            if acquired:
                self.cache.refresh_lock.release()

    async def arefresh(self, *, seen: TokenSet | None, rejected: bool) -> TokenSet:
        async with self.cache.loop_lock():
            acquired = await self._acquire_thread_lock()
            try:
                if not self.cache.loaded:
                    await asyncio.to_thread(self.cache.load)
                ready = self._decide(seen, rejected)
                if ready is not None:
                    return ready
                file_lock = await self._aacquire_process_lock()
                try:
                    current, ready = await asyncio.to_thread(self._reread, seen, rejected)
                    if ready is not None:
                        return ready
                    self._check_alive(current)
                    if self._unrefreshable_but_valid(current, seen, rejected):
                        return current

                    async def refresh_and_store() -> TokenSet:
                        renewed = await self.run_async(self._refresh_flow(current))
                        await asyncio.to_thread(self.cache.put, renewed)
                        return renewed

                    try:
                        tokens = await _finish_even_if_cancelled(refresh_and_store())
                    except (TransientError, ProtocolError) as exc:
                        if self._keep_on_failure(current, seen, rejected, exc):
                            return current
                        raise
                    except LoginRequiredError:
                        if current.refresh_token is not None:  # refused by the provider
                            self.cache.dead = current
                        raise
                finally:
                    if file_lock is not None:
                        file_lock.release()
                logger.info("refreshed the tokens for %s", self.cache.key)
                return tokens
            finally:
                if acquired:
                    self.cache.refresh_lock.release()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the refresh locks, so that no refresh is in flight here or elsewhere."""
        acquired = self.cache.refresh_lock.acquire(timeout=self.config.timeout + _LOCK_GRACE)
        try:
            with self._process_lock():
                yield
        finally:
            if acquired:
                self.cache.refresh_lock.release()

    # -- across processes --

    def _file_lock(self) -> Any:
        """The cross-process lock for this store key, if the store names one."""
        lock = self.cache.file_lock
        if lock is None:
            lock_path = getattr(self.cache.store, "lock_path", None)
            if not callable(lock_path):
                return None
            from filelock import FileLock

            # thread_local=False: an async refresh may release it from the loop's
            # thread after awaiting; the thread lock already keeps threads apart.
            lock = FileLock(lock_path(self.cache.key), thread_local=False)
            self.cache.file_lock = lock
        return lock

    @contextlib.contextmanager
    def _process_lock(self) -> Iterator[None]:
        lock = self._file_lock()
        if lock is None:
            yield
            return
        from filelock import Timeout

        try:
            lock.acquire(timeout=self.config.timeout + _LOCK_GRACE)
        except Timeout:
            # Another process holds it far longer than a refresh takes: it is
            # stuck. Refreshing anyway beats never refreshing.
            logger.warning(
                "went on without the refresh lock %s: it is held too long", lock.lock_file
            )
            yield
            return
        try:
            yield
        finally:
            lock.release()

    async def _aacquire_process_lock(self) -> Any:
        lock = await asyncio.to_thread(self._file_lock)
        if lock is None:
            return None
        from filelock import Timeout

        deadline = time.monotonic() + self.config.timeout + _LOCK_GRACE
        delay = 0.001
        while True:
            try:
                lock.acquire(timeout=0)
                return lock
            except Timeout:
                if time.monotonic() > deadline:
                    logger.warning("went on without the refresh lock %s", lock.lock_file)
                    return None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)

    def _reread(self, seen: TokenSet | None, rejected: bool) -> tuple[TokenSet, TokenSet | None]:
        """Under the process lock: adopt what another process stored meanwhile.

        Returns the tokens to refresh from and, if no refresh is needed any
        more, the tokens to use. With refresh-token rotation the stored refresh
        token may be newer than the one in memory; refreshing with the old one
        would end the session.
        """
        current = self._require(self.cache.tokens)
        stored = self.cache.peek_store()
        if stored is None or stored.access_token == current.access_token:
            return current, None
        self.cache.adopt(stored)
        logger.info("another process refreshed the tokens for %s; using them", self.cache.key)
        if seen is not None and (rejected or not self.needs_refresh(stored)):
            return stored, stored
        return stored, None

    async def _acquire_thread_lock(self) -> bool:
        lock = self.cache.refresh_lock
        deadline = time.monotonic() + self.config.timeout + _LOCK_GRACE
        delay = 0.001
        while not lock.acquire(blocking=False):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        return True

    def _refresh_flow(self, tokens: TokenSet) -> Flow[TokenSet]:
        """Refresh the way the session was obtained: token endpoint or cognito-idp."""
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

    # -- checking what a browser sign-in brought back --

    def _verifier(self, endpoints: oauth.Endpoints) -> Any:
        if self._id_verifier is None:
            from keybearer.verify import JwtVerifier

            self._id_verifier = JwtVerifier(
                issuer=endpoints.issuer,
                jwks_url=endpoints.jwks,
                audiences=[self.config.client_id],
                leeway=60.0,
                clock=self.clock,
                timeout=self.config.timeout,
            )
        return self._id_verifier

    def _expected_token_use(self) -> str | None:
        # Cognito's ID tokens say token_use=id; an access token passed off as
        # an ID token says "access" and must fail.
        return "id" if isinstance(self.config, CognitoConfig) else None

    def _receipt_check(self, tokens: TokenSet, nonce: str) -> dict[str, Any] | None:
        """What to verify of a browser sign-in's tokens, as ``verify()`` arguments.

        The ID token, with the attempt's nonce. Without one (no ``openid``
        scope), an implicit redirect's access token is all there is, and a
        Cognito access token is a JWT that can be checked instead.
        """
        if tokens.id_token is not None:
            return {
                "token": tokens.id_token.get_secret_value(),
                "nonce": nonce,
                "token_use": self._expected_token_use(),
            }
        if tokens.origin == "implicit" and isinstance(self.config, CognitoConfig):
            return {"token": tokens.access_token.get_secret_value(), "token_use": "access"}
        return None

    def check_id_token(self, tokens: TokenSet, nonce: str) -> None:
        """Verify freshly received tokens: signature, iss, aud, exp, nonce."""
        check = self._receipt_check(tokens, nonce)
        if check is None:
            return
        endpoints = self.run_sync(self.endpoints_flow())
        self._verifier(endpoints).verify(check.pop("token"), **check)

    async def acheck_id_token(self, tokens: TokenSet, nonce: str) -> None:
        """Async :meth:`check_id_token`."""
        check = self._receipt_check(tokens, nonce)
        if check is None:
            return
        endpoints = await self.run_async(self.endpoints_flow())
        await self._verifier(endpoints).averify(check.pop("token"), **check)

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
                        mounts=loopback_mounts(self.config.provider_urls),
                    )
        return self._sync_http

    def run_sync(self, flow: Flow[T]) -> T:
        return run_sync(flow, self.sync_http())

    async def run_async(self, flow: Flow[T]) -> T:
        if self._ssl is None:
            await asyncio.to_thread(self.ssl_context)
        async with httpx.AsyncClient(
            verify=self.ssl_context(),
            timeout=self.config.timeout,
            mounts=loopback_mounts(self.config.provider_urls),
        ) as http:
            return await run_async(flow, http)

    def close(self) -> None:
        if self._sync_http is not None:
            self._sync_http.close()
            self._sync_http = None
