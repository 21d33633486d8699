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
from keybearer._browser_signin import BrowserSignIn, OpenUrl, Visit
from keybearer._challenges import Challenge, MfaSetup, _Answers
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
from keybearer._protocol import Flow, oauth
from keybearer._protocol import cognito_password as password_flows
from keybearer._protocol.cognito_password import TotpSetup
from keybearer._protocol.oauth import ClientAuth
from keybearer._session import Session
from keybearer._signout import sign_out
from keybearer._token_cache import cache_for
from keybearer._tokens import TokenSet
from keybearer.errors import (
    ChallengeAnswerError,
    ConfigurationError,
)
from keybearer.stores._base import TokenStore
from keybearer.stores.keyring import KeyringStore

logger = logging.getLogger("keybearer")


class OAuthClient:
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

    def _cognito(self, what: str) -> CognitoConfig:
        if not isinstance(self._config, CognitoConfig):
            raise ConfigurationError(
                f"{what} is a Cognito user pool API; use OAuthClient.cognito()"
            )
        return self._config

    # -- password sign-in (cognito-idp) --

    def login_password(self, username: str, password: str) -> TokenSet | Challenge:
        """Sign in with USER_PASSWORD_AUTH.

        Returns the new ``TokenSet`` (also stored), or a :class:`Challenge` that
        :meth:`respond` must answer before there are tokens.
        """
        config = self._cognito("login_password")
        self._session.cache.load()  # an unusable store fails here, before the password is sent
        return self._sign_in(password_flows.login(config, username, password, self._session.clock))

    async def alogin_password(self, username: str, password: str) -> TokenSet | Challenge:
        """Async :meth:`login_password`."""
        config = self._cognito("alogin_password")
        await asyncio.to_thread(self._session.cache.load)
        flow = password_flows.login(config, username, password, self._session.clock)
        return await self._asign_in(flow)

    def respond(
        self,
        challenge: Challenge | TotpSetup,
        *,
        code: str | None = None,
        new_password: str | None = None,
        attributes: dict[str, str] | None = None,
        mfa: str | None = None,
        answer: str | None = None,
        responses: dict[str, str] | None = None,
    ) -> TokenSet | Challenge:
        """Answer a challenge; returns tokens or the next challenge.

        Which keyword a challenge needs is in its class's docs: ``code=`` for
        MFA and one-time codes, ``new_password=`` (and ``attributes=``) for
        NEW_PASSWORD_REQUIRED, ``mfa=`` for SELECT_MFA_TYPE, ``answer=`` for a
        custom challenge, ``responses=`` for raw ChallengeResponses keys.
        """
        answers = _Answers(code, new_password, attributes, mfa, answer, responses)
        return self._sign_in(self._respond_flow(challenge, answers))

    async def arespond(
        self,
        challenge: Challenge | TotpSetup,
        *,
        code: str | None = None,
        new_password: str | None = None,
        attributes: dict[str, str] | None = None,
        mfa: str | None = None,
        answer: str | None = None,
        responses: dict[str, str] | None = None,
    ) -> TokenSet | Challenge:
        """Async :meth:`respond`."""
        answers = _Answers(code, new_password, attributes, mfa, answer, responses)
        return await self._asign_in(self._respond_flow(challenge, answers))

    def begin_totp_setup(self, challenge: MfaSetup) -> TotpSetup:
        """Start setting up an authenticator app to answer MFA_SETUP."""
        config = self._cognito("begin_totp_setup")
        return self._session.run_sync(password_flows.begin_totp_setup(config, challenge))

    async def abegin_totp_setup(self, challenge: MfaSetup) -> TotpSetup:
        """Async :meth:`begin_totp_setup`."""
        config = self._cognito("abegin_totp_setup")
        return await self._session.run_async(password_flows.begin_totp_setup(config, challenge))

    def _respond_flow(
        self, challenge: Challenge | TotpSetup, answers: _Answers
    ) -> Flow[TokenSet | Challenge]:
        config = self._cognito("respond")
        clock = self._session.clock
        if isinstance(challenge, TotpSetup):
            if not answers.code:
                raise ChallengeAnswerError("finish the TOTP setup with respond(setup, code=...)")
            return password_flows.finish_totp_setup(config, challenge, answers.code, clock)
        if not isinstance(challenge, Challenge):
            raise TypeError("respond() takes the Challenge that login_password() returned")
        return password_flows.respond(config, challenge, answers, clock)

    def _sign_in(self, flow: Flow[TokenSet | Challenge]) -> TokenSet | Challenge:
        """Run a sign-in flow; store the tokens it ends with, or pass its challenge on.

        Every sign-in method is a flow plus this (and :meth:`_asign_in`).
        """
        return self._signed_in(self._session.run_sync(flow))

    async def _asign_in(self, flow: Flow[TokenSet | Challenge]) -> TokenSet | Challenge:
        result = await self._session.run_async(flow)
        if isinstance(result, TokenSet):
            await asyncio.to_thread(self._session.keep, result)
            return result
        return self._signed_in(result)

    def _signed_in(self, result: TokenSet | Challenge) -> TokenSet | Challenge:
        if isinstance(result, TokenSet):
            self._session.keep(result)
        else:
            logger.info("the provider asks for the %s challenge", result.name)
        return result

    # -- browser sign-in (hosted UI / any OIDC provider) --

    def authorization_url(
        self,
        *,
        response_type: str = "code",
        identity_provider: str | None = None,
        idp_identifier: str | None = None,
    ) -> str:
        """A fresh sign-in URL for paste-back: show it, then :meth:`complete_login`.

        Each call starts a new attempt with its own PKCE verifier, ``state`` and
        ``nonce``. ``identity_provider``/``idp_identifier`` send the person
        straight to a federated provider (Cognito).
        """
        attempt = self._browser.new_attempt(response_type)
        endpoints = self._session.run_sync(self._session.endpoints_flow())
        return self._browser.url(endpoints, attempt, identity_provider, idp_identifier)

    async def aauthorization_url(
        self,
        *,
        response_type: str = "code",
        identity_provider: str | None = None,
        idp_identifier: str | None = None,
    ) -> str:
        """Async :meth:`authorization_url`."""
        attempt = self._browser.new_attempt(response_type)
        endpoints = await self._session.run_async(self._session.endpoints_flow())
        return self._browser.url(endpoints, attempt, identity_provider, idp_identifier)

    def complete_login(self, pasted: str) -> TokenSet:
        """Finish a sign-in from what the person pasted back (a redirect URL).

        Takes ``?code=...&state=...`` (exchanged with the PKCE verifier) or an
        implicit ``#id_token=...&access_token=...`` fragment. The ``state`` must
        belong to an attempt started here, and the ID token is checked
        (signature, issuer, audience, expiry, nonce) before anything is stored.
        """
        return self._complete(pasted, implicit_only=None)

    def _complete(self, pasted: str, *, implicit_only: str | None) -> TokenSet:
        redirect, attempt = self._browser.take(pasted, implicit_only=implicit_only)
        tokens = self._session.run_sync(self._browser.receive_flow(redirect, attempt))
        self._session.check_id_token(tokens, attempt.nonce)
        self._session.keep(tokens)
        return tokens

    async def acomplete_login(self, pasted: str) -> TokenSet:
        """Async :meth:`complete_login`."""
        return await self._acomplete(pasted, implicit_only=None)

    async def _acomplete(self, pasted: str, *, implicit_only: str | None) -> TokenSet:
        redirect, attempt = self._browser.take(pasted, implicit_only=implicit_only)
        tokens = await self._session.run_async(self._browser.receive_flow(redirect, attempt))
        await self._session.acheck_id_token(tokens, attempt.nonce)
        await asyncio.to_thread(self._session.keep, tokens)
        return tokens

    def parse_implicit(self, redirect_url: str) -> TokenSet:
        """Take the tokens of an implicit-grant redirect (``#id_token=...&access_token=...``).

        Same checks as :meth:`complete_login`; such a session has no refresh
        token, so it ends when the tokens expire.
        """
        return self._complete(redirect_url, implicit_only="complete_login")

    async def aparse_implicit(self, redirect_url: str) -> TokenSet:
        """Async :meth:`parse_implicit`."""
        return await self._acomplete(redirect_url, implicit_only="acomplete_login")

    def login_browser(
        self,
        *,
        open_url: OpenUrl | None = None,
        timeout: float = 300.0,
        identity_provider: str | None = None,
        idp_identifier: str | None = None,
        paste_fallback: bool | None = None,
    ) -> TokenSet:
        """Sign in through the browser: authorization code + PKCE, loopback redirect.

        Listens on 127.0.0.1 at the port of ``redirect_uri``, opens the sign-in
        page with ``open_url`` (default: the system browser, and the link is
        shown too), and waits up to ``timeout`` seconds for the redirect. If it
        never arrives and a person is there (a terminal or a notebook), it asks
        for the URL to be pasted instead (``paste_fallback=False`` to raise).
        """
        endpoints = self._session.run_sync(self._session.endpoints_flow())
        visit = Visit(
            endpoints, open_url, timeout, identity_provider, idp_identifier, paste_fallback
        )
        return self.complete_login(self._browser.catch_redirect(visit))

    async def alogin_browser(
        self,
        *,
        open_url: OpenUrl | None = None,
        timeout: float = 300.0,
        identity_provider: str | None = None,
        idp_identifier: str | None = None,
        paste_fallback: bool | None = None,
    ) -> TokenSet:
        """Async :meth:`login_browser`; ``open_url`` may also be a coroutine function."""
        endpoints = await self._session.run_async(self._session.endpoints_flow())
        visit = Visit(
            endpoints, open_url, timeout, identity_provider, idp_identifier, paste_fallback
        )
        return await self.acomplete_login(await self._browser.acatch_redirect(visit))

    def userinfo(self) -> dict[str, Any]:
        """The signed-in user's claims from the provider's userinfo endpoint."""
        tokens = self._session.tokens_for_request()
        return self._session.run_sync(self._userinfo_flow(tokens))

    async def auserinfo(self) -> dict[str, Any]:
        """Async :meth:`userinfo`."""
        tokens = await self._session.atokens_for_request()
        return await self._session.run_async(self._userinfo_flow(tokens))

    def _userinfo_flow(self, tokens: TokenSet) -> Flow[dict[str, Any]]:
        endpoints = yield from self._session.endpoints_flow()
        return (yield from oauth.userinfo(endpoints, tokens, self._config.timeout))

    def logout_url(self) -> str | None:
        """Where to send the browser to end the hosted-UI session (its cookie), if any.

        Cognito: ``/logout?client_id=...&logout_uri=...``; another provider: its
        ``end_session_endpoint``. ``None`` when no ``logout_uri`` is configured.
        """
        if self._config.logout_uri is None:
            return None
        return self._browser.logout_url(self._session.run_sync(self._session.endpoints_flow()))

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
