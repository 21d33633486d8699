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
    Grant,
    OidcConfig,
    Send,
    as_tuple,
    secret,
    validated,
)
from keybearer._io.drive import Retry
from keybearer._io.hosts import HostAllowList
from keybearer._password_signin import PasswordSignIn
from keybearer._protocol import Flow, client_credentials
from keybearer._protocol.app_client import PasswordFlow
from keybearer._protocol.oauth import ClientAuth
from keybearer._session import Session
from keybearer._signout import sign_out
from keybearer._token_cache import cache_for
from keybearer._tokens import TokenSet
from keybearer.stores._base import TokenStore
from keybearer.stores.keyring import KeyringStore
from keybearer.stores.redis import RedisStore

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
        if isinstance(store, RedisStore):  # [m2m] seals with the app client secret
            store = store.sealed_with(_secret_of(config))
        self._config = config
        self._store = store
        self._session = Session(
            config,
            cache_for(store, config.store_key),
            clock or time.time,
            transport=transport,
            async_transport=async_transport,
            retry=retry,
            obtain=self._obtain_flow if config.client_credentials else None,  # [m2m]
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
        scopes: Iterable[str] | None = None,
        redirect_uri: str | None = None,
        logout_uri: str | None = None,
        send: Send | None = None,
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
        password_flow: PasswordFlow = "user_password",
        remember_device: bool = False,
        grant: Grant | None = None,
        clock: Callable[[], float] | None = None,
    ) -> OAuthClient:
        """A client for one Cognito user pool app client.

        Args:
            user_pool_id: e.g. ``"us-east-1_AbCdEf123"``; the region comes from it.
            client_id: the app client id.
            client_secret: the app client secret, for confidential app clients. With
                ``grant="client_credentials"`` it defaults to ``KEYBEARER_CLIENT_SECRET``.
            domain: the hosted UI domain (``myapp.auth.us-east-1.amazoncognito.com``
                or a custom domain), needed for browser sign-in.
            scopes: scopes to ask the hosted UI for (default ``openid``, for an ID
                token; ``<resource server>/<scope>`` for API methods with OAuth
                scopes). With client credentials: custom scopes only; default none,
                which Cognito answers with every scope the app client allows.
            redirect_uri: the app client's registered callback, e.g.
                ``http://localhost:8765/callback`` for browser sign-in.
            logout_uri: the registered sign-out URL, for :meth:`logout_url`.
            send: which token the API gets: ``"id"`` (a REST API Cognito authorizer
                without OAuth scopes; the default) or ``"access"`` (methods with
                OAuth scopes; the default and only token with client credentials).
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
            password_flow: how :meth:`login_password` proves the password:
                ``"user_password"`` sends it (USER_PASSWORD_AUTH); ``"srp"`` proves
                it without sending it (USER_SRP_AUTH, what app clients made with
                the console's defaults allow).
            remember_device: confirm the device Cognito hands out at sign-in and
                prove it on later sign-ins, so a pool that skips MFA on remembered
                devices asks for no code; its secret stays in ``store``.
            grant: ``"client_credentials"`` for a service's own token (machine to
                machine): no sign-in, the first request obtains a token and a new
                one replaces it before expiry. Through ``/oauth2/token`` when
                ``domain`` is set, else Cognito's ``GetClientToken``.
            clock: a ``time.time`` stand-in, for tests.
        """
        config = validated(
            lambda: CognitoConfig(
                user_pool_id=user_pool_id,
                client_id=client_id,
                client_secret=secret(_grant_secret(grant, client_secret)),
                domain=domain,
                scopes=as_tuple(scopes) if scopes is not None else None,
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
                grant=grant,
                # An empty string means "derive it from the pool id" to the model.
                region=region or "",
                idp_url=idp_url or "",
                issuer=issuer or "",
                jwks_url=jwks_url or "",
                password_flow=password_flow,
                remember_device=remember_device,
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
        scopes: Iterable[str] | None = None,
        redirect_uri: str | None = None,
        logout_uri: str | None = None,
        send: Send | None = None,
        scheme: str | None = "Bearer",
        api_hosts: Iterable[str] = (),
        store: TokenStore | None = None,
        profile: str = "default",
        token_auth: ClientAuth = "client_secret_basic",
        refresh_ahead: float = 120.0,
        timeout: float = 30.0,
        grant: Grant | None = None,
        clock: Callable[[], float] | None = None,
    ) -> OAuthClient:
        """A client for any OpenID Connect provider, configured by its discovery document.

        The document (``<issuer>/.well-known/openid-configuration``) is read on
        first need, once per client. The other arguments mean what they mean
        for :meth:`cognito`; ``grant="client_credentials"`` uses the provider's
        token endpoint.
        """
        config = validated(
            lambda: OidcConfig(
                issuer=issuer,
                client_id=client_id,
                client_secret=secret(_grant_secret(grant, client_secret)),
                scopes=as_tuple(scopes) if scopes is not None else None,
                redirect_uri=redirect_uri,
                logout_uri=logout_uri,
                send=send,
                scheme=scheme,
                api_hosts=as_tuple(api_hosts),
                profile=profile,
                token_auth=token_auth,
                refresh_ahead=refresh_ahead,
                timeout=timeout,
                grant=grant,
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
        """The current tokens (read from the store on first use), or None.

        With client credentials there is always a token: the first use obtains one.
        """
        if self._config.client_credentials:  # [m2m]
            return self._session.tokens_for_request()
        return self._session.cache.load()

    def _obtain_flow(self) -> Flow[TokenSet]:
        """[m2m] A client-credentials token: what the session calls instead of a sign-in."""
        session, config = self._session, self._config
        # Cognito without a hosted-UI domain has no token endpoint: GetClientToken.
        if isinstance(config, CognitoConfig) and config.domain is None:
            return client_credentials.get_client_token(config, session.clock)
        return client_credentials.via_token_endpoint(
            session.endpoints_flow, config.oauth_client, config.scopes, session.clock
        )

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

    def logout(self, *, global_: bool = False, forget_device: bool = False) -> bool:
        """Revoke the session at the provider and forget the tokens here.

        Password sign-ins are revoked with Cognito's ``RevokeToken``; browser
        sign-ins at the token revocation endpoint. ``global_=True`` also signs
        the user out of every device (Cognito's ``GlobalSignOut``). The local
        tokens are wiped even when the provider cannot be reached; the return
        value says whether the revocation succeeded (a warning is logged when
        it did not). To end the hosted UI's browser session as well, send the
        browser to :meth:`logout_url`. A remembered device stays remembered
        unless ``forget_device=True`` (see :meth:`forget_device`).

        It holds the same cross-process lock as a refresh and reads the store
        again first, so it revokes the newest refresh token even if another
        process has just rotated it.

        Raises:
            StoreError: the store still holds the tokens after deleting them
                (a keyring that refused): this process is signed out, the
                next one would not be.
        """
        if forget_device:
            self._forget_device_quietly()
        return sign_out(self._session, everywhere=global_)

    async def alogout(self, *, global_: bool = False, forget_device: bool = False) -> bool:
        """Async :meth:`logout` (the same steps, in a worker thread)."""
        return await asyncio.to_thread(self.logout, global_=global_, forget_device=forget_device)

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


# [m2m] begin: client-credentials helpers
def _grant_secret(grant: Grant | None, client_secret: str | None) -> str | None:
    """The client secret; for client credentials, ``KEYBEARER_CLIENT_SECRET`` if none is given."""
    if grant == "client_credentials" and client_secret is None:
        return os.environ.get("KEYBEARER_CLIENT_SECRET")
    return client_secret


def _secret_of(config: ClientConfig) -> str | None:
    return config.client_secret.get_secret_value() if config.client_secret else None


# [m2m] end
