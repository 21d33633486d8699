"""The session's side of checking received tokens: which issuer, which keys, which clock.

:class:`TokenChecks` builds, once, the verifier for the issuer's JWKS (through
the session's own flow drivers, so its transport and retry policy apply) and
the rules of ``keybearer._jose.id_token``, then runs that module's plans for
a sign-in's tokens and a refresh's. authlib and joserfc load with the first
check, never on the path that only sends a fresh cached token.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from keybearer._config import ClientConfig, CognitoConfig
from keybearer._protocol import Flow, oauth
from keybearer._tokens import TokenSet

if TYPE_CHECKING:
    from keybearer._jose.id_token import Check, Rules
    from keybearer._jose.verifier import JwtVerifier


T = TypeVar("T")


class Drivers(Protocol):
    """What the checks need of a session: its flow drivers and the provider's endpoints."""

    def run_sync(self, flow: Flow[T]) -> T: ...

    async def run_async(self, flow: Flow[T]) -> T: ...

    def endpoints_flow(self) -> Flow[oauth.Endpoints]: ...


class TokenChecks:
    """Verify a sign-in's or a refresh's tokens for one client configuration.

    ``drivers`` is the session; its methods are looked up at each call, so
    whatever transport the session has then is the one used.
    """

    def __init__(self, config: ClientConfig, clock: Callable[[], float], drivers: Drivers) -> None:
        self._config = config
        self._clock = clock
        self._drivers = drivers
        self._made: tuple[JwtVerifier, Rules] | None = None

    def _setup(self) -> Flow[tuple[JwtVerifier, Rules]]:
        """The verifier (the issuer's JWKS, cached) and rules, made on first use."""
        if self._made is None:
            # authlib and joserfc load with the first check, never on the cached-token path.
            from keybearer._jose.id_token import Rules
            from keybearer._jose.verifier import JwtVerifier

            config = self._config
            cognito = isinstance(config, CognitoConfig)
            if isinstance(config, CognitoConfig):
                issuer, jwks = config.issuer, config.jwks_url
            else:
                endpoints = yield from self._drivers.endpoints_flow()
                issuer, jwks = endpoints.issuer, endpoints.jwks
            verifier = JwtVerifier(
                issuer=issuer,
                jwks_url=jwks,
                audiences=[config.client_id],
                algorithms=["RS256"] if cognito else ["RS256", "ES256"],
                leeway=60.0,
                timeout=config.timeout,
                cache_size=0,
            )
            drivers = self._drivers
            # Looked up at each download: the session's transport at that time.
            verifier.use_drivers(
                lambda flow: drivers.run_sync(flow), lambda flow: drivers.run_async(flow)
            )
            # exp and iat are judged by the session's clock; a test's frozen clock may
            # or may not be followed by a stand-in provider, so a token that passes by
            # the system clock passes too (one clock when none was injected).
            clock = self._clock
            clocks = (clock,) if clock is time.time else (clock, time.time)
            self._made = (verifier, Rules(config.client_id, issuer, cognito, clocks))
        return self._made

    @staticmethod
    def _receipt(tokens: TokenSet, nonce: str | None, rules: Rules) -> list[Check]:
        from keybearer._jose.id_token import receipt_plan  # loaded by _setup already

        return receipt_plan(
            rules,
            id_token=tokens.id_token.get_secret_value() if tokens.id_token else None,
            access_token=tokens.access_token.get_secret_value(),
            nonce=nonce,
            implicit=tokens.origin == "implicit",
        )

    @staticmethod
    def _refresh(before: TokenSet, after: TokenSet, rules: Rules) -> list[Check]:
        from keybearer._jose.id_token import refresh_plan  # loaded by _setup already

        return refresh_plan(
            rules,
            before_id=before.id_token.get_secret_value() if before.id_token else None,
            before_access=before.access_token.get_secret_value(),
            after_id=after.id_token.get_secret_value() if after.id_token else None,
            after_access=after.access_token.get_secret_value(),
            api_path=after.origin in ("password", "rotating"),
        )

    def received(self, tokens: TokenSet, nonce: str | None) -> None:
        """A sign-in's tokens (``nonce=None``: an unsolicited implicit redirect)."""
        from keybearer._jose.id_token import run  # loaded by _setup already

        verifier, rules = self._drivers.run_sync(self._setup())
        run(verifier, rules, self._receipt(tokens, nonce, rules))

    async def _aload(self) -> None:
        """Import authlib's and joserfc's modules in a worker thread, once.

        Their first import takes ~150 ms of CPU (authlib.oidc.core brings its
        server classes); on the event loop that would stall every other task.
        """
        if self._made is None:
            await asyncio.to_thread(_import_checkers)

    async def areceived(self, tokens: TokenSet, nonce: str | None) -> None:
        """Async :meth:`received`."""
        await self._aload()
        from keybearer._jose.id_token import arun  # loaded by _aload already

        verifier, rules = await self._drivers.run_async(self._setup())
        await arun(verifier, rules, self._receipt(tokens, nonce, rules))

    def refreshed(self, before: TokenSet, after: TokenSet) -> None:
        """A refresh's tokens, before they replace ``before`` (OIDC Core 12.2)."""
        from keybearer._jose.id_token import run  # loaded by _setup already

        verifier, rules = self._drivers.run_sync(self._setup())
        run(verifier, rules, self._refresh(before, after, rules))

    async def arefreshed(self, before: TokenSet, after: TokenSet) -> None:
        """Async :meth:`refreshed`."""
        await self._aload()
        from keybearer._jose.id_token import arun  # loaded by _aload already

        verifier, rules = await self._drivers.run_async(self._setup())
        await arun(verifier, rules, self._refresh(before, after, rules))


def _import_checkers() -> None:
    # The modules the checks need, loaded off the event loop by TokenChecks._aload.
    for name in ("keybearer._jose.id_token", "keybearer._jose.verifier", "keybearer._jose.jws"):
        importlib.import_module(name)
