"""The httpx.Auth that puts the right token on every request to the API."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx

from keybearer._io.hosts import HostAllowList
from keybearer._io.urls import check_secure_url, loopback_mounts
from keybearer._session import Session
from keybearer._tokens import TokenSet
from keybearer.errors import ConfigurationError, UnauthorizedError

logger = logging.getLogger("keybearer")

DIAGNOSIS = "keybearer.diagnosis"
"""Key of the :class:`~keybearer.Diagnosis` in ``response.extensions`` after a 401/403."""


def client_options(
    session: Session, options: dict[str, Any], raise_on_unauthorized: bool
) -> dict[str, Any]:
    """An httpx client's arguments: the caller's (a copy, never changed), ``auth`` and TLS.

    The auth sends tokens to ``base_url``'s host and the configured ``api_hosts``;
    loopback hosts are mounted without proxy (:func:`keybearer._io.urls.loopback_mounts`).
    """
    if "auth" in options:
        raise ConfigurationError("http()/async_http() set auth themselves; do not pass auth=")
    hosts = list(session.config.api_hosts)
    base_url = options.get("base_url")
    if base_url:
        try:
            check_secure_url(str(base_url), what="base_url")
        except ValueError as exc:
            raise ConfigurationError(f"{exc}; the token would never be sent") from None
        hosts.append(str(httpx.URL(str(base_url)).copy_with(path="/", query=None)))
    auth = KeybearerAuth(session, HostAllowList(hosts), raise_on_unauthorized=raise_on_unauthorized)
    result = {**options, "auth": auth}
    if "proxy" not in options:
        # A loopback API never goes through an environment proxy: the token
        # would cross it in clear text. The caller's own mounts win.
        result["mounts"] = {**loopback_mounts(hosts), **(options.get("mounts") or {})}
    # httpx builds a new SSL context for every client, reading the CA bundle
    # (~20 ms); a client per thread or per task would pay it every time.
    # Share the session's context unless the caller chose TLS settings.
    if "verify" not in options and "trust_env" not in options:
        result["verify"] = session.ssl_context()
    return result


def _replayable(request: httpx.Request) -> bool:
    # A body already held in memory can be sent twice; a generator or file
    # stream cannot, so such a request gets the 401 back instead of a retry.
    return isinstance(request.stream, httpx.ByteStream)


class KeybearerAuth(httpx.Auth):
    """Adds ``Authorization`` to requests for allowed hosts.

    Refreshes ahead of expiry, and after a 401 refreshes once and replays the
    request once. Get one from ``OAuthClient.auth`` or ``OAuthClient.http()``.
    """

    def __init__(
        self, session: Session, allowed: HostAllowList, *, raise_on_unauthorized: bool = False
    ) -> None:
        self._session = session
        self._allowed = allowed
        self._raise = raise_on_unauthorized
        self._explained: TokenSet | None = None
        self._send = session.config.send
        self._prefix = f"{session.config.scheme} " if session.config.scheme else ""
        self._last: tuple[TokenSet | None, str] = (None, "")

    def __repr__(self) -> str:
        return f"KeybearerAuth(send={self._send!r}, hosts={self._allowed!r})"

    def _header(self, tokens: TokenSet) -> str:
        last_tokens, header = self._last
        if last_tokens is not tokens:
            header = self._prefix + tokens.token(self._send)
            self._last = (tokens, header)
        return header

    def _applies(self, request: httpx.Request) -> bool:
        if self._allowed.permits(request.url):
            return True
        if not self._allowed:
            raise ConfigurationError(
                "this auth has no hosts to send tokens to: pass api_hosts=[...] to "
                "OAuthClient.cognito(), or use client.http(base_url=...)"
            )
        logger.debug("not sending a token to %s: host not allowed", request.url.host)
        return False

    def _explain(self, response: httpx.Response, tokens: TokenSet, *, refreshed: bool) -> None:
        """Attach the likely cause of a 401/403 to the response; log it once per token."""
        # Lazy: the diagnosis reads JWT claims, needed only once an API refuses a token.
        from keybearer._diagnose import diagnose

        config = self._session.config
        diagnosis = diagnose(
            response,
            tokens,
            send=config.send,
            scheme=config.scheme,
            now=self._session.clock(),
            refreshed=refreshed,
        )
        response.extensions[DIAGNOSIS] = diagnosis
        if self._explained is not tokens:
            self._explained = tokens
            logger.warning(
                "%s %s refused: %s", response.request.method, response.url.path, diagnosis
            )
        if self._raise:
            raise UnauthorizedError(str(diagnosis), response=response, diagnosis=diagnosis)

    def _worth_retry(
        self, response: httpx.Response, request: httpx.Request, tokens: TokenSet
    ) -> bool:
        if response.status_code != 401 or not _replayable(request):
            return False
        # Tokens the API refused even right after a refresh point at a wrong
        # token kind or scope, not at staleness: don't refresh on every call.
        return not self._session.cache.rejected_after_refresh(tokens)

    def _retry_request(self, request: httpx.Request, renewed: TokenSet) -> httpx.Request:
        request.headers["Authorization"] = self._header(renewed)
        return request

    def _after_retry(self, response: httpx.Response, renewed: TokenSet) -> None:
        """The replay's answer is in (its body read if it was a 401/403)."""
        if response.status_code == 401:
            self._session.cache.mark_rejected_after_refresh(renewed)
        self._explain(response, renewed, refreshed=True)

    # The per-request path is kept flat: no lock, no I/O, no method call that
    # can be inlined, nothing allocated while the token is fresh (benchmarks/,
    # figure 1). The 401/403 path reads the body first, which hands the
    # connection back to the pool before waiting for a refresh: tasks sharing
    # one AsyncClient would otherwise hold every connection while they queue.

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._allowed.permits(request.url) and not self._applies(request):
            yield request
            return
        tokens = self._session.fresh() or self._session.tokens_for_request()
        last, header = self._last
        if last is not tokens:
            header = self._header(tokens)
        request.headers["Authorization"] = header
        response = yield request
        status = response.status_code
        if status != 401 and status != 403:
            return
        response.read()
        if not self._worth_retry(response, request, tokens):
            self._explain(response, tokens, refreshed=False)
            return
        renewed = self._session.refresh(seen=tokens, rejected=True)
        response = yield self._retry_request(request, renewed)
        if response.status_code in (401, 403):
            response.read()
            self._after_retry(response, renewed)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self._allowed.permits(request.url) and not self._applies(request):
            yield request
            return
        tokens = self._session.fresh() or await self._session.atokens_for_request()
        last, header = self._last
        if last is not tokens:
            header = self._header(tokens)
        request.headers["Authorization"] = header
        response = yield request
        status = response.status_code
        if status != 401 and status != 403:
            return
        await response.aread()
        if not self._worth_retry(response, request, tokens):
            self._explain(response, tokens, refreshed=False)
            return
        renewed = await self._session.arefresh(seen=tokens, rejected=True)
        response = yield self._retry_request(request, renewed)
        if response.status_code in (401, 403):
            await response.aread()
            self._after_retry(response, renewed)
