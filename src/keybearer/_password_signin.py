"""The password sign-in faces of ``OAuthClient``: cognito-idp sign-in and its challenges.

A sign-in method is a flow (in :mod:`keybearer._protocol`) that ends in a
``TokenSet`` or a ``Challenge``, handed to ``_sign_in``/``_asign_in``; adding
one (SRP, a device, USER_AUTH) is a flow and two methods here.
"""

from __future__ import annotations

import asyncio

from keybearer._challenges import Challenge, MfaSetup, _Answers
from keybearer._client_base import ClientBase
from keybearer._protocol import Flow
from keybearer._protocol import cognito_password as password_flows
from keybearer._protocol.cognito_password import TotpSetup
from keybearer._tokens import TokenSet
from keybearer.errors import ChallengeAnswerError


class PasswordSignIn(ClientBase):
    """``login_password``, ``respond`` and TOTP setup, sync and async."""

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
