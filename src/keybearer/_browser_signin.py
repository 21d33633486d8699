"""Browser sign-in for one client: attempts, redirects, tokens; and ``OAuthClient``'s faces for it.

``OAuthClient`` holds one :class:`BrowserSignIn` (the pending attempts and the
steps each goes through) and inherits :class:`BrowserFaces`, its public browser
methods (``authorization_url``, ``complete_login``, ``login_browser``, ...), thin
faces over those steps. The protocol itself (URLs, the code exchange) is
in :mod:`keybearer._protocol.oauth`; the loopback receiver and the browser in
:mod:`keybearer._signin`.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from keybearer._client_base import ClientBase
from keybearer._config import CognitoConfig
from keybearer._protocol import Flow, oauth
from keybearer._session import Session
from keybearer._signin.attempt import Attempt
from keybearer._signin.browser import (
    can_prompt,
    in_notebook,
    open_in_browser,
    prompt_for_redirect,
    show_link,
)
from keybearer._signin.loopback import LoopbackReceiver
from keybearer._signin.redirect import Redirect, parse_redirect
from keybearer._tokens import TokenSet
from keybearer.errors import ConfigurationError, LoginTimeoutError, StateMismatchError

# Sign-in attempts kept for complete_login(): a person may open the link twice.
_MAX_ATTEMPTS = 8

OpenUrl = Callable[[str], object]
"""Opens the sign-in page: the system browser by default; may return an awaitable (async)."""


@dataclass(frozen=True)
class Visit:
    """One trip through the sign-in page, as ``login_browser()`` was asked for it."""

    endpoints: oauth.Endpoints
    open_url: OpenUrl | None
    timeout: float
    identity_provider: str | None
    idp_identifier: str | None
    paste_fallback: bool | None


class BrowserSignIn:
    """The pending browser sign-ins of one client, and the steps each one goes through."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._config = session.config
        self._attempts: OrderedDict[str, Attempt] = OrderedDict()
        self._lock = threading.Lock()

    def new_attempt(self, response_type: str) -> Attempt:
        """Start an attempt (its own PKCE verifier, ``state`` and ``nonce``) and remember it."""
        uri = self._config.redirect_uri
        if uri is None:
            raise ConfigurationError(
                "browser sign-in needs redirect_uri= (the callback registered with the app "
                "client, e.g. 'http://localhost:8765/callback')"
            )
        if response_type not in ("code", "token"):
            raise ConfigurationError("response_type must be 'code' or 'token'")
        attempt = Attempt(redirect_uri=uri, response_type=response_type)
        with self._lock:
            self._attempts[attempt.state] = attempt
            while len(self._attempts) > _MAX_ATTEMPTS:
                self._attempts.popitem(last=False)
        return attempt

    def rebind(self, attempt: Attempt, redirect_uri: str) -> Attempt:
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
        with self._lock:
            self._attempts[attempt.state] = bound
        return bound

    def url(
        self,
        endpoints: oauth.Endpoints,
        attempt: Attempt,
        identity_provider: str | None,
        idp_identifier: str | None,
    ) -> str:
        """The authorization URL for ``attempt``."""
        extra: dict[str, str] = {}
        if identity_provider:
            extra["identity_provider"] = identity_provider
        if idp_identifier:
            extra["idp_identifier"] = idp_identifier
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

    def take(self, pasted: str, *, implicit_only: str | None = None) -> tuple[Redirect, Attempt]:
        """Parse a redirect and claim the attempt its ``state`` names (once).

        ``implicit_only`` names the method to use instead when the redirect
        carries no tokens in its fragment (``parse_implicit`` takes only those).
        """
        redirect = parse_redirect(pasted)
        if implicit_only is not None and not redirect.is_implicit:
            raise StateMismatchError(
                "this is not an implicit-grant redirect (no tokens in its #fragment); "
                f"use {implicit_only}() for a ?code= redirect"
            )
        with self._lock:
            attempt = self._attempts.pop(redirect.state, None) if redirect.state else None
        if attempt is None:
            raise StateMismatchError(
                "this redirect does not belong to a sign-in started here (its state is "
                "missing or unknown); start again with authorization_url() or login_browser()"
            )
        return redirect, attempt

    def receive_flow(self, redirect: Redirect, attempt: Attempt) -> Flow[TokenSet]:
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

    def logout_url(self, endpoints: oauth.Endpoints) -> str | None:
        """Where to send the browser to end the provider's browser session, if anywhere."""
        if self._config.logout_uri is None or endpoints.end_session is None:
            return None
        if isinstance(self._config, CognitoConfig):
            query = {"client_id": self._config.client_id, "logout_uri": self._config.logout_uri}
        else:
            query = {
                "client_id": self._config.client_id,
                "post_logout_redirect_uri": self._config.logout_uri,
            }
        return f"{endpoints.end_session}?{urlencode(query)}"

    def catch_redirect(self, visit: Visit) -> str:
        """Open the sign-in page and catch its redirect on 127.0.0.1 (or have it pasted)."""
        attempt = self.new_attempt("code")
        with LoopbackReceiver(attempt.redirect_uri, attempt.state) as receiver:
            attempt = self.rebind(attempt, receiver.redirect_uri)
            url = self.url(visit.endpoints, attempt, visit.identity_provider, visit.idp_identifier)
            if inspect.isawaitable((visit.open_url or open_in_browser)(url)):
                raise ConfigurationError("open_url returned an awaitable; use alogin_browser()")
            try:
                return receiver.wait(visit.timeout)
            except LoginTimeoutError:
                if not _may_prompt(visit.paste_fallback):
                    raise
            return prompt_for_redirect()

    async def acatch_redirect(self, visit: Visit) -> str:
        """Async :meth:`catch_redirect`; ``open_url`` may be a coroutine function."""
        attempt = self.new_attempt("code")
        with LoopbackReceiver(attempt.redirect_uri, attempt.state) as receiver:
            attempt = self.rebind(attempt, receiver.redirect_uri)
            url = self.url(visit.endpoints, attempt, visit.identity_provider, visit.idp_identifier)
            opened = (visit.open_url or open_in_browser)(url)
            if inspect.isawaitable(opened):
                await opened
            try:
                return await asyncio.to_thread(receiver.wait, visit.timeout)
            except LoginTimeoutError:
                if not _may_prompt(visit.paste_fallback):
                    raise
            return await asyncio.to_thread(prompt_for_redirect)


