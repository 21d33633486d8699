"""OAuthClient: the one class users touch."""

from __future__ import annotations

import asyncio
import html
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from keybearer._auth import KeybearerAuth, client_options
from keybearer._browser_signin import BrowserFaces, BrowserSignIn
from keybearer._config import (
    ClientConfig,
    CognitoConfig,
    OidcConfig,
    Send,
    as_tuple,
    secret,
    validated,
)
from keybearer._io.drive import Retry
from keybearer._io.hosts import HostAllowList
from keybearer._password_signin import PasswordSignIn
from keybearer._protocol.oauth import ClientAuth
from keybearer._session import Session
from keybearer._signout import sign_out
from keybearer._token_cache import cache_for
from keybearer._tokens import TokenSet
from keybearer.stores._base import TokenStore
from keybearer.stores.keyring import KeyringStore

logger = logging.getLogger("keybearer")


class OAuthClient(PasswordSignIn, BrowserFaces):
    """Signs a user in and authenticates their API calls.

    Build it with :meth:`cognito` (a Cognito user pool) or :meth:`oidc` (any
    OpenID Connect provider). Tokens go to ``store`` (the OS keyring by
    default), are read from it once per process, and are shared by every
    client for the same provider, app client and profile.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        store: TokenStore | None = None,
        clock: Callable[[], float] | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        retry: Retry | None = None,
    ) -> None:
        """A client for ``config`` (build one with :meth:`cognito` or :meth:`oidc`).

        ``transport``/``async_transport`` replace httpx's network transports for
        calls to the provider (an ``httpx.MockTransport`` in tests, a proxy
        mount), and ``retry`` the policy for throttled calls; both default to
        the real thing.
        """
        if store is None:
            store = KeyringStore()
        self._config = config
        self._store = store
        self._session = Session(
            config,
            cache_for(store, config.store_key),
            clock or time.time,
            transport=transport,
            async_transport=async_transport,
            retry=retry,
        )
        self._auth: KeybearerAuth | None = None
        self._browser = BrowserSignIn(self._session)

    @classmethod
    def cognito(
        cls,
        user_pool_id: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        domain: str | None = None,
        scopes: Iterable[str] = ("openid",),
        redirect_uri: str | None = None,
        logout_uri: str | None = None,
        send: Send = "id",
        scheme: str | None = "Bearer",
        api_hosts: Iterable[str] = (),
        store: TokenStore | None = None,
        profile: str = "default",
        rotate_refresh_tokens: bool = False,
        token_auth: ClientAuth = "client_secret_basic",
        refresh_ahead: float = 120.0,
        timeout: float = 30.0,
        region: str | None = None,
        idp_url: str | None = None,
        issuer: str | None = None,
        jwks_url: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> OAuthClient:
        """A client for one Cognito user pool app client.

        Args:
            user_pool_id: e.g. ``"us-east-1_AbCdEf123"``; the region comes from it.
            client_id: the app client id.
            client_secret: the app client secret, for confidential app clients.
            domain: the hosted UI domain (``myapp.auth.us-east-1.amazoncognito.com``
                or a custom domain), needed for browser sign-in.
            scopes: scopes to ask the hosted UI for (``openid`` for an ID token;
                ``<resource server>/<scope>`` for API methods with OAuth scopes).
            redirect_uri: the app client's registered callback, e.g.
                ``http://localhost:8765/callback`` for browser sign-in.
            logout_uri: the registered sign-out URL, for :meth:`logout_url`.
            send: which token the API gets: ``"id"`` (a REST API Cognito authorizer
                without OAuth scopes) or ``"access"`` (methods with OAuth scopes).
            scheme: ``"Bearer"`` sends ``Authorization: Bearer <token>``; ``None``
                sends the bare token.
            api_hosts: hosts that may receive the token, besides the ``base_url``
                host of clients made by :meth:`http`.
            store: where tokens persist; default ``KeyringStore()``.
            profile: keeps sessions apart (two users of one pool, say).
            rotate_refresh_tokens: the app client rotates refresh tokens, so refresh
                password sign-ins with ``GetTokensFromRefreshToken``.
            token_auth: how the hosted UI's token endpoint gets the client secret.
            refresh_ahead: refresh this many seconds (at least 60) before expiry.
            timeout: seconds to wait for Cognito.
            region: the AWS region, if not the pool id's.
            idp_url: the cognito-idp endpoint (a VPC endpoint, or a local stand-in
                in tests); derived from the region by default.
            issuer: the ``iss`` the pool's tokens carry; by default Cognito's
                ``https://cognito-idp.<region>.amazonaws.com/<pool id>``.
            jwks_url: the pool's JWKS; by default under the issuer.
            clock: a ``time.time`` stand-in, for tests.
        """
        config = validated(
            lambda: CognitoConfig(
                user_pool_id=user_pool_id,
                client_id=client_id,
                client_secret=secret(client_secret),
                domain=domain,
                scopes=as_tuple(scopes),
                redirect_uri=redirect_uri,
                logout_uri=logout_uri,
                send=send,
                scheme=scheme,
                api_hosts=as_tuple(api_hosts),
                profile=profile,
                rotate_refresh_tokens=rotate_refresh_tokens,
                token_auth=token_auth,
                refresh_ahead=refresh_ahead,
                timeout=timeout,
                # An empty string means "derive it from the pool id" to the model.
                region=region or "",
                idp_url=idp_url or "",
                issuer=issuer or "",
                jwks_url=jwks_url or "",
            )
        )
        return cls(config, store=store, clock=clock)

    @classmethod
    def oidc(
        cls,
        issuer: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        scopes: Iterable[str] = ("openid",),
        redirect_uri: str | None = None,
        logout_uri: str | None = None,
        send: Send = "id",
        scheme: str | None = "Bearer",
        api_hosts: Iterable[str] = (),
        store: TokenStore | None = None,
        profile: str = "default",
        token_auth: ClientAuth = "client_secret_basic",
        refresh_ahead: float = 120.0,
        timeout: float = 30.0,
        clock: Callable[[], float] | None = None,
    ) -> OAuthClient:
        """A client for any OpenID Connect provider, configured by its discovery document.

        The document (``<issuer>/.well-known/openid-configuration``) is read on
        first need, once per client. The other arguments mean what they mean
        for :meth:`cognito`.
        """
        config = validated(
            lambda: OidcConfig(
                issuer=issuer,
                client_id=client_id,
                client_secret=secret(client_secret),
                scopes=as_tuple(scopes),
                redirect_uri=redirect_uri,
                logout_uri=logout_uri,
                send=send,
                scheme=scheme,
                api_hosts=as_tuple(api_hosts),
                profile=profile,
                token_auth=token_auth,
                refresh_ahead=refresh_ahead,
                timeout=timeout,
            )
        )
        return cls(config, store=store, clock=clock)

    @classmethod
    def from_profile(
        cls,
        name: str | None = None,
        *,
        config_path: str | os.PathLike[str] | None = None,
        store: TokenStore | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> OAuthClient:
        """The client a named profile describes: the one the ``keybearer`` command uses.

        The profile comes from ``name``, else ``KEYBEARER_PROFILE``, else
        ``default``; settings from the config file and ``KEYBEARER_*``
        variables (see docs/cli.md).
        """
        # Lazy: profiles build clients (they import this module), and parse TOML.
        from keybearer._profiles import client_from_profile

        return client_from_profile(name, config_path=config_path, store=store, environ=environ)

    def __repr__(self) -> str:
        tokens = self._session.cache.tokens
        who = tokens.username if tokens is not None else None
        return f"OAuthClient({self._config.describe}, signed_in_as={who!r})"

    def _repr_html_(self) -> str:
        tokens = self._session.cache.load()
        state = tokens._repr_html_() if tokens is not None else "<p>Not signed in.</p>"
        return f"<p><b>OAuthClient</b> — {html.escape(self._config.describe)}</p>{state}"

    @property
    def config(self) -> ClientConfig:
        return self._config

    @property
    def tokens(self) -> TokenSet | None:
        """The current tokens (read from the store on first use), or None."""
        return self._session.cache.load()

    def valid_tokens(self) -> TokenSet:
        """Tokens fit to send now: refreshed first if they are due.

        Raises ``LoginRequiredError`` when there is no session (or it ended).
        """
        return self._session.tokens_for_request()

    async def avalid_tokens(self) -> TokenSet:
        """Async :meth:`valid_tokens`."""
        return await self._session.atokens_for_request()

    async def atokens(self) -> TokenSet | None:
        """Async :attr:`tokens`: the first read of the store happens off the event loop."""
        if not self._session.cache.loaded:
            await asyncio.to_thread(self._session.cache.load)
        return self._session.cache.tokens

    # -- session upkeep --

    def refresh(self) -> TokenSet:
        """Refresh the tokens now, whatever their expiry."""
        return self._session.refresh(seen=None, rejected=False)

    async def arefresh(self) -> TokenSet:
        """Async :meth:`refresh`."""
        return await self._session.arefresh(seen=None, rejected=False)

    def logout(self, *, global_: bool = False) -> bool:
        """Revoke the session at the provider and forget the tokens here.

        Password sign-ins are revoked with Cognito's ``RevokeToken``; browser
        sign-ins at the token revocation endpoint. ``global_=True`` also signs
        the user out of every device (Cognito's ``GlobalSignOut``). The local
        tokens are wiped even when the provider cannot be reached; the return
        value says whether the revocation succeeded (a warning is logged when
        it did not). To end the hosted UI's browser session as well, send the
        browser to :meth:`logout_url`.

        It holds the same cross-process lock as a refresh and reads the store
        again first, so it revokes the newest refresh token even if another
        process has just rotated it.

        Raises:
            StoreError: the store still holds the tokens after deleting them
                (a keyring that refused): this process is signed out, the
                next one would not be.
        """
        return sign_out(self._session, everywhere=global_)

    async def alogout(self, *, global_: bool = False) -> bool:
        """Async :meth:`logout` (the same steps, in a worker thread)."""
        return await asyncio.to_thread(self.logout, global_=global_)

    # -- calling the API --

    @property
    def auth(self) -> httpx.Auth:
        """An ``httpx.Auth`` for any httpx client; sends tokens to ``api_hosts`` only."""
        if self._auth is None:
            self._auth = KeybearerAuth(self._session, HostAllowList(self._config.api_hosts))
        return self._auth

    def http(self, *, raise_on_unauthorized: bool = False, **options: Any) -> httpx.Client:
        """An ``httpx.Client`` that authenticates to ``base_url``'s host (and ``api_hosts``).

        Takes every ``httpx.Client`` keyword argument except ``auth``, and
        ``raise_on_unauthorized=True`` to raise ``UnauthorizedError`` (with
        the likely cause) when the API still answers 401/403 after a refresh.
        Otherwise such a response comes back as usual, its cause attached:
        ``keybearer.explain(response)``.
        """
        return httpx.Client(**client_options(self._session, options, raise_on_unauthorized))

    def async_http(
        self, *, raise_on_unauthorized: bool = False, **options: Any
    ) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient``, as :meth:`http`."""
        return httpx.AsyncClient(**client_options(self._session, options, raise_on_unauthorized))

    def close(self) -> None:
        """Close the connections to the provider (the tokens stay)."""
        self._session.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        self._session.close()

    def __enter__(self) -> OAuthClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> OAuthClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
