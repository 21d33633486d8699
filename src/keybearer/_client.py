"""OAuthClient: the one class users touch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from ._auth import KeybearerAuth
from ._cache import cache_for
from ._challenges import Challenge, MfaSetup, _Answers
from ._config import CognitoConfig, Send, build_config
from ._hosts import HostAllowList
from ._session import Session
from ._tokens import TokenSet
from .errors import ChallengeAnswerError, ConfigurationError, KeybearerError
from .flows import Flow
from .flows import password as password_flows
from .flows.logout import revoke as revoke_flow
from .flows.password import TotpSetup
from .stores._base import TokenStore

logger = logging.getLogger("keybearer")


class OAuthClient:
    """Signs a user in to a Cognito user pool and authenticates their API calls.

    Build it with :meth:`cognito`. Tokens go to ``store`` (the OS keyring by
    default), are read from it once per process, and are shared by every
    client for the same pool, app client and profile.
    """

    def __init__(
        self,
        config: CognitoConfig,
        *,
        store: TokenStore | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if store is None:
            from .stores.keyring import KeyringStore

            store = KeyringStore()
        self._config = config
        self._store = store
        self._session = Session(config, cache_for(store, config.store_key), clock or time.time)
        self._auth: KeybearerAuth | None = None

    @classmethod
    def cognito(
        cls,
        user_pool_id: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        send: Send = "id",
        scheme: str | None = "Bearer",
        api_hosts: Iterable[str] = (),
        store: TokenStore | None = None,
        profile: str = "default",
        rotate_refresh_tokens: bool = False,
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
            send: which token the API gets: ``"id"`` (a REST API Cognito authorizer
                without OAuth scopes) or ``"access"`` (methods with OAuth scopes).
            scheme: ``"Bearer"`` sends ``Authorization: Bearer <token>``; ``None``
                sends the bare token.
            api_hosts: hosts that may receive the token, besides the ``base_url``
                host of clients made by :meth:`http`.
            store: where tokens persist; default ``KeyringStore()``.
            profile: keeps sessions apart (two users of one pool, say).
            rotate_refresh_tokens: the app client rotates refresh tokens, so refresh
                with ``GetTokensFromRefreshToken``.
            refresh_ahead: refresh this many seconds (at least 60) before expiry.
            timeout: seconds to wait for Cognito.
            region, idp_url, issuer, jwks_url: override what is derived from the
                pool id (a VPC endpoint, or a local stand-in in tests).
            clock: a ``time.time`` stand-in, for tests.
        """
        values: dict[str, Any] = {
            "user_pool_id": user_pool_id,
            "client_id": client_id,
            "client_secret": client_secret,
            "send": send,
            "scheme": scheme,
            "api_hosts": tuple(api_hosts),
            "profile": profile,
            "rotate_refresh_tokens": rotate_refresh_tokens,
            "refresh_ahead": refresh_ahead,
            "timeout": timeout,
        }
        overrides = {"region": region, "idp_url": idp_url, "issuer": issuer, "jwks_url": jwks_url}
        values.update({k: v for k, v in overrides.items() if v is not None})
        config: CognitoConfig = build_config(CognitoConfig, values)
        return cls(config, store=store, clock=clock)

    def __repr__(self) -> str:
        return (
            f"OAuthClient(user_pool_id={self._config.user_pool_id!r}, "
            f"client_id={self._config.client_id!r}, profile={self._config.profile!r}, "
            f"signed_in={self._session.cache.load() is not None})"
        )

    @property
    def config(self) -> CognitoConfig:
        return self._config

    @property
    def tokens(self) -> TokenSet | None:
        """The current tokens (read from the store on first use), or None."""
        return self._session.cache.load()

    # -- password sign-in (cognito-idp) --

    def login_password(self, username: str, password: str) -> TokenSet | Challenge:
        """Sign in with USER_PASSWORD_AUTH.

        Returns the new ``TokenSet`` (also stored), or a :class:`Challenge` that
        :meth:`respond` must answer before there are tokens.
        """
        flow = password_flows.login(self._config, username, password, self._session.clock)
        return self._finish(self._session.run_sync(flow))

    async def alogin_password(self, username: str, password: str) -> TokenSet | Challenge:
        """Async :meth:`login_password`."""
        flow = password_flows.login(self._config, username, password, self._session.clock)
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
        return self._session.run_sync(password_flows.begin_totp_setup(self._config, challenge))

    async def abegin_totp_setup(self, challenge: MfaSetup) -> TotpSetup:
        """Async :meth:`begin_totp_setup`."""
        return await self._session.run_async(
            password_flows.begin_totp_setup(self._config, challenge)
        )

    def _respond_flow(
        self, challenge: Challenge | TotpSetup, answers: _Answers
    ) -> Flow[TokenSet | Challenge]:
        clock = self._session.clock
        if isinstance(challenge, TotpSetup):
            if not answers.code:
                raise ChallengeAnswerError("finish the TOTP setup with respond(setup, code=...)")
            return password_flows.finish_totp_setup(self._config, challenge, answers.code, clock)
        if not isinstance(challenge, Challenge):
            raise TypeError("respond() takes the Challenge that login_password() returned")
        return password_flows.respond(self._config, challenge, answers, clock)

    def _finish(self, result: TokenSet | Challenge) -> TokenSet | Challenge:
        if isinstance(result, TokenSet):
            self._session.cache.put(result)
            logger.info("signed in to %s", self._session.cache.key)
        else:
            logger.info("Cognito asks for the %s challenge", result.name)
        return result

    async def _afinish(self, result: TokenSet | Challenge) -> TokenSet | Challenge:
        import asyncio

        if isinstance(result, TokenSet):
            await asyncio.to_thread(self._finish, result)
            return result
        return self._finish(result)

    # -- session upkeep --

    def refresh(self) -> TokenSet:
        """Refresh the tokens now, whatever their expiry."""
        return self._session.refresh(seen=None, rejected=False)

    async def arefresh(self) -> TokenSet:
        """Async :meth:`refresh`."""
        return await self._session.arefresh(seen=None, rejected=False)

    def logout(self, *, global_: bool = False) -> bool:
        """Revoke the refresh token at Cognito and forget the tokens here.

        With ``global_=True`` the user is also signed out of every device
        (GlobalSignOut). The local tokens are wiped even when Cognito cannot be
        reached; the return value says whether the revocation succeeded (a
        warning is logged when it did not).
        """
        tokens = self._session.cache.load()
        revoked = True
        if tokens is not None:
            try:
                self._session.run_sync(revoke_flow(self._config, tokens, everywhere=global_))
            except KeybearerError as exc:
                revoked = False
                logger.warning("signed out locally, but Cognito did not revoke the tokens: %s", exc)
        self._session.cache.clear()
        return revoked

    async def alogout(self, *, global_: bool = False) -> bool:
        """Async :meth:`logout`."""
        import asyncio

        if not self._session.cache.loaded:
            await asyncio.to_thread(self._session.cache.load)
        tokens = self._session.cache.tokens
        revoked = True
        if tokens is not None:
            try:
                await self._session.run_async(revoke_flow(self._config, tokens, everywhere=global_))
            except KeybearerError as exc:
                revoked = False
                logger.warning("signed out locally, but Cognito did not revoke the tokens: %s", exc)
        await asyncio.to_thread(self._session.cache.clear)
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
        hosts = list(self._config.api_hosts)
        base_url = kwargs.get("base_url")
        if base_url:
            hosts.append(str(httpx.URL(str(base_url)).copy_with(path="/", query=None)))
        return KeybearerAuth(self._session, HostAllowList(hosts))

    def http(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` that authenticates to ``base_url``'s host (and ``api_hosts``).

        Takes every ``httpx.Client`` keyword argument except ``auth``.
        """
        return httpx.Client(auth=self._auth_for(kwargs), **kwargs)

    def async_http(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient``, as :meth:`http`."""
        return httpx.AsyncClient(auth=self._auth_for(kwargs), **kwargs)

    def close(self) -> None:
        """Close the connections to Cognito (the tokens stay)."""
        self._session.close()

    def __enter__(self) -> OAuthClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
