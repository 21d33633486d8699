"""Browser sign-in attempts for one client: start them, match redirects, turn them into tokens.

``OAuthClient`` composes one :class:`BrowserSignIn`; its public browser
methods (``authorization_url``, ``complete_login``, ``login_browser``, ...) are
thin faces over these steps. The protocol itself (URLs, the code exchange) is
in :mod:`keybearer._protocol.oauth`; the loopback receiver and the browser in
:mod:`keybearer._signin`.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from keybearer._config import CognitoConfig
from keybearer._protocol import Flow, oauth
from keybearer._session import Session
from keybearer._signin.attempt import Attempt
from keybearer._signin.browser import can_prompt, open_in_browser, prompt_for_redirect
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


def _may_prompt(paste_fallback: bool | None) -> bool:
    """Whether to ask for the redirect URL to be pasted after the loopback wait timed out."""
    return can_prompt() if paste_fallback is None else paste_fallback