_PASTE_PROMPT = "After signing in, paste the whole address from the browser's address bar: "


def _show_paste_link(url: str) -> None:
    """The sign-in link for paste-back: a clickable link in a notebook, a line elsewhere."""
    if in_notebook():
        show_link(url)
    else:
        print(f"Open this URL in a browser and sign in:\n  {url}", file=sys.stderr, flush=True)


def _may_prompt(paste_fallback: bool | None) -> bool:
    """Whether to ask for the redirect URL to be pasted after the loopback wait timed out."""
    return can_prompt() if paste_fallback is None else paste_fallback


class BrowserFaces(ClientBase):
    """Browser sign-in and the provider's user endpoints, sync and async."""

    _browser: BrowserSignIn

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

    def login_paste(
        self, *, identity_provider: str | None = None, idp_identifier: str | None = None
    ) -> TokenSet:
        """Paste-back sign-in in one call, where the kernel or terminal can wait for input.

        Shows the sign-in link (a clickable link in a notebook), asks for the
        address the browser ends on, and finishes as :meth:`complete_login`.
        Where nothing can wait for input, use :meth:`authorization_url` and
        :meth:`complete_login` in two steps instead.
        """
        url = self.authorization_url(
            identity_provider=identity_provider, idp_identifier=idp_identifier
        )
        _show_paste_link(url)
        return self.complete_login(input(_PASTE_PROMPT))

    async def alogin_paste(
        self, *, identity_provider: str | None = None, idp_identifier: str | None = None
    ) -> TokenSet:
        """Async :meth:`login_paste` (the wait for input runs in a thread)."""
        url = await self.aauthorization_url(
            identity_provider=identity_provider, idp_identifier=idp_identifier
        )
        _show_paste_link(url)
        return await self.acomplete_login(await asyncio.to_thread(input, _PASTE_PROMPT))

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
