"""The password sign-in faces of ``OAuthClient``: cognito-idp sign-in and its challenges.

A sign-in method is a flow (in :mod:`keybearer._protocol`) that ends in a
``Step`` (tokens or a ``Challenge``, and what changed about the remembered
device), handed to ``_settle``/``_asettle``: they store or drop the device
secret (:mod:`keybearer._remembered`), then end the sign-in as
``ClientBase._signed_in`` does. Password sign-in by USER_PASSWORD_AUTH or SRP,
choice-based sign-in (USER_AUTH) and forgetting a device live here.
"""

from __future__ import annotations

import asyncio
import logging

from keybearer._challenges import Challenge, MfaSetup, TotpSetup, _Answers
from keybearer._client_base import ClientBase
from keybearer._config import CognitoConfig
from keybearer._protocol import Flow
from keybearer._protocol import cognito_password as password_flows
from keybearer._protocol.cognito_device import DeviceGoneError
from keybearer._protocol.cognito_device import forget as forget_device_flow
from keybearer._protocol.cognito_password import Step
from keybearer._remembered import Remembered
from keybearer._tokens import TokenSet
from keybearer.errors import ChallengeAnswerError, KeybearerError
from keybearer.stores._base import TokenStore

logger = logging.getLogger("keybearer")


class PasswordSignIn(ClientBase):
    """``login_password``, ``login_user_auth``, ``respond``, TOTP setup and devices."""

    _store: TokenStore

    def login_password(self, username: str, password: str) -> TokenSet | Challenge:
        """Sign in with the password, by the ``password_flow`` setting.

        ``"user_password"`` (the default) sends it with USER_PASSWORD_AUTH;
        ``"srp"`` proves it without sending it (USER_SRP_AUTH). Returns the new
        ``TokenSet`` (also stored), or a :class:`Challenge` that :meth:`respond`
        must answer before there are tokens. A remembered device is proved on
        the way (see ``remember_device``).
        """
        config = self._cognito("login_password")
        self._session.cache.load()  # an unusable store fails here, before the password is sent
        device = self._devices(config).for_login(username)
        flow = password_flows.login(config, username, password, self._session.clock, device)
        return self._settle(flow, username)

    async def alogin_password(self, username: str, password: str) -> TokenSet | Challenge:
        """Async :meth:`login_password`."""
        config = self._cognito("alogin_password")
        await asyncio.to_thread(self._session.cache.load)
        device = await asyncio.to_thread(self._devices(config).for_login, username)
        flow = password_flows.login(config, username, password, self._session.clock, device)
        return await self._asettle(flow, username)

    def login_user_auth(
        self, username: str, preferred: str | None = None, password: str | None = None
    ) -> TokenSet | Challenge:
        """Choice-based sign-in (Cognito's ``USER_AUTH``): passwordless codes, or the password.

        ``preferred`` is ``"EMAIL_OTP"``, ``"SMS_OTP"``, ``"PASSWORD"`` or
        ``"PASSWORD_SRP"``; without it, a ``password`` means the password (by
        SRP with ``password_flow="srp"``), and neither means Cognito lists the
        choices in a :class:`SelectChallenge`. Returns tokens or a challenge:
        answer ``EmailOtp``/``SmsOtp`` with ``respond(challenge, code=...)``.
        Passkeys (``WEB_AUTHN``) need a browser: a ``ChallengeAnswerError``
        says to use :meth:`login_browser`.
        """
        config = self._cognito("login_user_auth")
        self._session.cache.load()
        device = self._devices(config).for_login(username)
        flow = password_flows.login_user_auth(
            config,
            username,
            self._session.clock,
            preferred=preferred,
            password=password,
            device=device,
        )
        return self._settle(flow, username)

    async def alogin_user_auth(
        self, username: str, preferred: str | None = None, password: str | None = None
    ) -> TokenSet | Challenge:
        """Async :meth:`login_user_auth`."""
        config = self._cognito("alogin_user_auth")
        await asyncio.to_thread(self._session.cache.load)
        device = await asyncio.to_thread(self._devices(config).for_login, username)
        flow = password_flows.login_user_auth(
            config,
            username,
            self._session.clock,
            preferred=preferred,
            password=password,
            device=device,
        )
        return await self._asettle(flow, username)

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
        password: str | None = None,
    ) -> TokenSet | Challenge:
        """Answer a challenge; returns tokens or the next challenge.

        Which keyword a challenge needs is in its class's docs: ``code=`` for
        MFA and one-time codes, ``new_password=`` (and ``attributes=``) for
        NEW_PASSWORD_REQUIRED, ``mfa=`` for SELECT_MFA_TYPE, ``answer=`` for a
        custom challenge, ``responses=`` for raw ChallengeResponses keys,
        ``answer=`` or ``password=`` for a :class:`SelectChallenge`.
        """
        answers = _Answers(code, new_password, attributes, mfa, answer, responses, password)
        return self._settle(self._respond_flow(challenge, answers), _login_name(challenge))

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
        password: str | None = None,
    ) -> TokenSet | Challenge:
        """Async :meth:`respond`."""
        answers = _Answers(code, new_password, attributes, mfa, answer, responses, password)
        return await self._asettle(self._respond_flow(challenge, answers), _login_name(challenge))

    def begin_totp_setup(self, challenge: MfaSetup) -> TotpSetup:
        """Start setting up an authenticator app to answer MFA_SETUP."""
        config = self._cognito("begin_totp_setup")
        return self._session.run_sync(password_flows.begin_totp_setup(config, challenge))

    async def abegin_totp_setup(self, challenge: MfaSetup) -> TotpSetup:
        """Async :meth:`begin_totp_setup`."""
        config = self._cognito("abegin_totp_setup")
        return await self._session.run_async(password_flows.begin_totp_setup(config, challenge))

    def _respond_flow(self, challenge: Challenge | TotpSetup, answers: _Answers) -> Flow[Step]:
        config = self._cognito("respond")
        clock = self._session.clock
        device = self._devices(config).settings()
        if isinstance(challenge, TotpSetup):
            if not answers.code:
                raise ChallengeAnswerError("finish the TOTP setup with respond(setup, code=...)")
            return password_flows.finish_totp_setup(
                config, challenge, answers.code, clock, device.remember, device.name
            )
        if not isinstance(challenge, Challenge):
            raise TypeError("respond() takes the Challenge that login_password() returned")
        return password_flows.respond(
            config, challenge, answers, clock, device.remember, device.name
        )

    # -- ending a sign-in: the device secret, then the tokens --

    def _devices(self, config: CognitoConfig) -> Remembered:
        return Remembered(config, self._store)

    def _settle(self, flow: Flow[Step], login_name: str) -> TokenSet | Challenge:
        devices = self._devices(self._cognito("sign-in"))
        try:
            step = self._session.run_sync(flow)
        except DeviceGoneError:
            devices.drop(login_name)
            raise
        devices.settle(step, login_name)
        return self._signed_in(step.result)

    async def _asettle(self, flow: Flow[Step], login_name: str) -> TokenSet | Challenge:
        devices = self._devices(self._cognito("sign-in"))
        try:
            step = await self._session.run_async(flow)
        except DeviceGoneError:
            await asyncio.to_thread(devices.drop, login_name)
            raise
        await asyncio.to_thread(devices.settle, step, login_name)
        if isinstance(step.result, TokenSet):
            await asyncio.to_thread(self._session.keep, step.result)
            return step.result
        return self._signed_in(step.result)

    # -- remembered devices --

    def forget_device(self) -> bool:
        """Forget this device: Cognito's ``ForgetDevice``, then delete its local secret.

        Returns False when no device is remembered for the signed-in user. The
        local secret is deleted even if Cognito cannot be reached (the error
        is raised after).
        """
        config = self._cognito("forget_device")
        tokens = self._session.cache.load()
        devices = self._devices(config)
        secret = devices.current(tokens)
        if secret is None or tokens is None:
            return False
        try:
            access = self._session.tokens_for_request().access_token.get_secret_value()
            self._session.run_sync(forget_device_flow(config, access, secret.device_key))
        finally:
            devices.forget(secret, tokens)
        return True

    async def aforget_device(self) -> bool:
        """Async :meth:`forget_device`."""
        config = self._cognito("aforget_device")
        await asyncio.to_thread(self._session.cache.load)
        tokens = self._session.cache.tokens
        devices = self._devices(config)
        secret = await asyncio.to_thread(devices.current, tokens)
        if secret is None or tokens is None:
            return False
        try:
            access = (await self._session.atokens_for_request()).access_token.get_secret_value()
            await self._session.run_async(forget_device_flow(config, access, secret.device_key))
        finally:
            await asyncio.to_thread(devices.forget, secret, tokens)
        return True

    def _forget_device_quietly(self) -> None:
        # Logging out goes on whatever happens to the device.
        try:
            self.forget_device()
        except KeybearerError as exc:
            logger.warning("the device secret is deleted, but Cognito did not forget it: %s", exc)


def _login_name(challenge: Challenge | TotpSetup) -> str:
    inner = challenge.challenge if isinstance(challenge, TotpSetup) else challenge
    return inner.login_name or inner.username
