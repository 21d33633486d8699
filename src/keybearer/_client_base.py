"""What every face of ``OAuthClient`` shares: its config, session, and how a sign-in ends.

``OAuthClient`` is composed of small faces (mixins) so that no module grows
past a few hundred lines: the password faces (:mod:`keybearer._password_signin`),
the browser faces (:mod:`keybearer._browser_signin`) and the session and HTTP
faces in :mod:`keybearer._client`. Their public methods are all documented as
``keybearer.OAuthClient``'s.
"""

from __future__ import annotations

import asyncio
import logging

from keybearer._challenges import Challenge
from keybearer._config import ClientConfig, CognitoConfig
from keybearer._protocol import Flow
from keybearer._session import Session
from keybearer._tokens import TokenSet
from keybearer.errors import ConfigurationError

logger = logging.getLogger("keybearer")


class ClientBase:
    """The state every face reads; set by ``OAuthClient.__init__``."""

    _config: ClientConfig
    _session: Session

    def _cognito(self, what: str) -> CognitoConfig:
        if not isinstance(self._config, CognitoConfig):
            raise ConfigurationError(
                f"{what} is a Cognito user pool API; use OAuthClient.cognito()"
            )
        return self._config

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
