"""OAuthClient: the one class users touch."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from keybearer._auth import KeybearerAuth
from keybearer._challenges import Challenge, MfaSetup, _Answers
from keybearer._config import ClientConfig, CognitoConfig, OidcConfig, Send, build_config
from keybearer._io.hosts import HostAllowList
from keybearer._io.urls import check_secure_url, loopback_mounts
from keybearer._protocol import Flow, oauth
from keybearer._protocol import cognito_password as password_flows
from keybearer._protocol.cognito_logout import revoke as cognito_revoke
from keybearer._protocol.cognito_password import TotpSetup
from keybearer._protocol.oauth import ClientAuth
from keybearer._session import Session
from keybearer._signin.attempt import Attempt
from keybearer._signin.browser import can_prompt, open_in_browser, prompt_for_redirect
from keybearer._signin.loopback import LoopbackReceiver
from keybearer._signin.redirect import Redirect, parse_redirect
from keybearer._token_cache import cache_for
from keybearer._tokens import TokenSet
from keybearer.errors import (
    ChallengeAnswerError,
    ConfigurationError,
    KeybearerError,
    LoginTimeoutError,
    StateMismatchError,
)
from keybearer.stores._base import TokenStore

logger = logging.getLogger("keybearer")

OpenUrl = Callable[[str], Any]

# Sign-in attempts kept for complete_login(): a person may open the link twice.
_MAX_ATTEMPTS = 8


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
    ) -> None:
        if store is None:
            from keybearer.stores.keyring import KeyringStore

            store = KeyringStore()
        self._config = config
        self._store = store
        self._session = Session(config, cache_for(store, config.store_key), clock or time.time)
        self._auth: KeybearerAuth | None = None
        self._attempts: OrderedDict[str, Attempt] = OrderedDict()
        self._attempts_lock = threading.Lock()

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
        config: CognitoConfig = build_config(CognitoConfig, _settings(locals()))
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
        config: OidcConfig = build_config(OidcConfig, _settings(locals()))
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
        from keybearer._profiles import client_from_profile

        return client_from_profile(name, config_path=config_path, store=store, environ=environ)

    def __repr__(self) -> str:
        tokens = self._session.cache.tokens
        who = tokens.username if tokens is not None else None
        return f"OAuthClient({self._config.describe}, signed_in_as={who!r})"

    def _repr_html_(self) -> str:
        import html

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
        flow = password_flows.login(config, username, password, self._session.clock)
        return self._finish(self._session.run_sync(flow))

    async def alogin_password(self, username: str, password: str) -> TokenSet | Challenge:
        """Async :meth:`login_password`."""
        config = self._cognito("alogin_password")
        await asyncio.to_thread(self._session.cache.load)
        flow = password_flows.login(config, username, password, self._session.clock)
        return await self._afinish(await self._session.run_async(flow))

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
        return self._finish(self._session.run_sync(self._respond_flow(challenge, answers)))

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
        result = await self._session.run_async(self._respond_flow(challenge, answers))
        return await self._afinish(result)

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

    def _finish(self, result: TokenSet | Challenge) -> TokenSet | Challenge:
        if isinstance(result, TokenSet):
            with self._session.exclusive():  # not overwritten by a refresh in flight
                self._session.cache.put(result)
            logger.info("signed in to %s", self._session.cache.key)
        else:
            logger.info("the provider asks for the %s challenge", result.name)
        return result

    async def _afinish(self, result: TokenSet | Challenge) -> TokenSet | Challenge:
        if isinstance(result, TokenSet):
            await asyncio.to_thread(self._finish, result)
            return result
        return self._finish(result)

    # -- browser sign-in (hosted UI / any OIDC provider) --

    def _new_attempt(self, response_type: str, redirect_uri: str | None = None) -> Attempt:
        uri = redirect_uri or self._config.redirect_uri
        if uri is None:
            raise ConfigurationError(
                "browser sign-in needs redirect_uri= (the callback registered with the app "
                "client, e.g. 'http://localhost:8765/callback')"
            )
        if response_type not in ("code", "token"):
            raise ConfigurationError("response_type must be 'code' or 'token'")
        attempt = Attempt(redirect_uri=uri, response_type=response_type)
        with self._attempts_lock:
            self._attempts[attempt.state] = attempt
            while len(self._attempts) > _MAX_ATTEMPTS:
                self._attempts.popitem(last=False)
        return attempt

    def _url_for(self, endpoints: oauth.Endpoints, attempt: Attempt, extra: dict[str, str]) -> str:
        implicit = attempt.response_type == "token"
        return oauth.authorization_url(
            endpoints,
            self._config.client_id,
            redirect_uri=attempt.redirect_uri,
            scopes=self._config.scopes,
            state=attempt.state,
            nonce=attempt.nonce,
            code_challenge=None if implicit else attempt.challenge,
            response_type=attempt.response_type,
            extra=extra,
        )

    @staticmethod
    def _extra(identity_provider: str | None, idp_identifier: str | None) -> dict[str, str]:
        extra: dict[str, str] = {}
        if identity_provider:
            extra["identity_provider"] = identity_provider
        if idp_identifier:
            extra["idp_identifier"] = idp_identifier
        return extra

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
        attempt = self._new_attempt(response_type)
        endpoints = self._session.run_sync(self._session.endpoints_flow())
        return self._url_for(endpoints, attempt, self._extra(identity_provider, idp_identifier))

    async def aauthorization_url(
        self,
        *,
        response_type: str = "code",
        identity_provider: str | None = None,
        idp_identifier: str | None = None,
    ) -> str:
        """Async :meth:`authorization_url`."""
        attempt = self._new_attempt(response_type)
        endpoints = await self._session.run_async(self._session.endpoints_flow())
        return self._url_for(endpoints, attempt, self._extra(identity_provider, idp_identifier))

    def _attempt_for(self, redirect: Redirect) -> Attempt:
        with self._attempts_lock:
            attempt = self._attempts.pop(redirect.state, None) if redirect.state else None
        if attempt is None:
            raise StateMismatchError(
                "this redirect does not belong to a sign-in started here (its state is "
                "missing or unknown); start again with authorization_url() or login_browser()"
            )
        return attempt

    def _receive_flow(self, redirect: Redirect, attempt: Attempt) -> Flow[TokenSet]:
        """Turn a redirect into tokens: exchange a code, or take implicit tokens."""
        endpoints = yield from self._session.endpoints_flow()
        if redirect.code is not None:
            if attempt.response_type != "code":
                raise StateMismatchError("an authorization code arrived for an implicit sign-in")
            return (
                yield from oauth.exchange_code(
                    endpoints,
                    self._config.oauth_client,
                    code=redirect.code,
                    verifier=attempt.verifier,
                    redirect_uri=attempt.redirect_uri,
                    clock=self._session.clock,
                )
            )
        if attempt.response_type != "token":
            # A code (PKCE) sign-in takes only a code: tokens in a fragment would
            # skip the PKCE binding the sign-in was started with.
            raise StateMismatchError("tokens arrived in a #fragment for a code (PKCE) sign-in")
        return self._implicit_tokens(redirect)

    def _implicit_tokens(self, redirect: Redirect) -> TokenSet:
        if redirect.access_token is None:
            raise StateMismatchError("the implicit redirect has no access_token")
        if redirect.token_type is not None and redirect.token_type.lower() != "bearer":
            raise StateMismatchError(f"the redirect carries a {redirect.token_type!r} token")
        now = self._session.clock()
        tokens = TokenSet(
            access_token=redirect.access_token,
            id_token=redirect.id_token,
            expires_at=now + (redirect.expires_in or 3600.0),
            obtained_at=now,
            origin="implicit",
        )
        return tokens.model_copy(update={"username": tokens.claimed_username})

    def complete_login(self, pasted: str) -> TokenSet:
        """Finish a sign-in from what the person pasted back (a redirect URL).

        Takes ``?code=...&state=...`` (exchanged with the PKCE verifier) or an
        implicit ``#id_token=...&access_token=...`` fragment. The ``state`` must
        belong to an attempt started here, and the ID token is checked
        (signature, issuer, audience, expiry, nonce) before anything is stored.
        """
        redirect = parse_redirect(pasted)
        attempt = self._attempt_for(redirect)
        tokens = self._session.run_sync(self._receive_flow(redirect, attempt))
        self._session.check_id_token(tokens, attempt.nonce)
        result = self._finish(tokens)
        assert isinstance(result, TokenSet)
        return result

    async def acomplete_login(self, pasted: str) -> TokenSet:
        """Async :meth:`complete_login`."""
        redirect = parse_redirect(pasted)
        attempt = self._attempt_for(redirect)
        tokens = await self._session.run_async(self._receive_flow(redirect, attempt))
        await self._session.acheck_id_token(tokens, attempt.nonce)
        await self._afinish(tokens)
        return tokens

    def parse_implicit(self, redirect_url: str) -> TokenSet:
        """Take the tokens of an implicit-grant redirect (``#id_token=...&access_token=...``).

        Same checks as :meth:`complete_login`; such a session has no refresh
        token, so it ends when the tokens expire.
        """
        redirect = parse_redirect(redirect_url)
        if not redirect.is_implicit:
            raise StateMismatchError(
                "this is not an implicit-grant redirect (no tokens in its #fragment); "
                "use complete_login() for a ?code= redirect"
            )
        return self.complete_login(redirect_url)

    async def aparse_implicit(self, redirect_url: str) -> TokenSet:
        """Async :meth:`parse_implicit`."""
        redirect = parse_redirect(redirect_url)
        if not redirect.is_implicit:
            raise StateMismatchError(
                "this is not an implicit-grant redirect (no tokens in its #fragment); "
                "use acomplete_login() for a ?code= redirect"
            )
        return await self.acomplete_login(redirect_url)

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
        attempt = self._new_attempt("code")
        endpoints = self._session.run_sync(self._session.endpoints_flow())
        with LoopbackReceiver(attempt.redirect_uri, attempt.state) as receiver:
            attempt = self._rebind(attempt, receiver.redirect_uri)
            url = self._url_for(endpoints, attempt, self._extra(identity_provider, idp_identifier))
            result = (open_url or open_in_browser)(url)
            if inspect.isawaitable(result):
                raise ConfigurationError("open_url returned an awaitable; use alogin_browser()")
            try:
                pasted = receiver.wait(timeout)
            except LoginTimeoutError:
                if not self._may_prompt(paste_fallback):
                    raise
                pasted = prompt_for_redirect()
        return self.complete_login(pasted)

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
        attempt = self._new_attempt("code")
        endpoints = await self._session.run_async(self._session.endpoints_flow())
        with LoopbackReceiver(attempt.redirect_uri, attempt.state) as receiver:
            attempt = self._rebind(attempt, receiver.redirect_uri)
            url = self._url_for(endpoints, attempt, self._extra(identity_provider, idp_identifier))
            result = (open_url or open_in_browser)(url)
            if inspect.isawaitable(result):
                await result
            try:
                pasted = await asyncio.to_thread(receiver.wait, timeout)
            except LoginTimeoutError:
                if not self._may_prompt(paste_fallback):
                    raise
                pasted = await asyncio.to_thread(prompt_for_redirect)
        return await self.acomplete_login(pasted)

    def _rebind(self, attempt: Attempt, redirect_uri: str) -> Attempt:
        """Record the real redirect URI once the loopback port is known (port 0)."""
        if redirect_uri == attempt.redirect_uri:
            return attempt
        bound = Attempt(
            redirect_uri=redirect_uri,
            response_type=attempt.response_type,
            state=attempt.state,
            nonce=attempt.nonce,
            verifier=attempt.verifier,
        )
        with self._attempts_lock:
            self._attempts[attempt.state] = bound
        return bound

    @staticmethod
    def _may_prompt(paste_fallback: bool | None) -> bool:
        return can_prompt() if paste_fallback is None else paste_fallback

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
        endpoints = self._session.run_sync(self._session.endpoints_flow())
        if endpoints.end_session is None:
            return None
        from urllib.parse import urlencode

        if isinstance(self._config, CognitoConfig):
            query = {"client_id": self._config.client_id, "logout_uri": self._config.logout_uri}
        else:
            query = {
                "client_id": self._config.client_id,
                "post_logout_redirect_uri": self._config.logout_uri,
            }
        return f"{endpoints.end_session}?{urlencode(query)}"

    # -- session upkeep --

    def refresh(self) -> TokenSet:
        """Refresh the tokens now, whatever their expiry."""
        return self._session.refresh(seen=None, rejected=False)

    async def arefresh(self) -> TokenSet:
        """Async :meth:`refresh`."""
        return await self._session.arefresh(seen=None, rejected=False)

    def _revoke_flow(self, tokens: TokenSet, everywhere: bool) -> Flow[bool]:
        if tokens.origin == "hosted_ui":
            if everywhere and isinstance(self._config, CognitoConfig):
                # First, while the access token still works: revoking kills it.
                yield from cognito_revoke(self._config, tokens, everywhere=True, refresh=False)
            endpoints = yield from self._session.endpoints_flow()
            return (yield from oauth.revoke(endpoints, self._config.oauth_client, tokens))
        if tokens.origin == "implicit" and not everywhere:
            return False
        config = self._cognito("logout")
        yield from cognito_revoke(config, tokens, everywhere=everywhere, refresh=True)
        return True

    def logout(self, *, global_: bool = False) -> bool:
        """Revoke the session at the provider and forget the tokens here.

        Password sign-ins are revoked with Cognito's ``RevokeToken``; browser
        sign-ins at the token revocation endpoint. ``global_=True`` also signs
        the user out of every device (Cognito's ``GlobalSignOut``). The local
        tokens are wiped even when the provider cannot be reached; the return
        value says whether the revocation succeeded (a warning is logged when
        it did not). To end the hosted UI's browser session as well, send the
        browser to :meth:`logout_url`.
        """
        tokens = self._session.cache.load()
        revoked = False
        if tokens is not None:
            try:
                if global_ and tokens.expires_at <= self._session.clock():
                    # GlobalSignOut takes the access token, so it must be alive.
                    tokens = self._session.refresh(seen=None, rejected=False)
                revoked = self._session.run_sync(self._revoke_flow(tokens, global_))
            except KeybearerError as exc:
                logger.warning("signed out locally, but the provider did not revoke: %s", exc)
        with self._session.exclusive():  # after any refresh in flight, which would store again
            self._session.cache.clear()
        return revoked

    async def alogout(self, *, global_: bool = False) -> bool:
        """Async :meth:`logout`."""
        if not self._session.cache.loaded:
            await asyncio.to_thread(self._session.cache.load)
        tokens = self._session.cache.tokens
        revoked = False
        if tokens is not None:
            try:
                if global_ and tokens.expires_at <= self._session.clock():
                    tokens = await self._session.arefresh(seen=None, rejected=False)
                revoked = await self._session.run_async(self._revoke_flow(tokens, global_))
            except KeybearerError as exc:
                logger.warning("signed out locally, but the provider did not revoke: %s", exc)

        def forget() -> None:
            with self._session.exclusive():
                self._session.cache.clear()

        await asyncio.to_thread(forget)
        return revoked

    # -- calling the API --

    @property
    def auth(self) -> httpx.Auth:
        """An ``httpx.Auth`` for any httpx client; sends tokens to ``api_hosts`` only."""
        if self._auth is None:
            self._auth = KeybearerAuth(self._session, HostAllowList(self._config.api_hosts))
        return self._auth

    def _auth_for(self, kwargs: dict[str, Any]) -> KeybearerAuth:
        if "auth" in kwargs:
            raise ConfigurationError("http()/async_http() set auth themselves; do not pass auth=")
        raise_on_unauthorized = bool(kwargs.pop("raise_on_unauthorized", False))
        hosts = list(self._config.api_hosts)
        base_url = kwargs.get("base_url")
        if base_url:
            try:
                check_secure_url(str(base_url), what="base_url")
            except ValueError as exc:
                raise ConfigurationError(f"{exc}; the token would never be sent") from None
            hosts.append(str(httpx.URL(str(base_url)).copy_with(path="/", query=None)))
        if "proxy" not in kwargs:
            # A loopback API never goes through an environment proxy: the token
            # would cross it in clear text. The caller's own mounts win.
            kwargs["mounts"] = {**loopback_mounts(hosts), **(kwargs.get("mounts") or {})}
        return KeybearerAuth(
            self._session, HostAllowList(hosts), raise_on_unauthorized=raise_on_unauthorized
        )

    def http(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` that authenticates to ``base_url``'s host (and ``api_hosts``).

        Takes every ``httpx.Client`` keyword argument except ``auth``, and
        ``raise_on_unauthorized=True`` to raise ``UnauthorizedError`` (with
        the likely cause) when the API still answers 401/403 after a refresh.
        Otherwise such a response comes back as usual, its cause attached:
        ``keybearer.explain(response)``.
        """
        return httpx.Client(auth=self._auth_for(kwargs), **self._tls(kwargs))

    def async_http(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient``, as :meth:`http`."""
        return httpx.AsyncClient(auth=self._auth_for(kwargs), **self._tls(kwargs))

    def _tls(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        # httpx builds a new SSL context for every client, reading the CA bundle
        # (~20 ms); a client per thread or per task would pay it every time.
        # Share the session's context unless the caller chose TLS settings.
        if "verify" not in kwargs and "trust_env" not in kwargs:
            kwargs["verify"] = self._session.ssl_context()
        return kwargs

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


def _settings(arguments: dict[str, Any]) -> dict[str, Any]:
    """A constructor's arguments as configuration values.

    ``None`` means "derive it" (endpoints) or "none" (a secret), which the
    model's defaults already say, except for ``scheme``, where it means "send
    the bare token". A lone string where a list belongs is one item.
    """
    values: dict[str, Any] = {}
    for name, value in arguments.items():
        if name in ("cls", "store", "clock") or (value is None and name != "scheme"):
            continue
        if name in ("scopes", "api_hosts"):
            value = (value,) if isinstance(value, str) else tuple(value)
        values[name] = value
    return values
