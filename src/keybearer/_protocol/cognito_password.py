"""Password and choice-based sign-in through cognito-idp, and the challenge round trips after."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
from pydantic import SecretStr

from keybearer._challenges import (
    WEB_AUTHN_HELP,
    Challenge,
    MfaSetup,
    SelectChallenge,
    TotpSetup,
    _Answers,
)
from keybearer._devices import DeviceSecret
from keybearer._protocol import Flow, srp
from keybearer._protocol.app_client import CognitoAppClient
from keybearer._protocol.cognito_device import (
    DeviceGoneError,
    answer_device_srp,
    confirm,
    is_unknown_device,
    new_device_metadata,
)
from keybearer._protocol.cognito_idp import (
    Purpose,
    error_for,
    outcome,
    parse,
    request,
    with_secret_hash,
)
from keybearer._tokens import TokenSet, is_text
from keybearer.errors import (
    ChallengeAnswerError,
    CodeMismatchError,
    ConfigurationError,
    InvalidCredentialsError,
    KeybearerError,
    ProtocolError,
)

logger = logging.getLogger("keybearer")

Clock = Callable[[], float]

USER_AUTH_CHOICES = ("PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP", "WEB_AUTHN")


@dataclass(frozen=True)
class Device:
    """What a sign-in knows about remembering this machine."""

    secret: DeviceSecret | None = None
    """The remembered device to prove, if there is one."""
    remember: bool = False
    """Confirm a new device Cognito hands out (``remember_device=True``)."""
    name: str = "keybearer"
    """The device name ConfirmDevice gives Cognito."""


@dataclass(frozen=True)
class Step:
    """A sign-in step's result, and what changed about the remembered device."""

    result: TokenSet | Challenge
    new_device: DeviceSecret | None = None
    """A device just confirmed: store it."""
    device_gone: bool = False
    """Cognito no longer knows the stored device: drop it."""


def _check_text(*values: str) -> None:
    for value in values:
        if not isinstance(value, str) or (not value.isascii() and not is_text(value)):
            raise InvalidCredentialsError(
                "the username or password contains characters that are not text (bytes "
                "the terminal could not decode?); type it again"
            )


_OTHER_FLOW = {
    "USER_PASSWORD_AUTH": (
        "ALLOW_USER_PASSWORD_AUTH",
        'or sign in by SRP with password_flow="srp" (what console-default app clients allow)',
    ),
    "USER_SRP_AUTH": ("ALLOW_USER_SRP_AUTH", 'or use password_flow="user_password"'),
    "USER_AUTH": (
        "ALLOW_USER_AUTH (choice-based sign-in, Essentials tier)",
        "or sign in with login_password()",
    ),
}


def _refuse_disabled_flow(response: httpx.Response, flow: str) -> None:
    """Raise a ConfigurationError naming the other setting when the app client refuses ``flow``."""
    if response.status_code == 200:
        return
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        return
    error = error_for(response, body, Purpose.LOGIN)
    text = (error.provider_message or "").lower()
    if error.code not in ("InvalidParameterException", "NotAuthorizedException"):
        return
    if "not enabled" not in text and "not allowed" not in text:
        return
    allow, other = _OTHER_FLOW[flow]
    said = f" (Cognito: {error.provider_message})" if error.provider_message else ""
    raise ConfigurationError(
        f"the app client does not allow {flow}{said}. Enable {allow} in its authentication "
        f"flows, {other}.",
        code=error.code,
        provider_message=error.provider_message,
        status_code=response.status_code,
    )


def _initiate(
    config: CognitoAppClient, flow: str, username: str, params: dict[str, str], device: Device
) -> Flow[tuple[httpx.Response, bool]]:
    """InitiateAuth, once more without DEVICE_KEY if Cognito forgot the device."""
    body: dict[str, Any] = {"AuthFlow": flow, "ClientId": config.client_id}
    if device.secret is not None:
        sent = {**params, "DEVICE_KEY": device.secret.device_key}
        body["AuthParameters"] = with_secret_hash(config, username, sent)
        response = yield request(config, "InitiateAuth", body)
        if not is_unknown_device(response):
            return response, False
    body["AuthParameters"] = with_secret_hash(config, username, dict(params))
    response = yield request(config, "InitiateAuth", body)
    return response, device.secret is not None


def login(
    config: CognitoAppClient,
    username: str,
    password: str,
    clock: Clock,
    device: Device | None = None,
) -> Flow[Step]:
    """Sign in with the password, by the app client's ``password_flow``.

    ``user_password`` sends the password (InitiateAuth USER_PASSWORD_AUTH);
    ``srp`` proves it without sending it (USER_SRP_AUTH, then the
    PASSWORD_VERIFIER answer). With a remembered device, DEVICE_KEY goes along
    and Cognito's device challenges are answered here; a device Cognito no
    longer knows is dropped and the sign-in starts again without it.
    """
    _check_text(username, password)
    device = device or Device()
    if config.password_flow == "srp":
        ephemeral = srp.Ephemeral()
        params = {"USERNAME": username, "SRP_A": ephemeral.public_hex}
        flow = "USER_SRP_AUTH"
    else:
        params = {"USERNAME": username, "PASSWORD": password}
        flow = "USER_PASSWORD_AUTH"
    response, gone = yield from _initiate(config, flow, username, params, device)
    if gone:
        device = replace(device, secret=None)
    _refuse_disabled_flow(response, flow)
    data = parse(response, Purpose.LOGIN)
    try:
        if flow == "USER_SRP_AUTH" and data.get("ChallengeName") == "PASSWORD_VERIFIER":
            response = yield from _verify_password(config, data, password, ephemeral, device, clock)
            if device.secret is not None and is_unknown_device(response):
                raise DeviceGoneError("Cognito no longer knows this device")
            data = parse(response, Purpose.LOGIN)
        return (yield from _settle(config, data, username, device, clock, gone))
    except DeviceGoneError:
        if device.secret is None:
            raise
    # The sign-in's session is spent: start again, without the device.
    step = yield from login(config, username, password, clock, replace(device, secret=None))
    return replace(step, device_gone=True)


def _verify_password(
    config: CognitoAppClient,
    data: dict[str, Any],
    password: str,
    ephemeral: srp.Ephemeral,
    device: Device,
    clock: Clock,
) -> Flow[httpx.Response]:
    """Answer PASSWORD_VERIFIER: prove the password against Cognito's SRP_B."""
    raw = data.get("ChallengeParameters")
    parameters: dict[str, Any] = raw if isinstance(raw, dict) else {}
    values = [parameters.get(k) for k in ("SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP")]
    if not all(isinstance(value, str) and value for value in values):
        raise ProtocolError(
            "Cognito's PASSWORD_VERIFIER lacks SALT, SRP_B, SECRET_BLOCK or USER_ID_FOR_SRP"
        )
    salt, big_b, block, user_id = (str(value) for value in values)
    # Cognito checks the answer against its own username, not the alias typed.
    internal = parameters.get("USERNAME")
    username = internal if isinstance(internal, str) and internal else user_id
    claim = ephemeral.answer(
        prefix=srp.pool_name(config.user_pool_id),
        identity=user_id,
        secret=password,
        salt_hex=salt,
        b_hex=big_b,
        secret_block=block,
        now=clock(),
    )
    responses = {"USERNAME": username, **claim}
    if device.secret is not None:
        responses["DEVICE_KEY"] = device.secret.device_key
    body = {
        "ClientId": config.client_id,
        "ChallengeName": "PASSWORD_VERIFIER",
        "Session": data.get("Session"),
        "ChallengeResponses": with_secret_hash(config, username, responses),
    }
    if not isinstance(body["Session"], str):
        body.pop("Session")  # USER_SRP_AUTH's first answer may come without one
    return (yield request(config, "RespondToAuthChallenge", body))


def _settle(
    config: CognitoAppClient,
    data: dict[str, Any],
    login_name: str,
    device: Device,
    clock: Clock,
    gone: bool = False,
) -> Flow[Step]:
    """Turn an answer into tokens or a typed challenge, doing the device steps on the way."""
    if data.get("ChallengeName") == "DEVICE_SRP_AUTH":
        if device.secret is None:
            raise ProtocolError(
                "Cognito asked to prove a remembered device keybearer does not have"
            )
        who = data.get("ChallengeParameters")
        username = who.get("USERNAME") if isinstance(who, dict) else None
        response = yield from answer_device_srp(
            config,
            data,
            device.secret,
            username if isinstance(username, str) and username else login_name,
            clock,
        )
        if is_unknown_device(response):
            raise DeviceGoneError(
                "Cognito no longer knows this device; its secret was dropped: sign in again"
            )
        data = parse(response, Purpose.LOGIN)
    if data.get("ChallengeName") == "WEB_AUTHN":
        raise ChallengeAnswerError(WEB_AUTHN_HELP)
    result = outcome(data, config=config, username=login_name, now=clock())
    if isinstance(result, Challenge):
        return Step(replace(result, login_name=login_name, device=device.secret), device_gone=gone)
    new_device = None
    metadata = new_device_metadata(data.get("AuthenticationResult"))
    if metadata is not None and device.remember:
        try:
            new_device = yield from confirm(
                config, result.access_token.get_secret_value(), *metadata, device.name
            )
        except KeybearerError as exc:
            # The sign-in itself worked: keep the tokens, remember the device next time.
            logger.warning("signed in, but this device could not be remembered: %s", exc)
    return Step(result, new_device=new_device, device_gone=gone)


def login_user_auth(
    config: CognitoAppClient,
    username: str,
    clock: Clock,
    *,
    preferred: str | None = None,
    password: str | None = None,
    device: Device | None = None,
) -> Flow[Step]:
    """Choice-based sign-in (InitiateAuth USER_AUTH).

    With ``preferred`` Cognito starts that way if the user can; with only a
    password it is PASSWORD_SRP (``password_flow="srp"``) or PASSWORD; with
    neither Cognito lists what the user may choose (a SelectChallenge).
    """
    _check_text(username, *([password] if password is not None else []))
    device = device or Device()
    if preferred is not None and preferred not in USER_AUTH_CHOICES:
        raise ConfigurationError(
            f"preferred must be one of {', '.join(USER_AUTH_CHOICES)}; got {preferred!r}"
        )
    if preferred == "WEB_AUTHN":
        raise ChallengeAnswerError(WEB_AUTHN_HELP)
    if preferred is None and password is not None:
        preferred = "PASSWORD_SRP" if config.password_flow == "srp" else "PASSWORD"
    if preferred in ("PASSWORD", "PASSWORD_SRP") and password is None:
        raise ChallengeAnswerError(f"preferred={preferred!r} needs password=...")
    params = {"USERNAME": username}
    ephemeral = srp.Ephemeral() if preferred == "PASSWORD_SRP" else None
    if preferred is not None:
        params["PREFERRED_CHALLENGE"] = preferred
    if preferred == "PASSWORD" and password is not None:
        params["PASSWORD"] = password
    if ephemeral is not None:
        params["SRP_A"] = ephemeral.public_hex
    response, gone = yield from _initiate(config, "USER_AUTH", username, params, device)
    if gone:
        device = replace(device, secret=None)
    _refuse_disabled_flow(response, "USER_AUTH")
    data = parse(response, Purpose.LOGIN)
    if data.get("ChallengeName") == "PASSWORD_VERIFIER" and password is not None:
        response = yield from _verify_password(
            config, data, password, ephemeral or srp.Ephemeral(), device, clock
        )
        data = parse(response, Purpose.LOGIN)
    return (yield from _settle(config, data, username, device, clock, gone))


def respond(
    config: CognitoAppClient,
    challenge: Challenge,
    answers: _Answers,
    clock: Clock,
    remember: bool = False,
    device_name: str = "keybearer",
) -> Flow[Step]:
    """RespondToAuthChallenge with the answers the challenge asks for."""
    device = Device(challenge.device, remember, device_name)
    login_name = challenge.login_name or challenge.username
    ephemeral: srp.Ephemeral | None = None
    if isinstance(challenge, SelectChallenge):
        choice = challenge.choice(answers, prefer_srp=config.password_flow == "srp")
        extra = {"ANSWER": choice}
        if choice == "PASSWORD" and answers.password:
            extra["PASSWORD"] = answers.password
        if choice == "PASSWORD_SRP":
            ephemeral = srp.Ephemeral()
            extra["SRP_A"] = ephemeral.public_hex
    else:
        extra = challenge.answer(answers)
    if device.secret is not None:
        extra["DEVICE_KEY"] = device.secret.device_key
    responses = with_secret_hash(
        config, challenge.username, {"USERNAME": challenge.username, **extra}
    )
    body = {
        "ClientId": config.client_id,
        "ChallengeName": challenge.name,
        "Session": challenge.session.get_secret_value(),
        "ChallengeResponses": responses,
    }
    response = yield request(config, "RespondToAuthChallenge", body)
    if device.secret is not None and is_unknown_device(response):
        raise DeviceGoneError(
            "Cognito no longer knows this device; its secret was dropped: sign in again"
        )
    data = parse(response, Purpose.LOGIN)
    if data.get("ChallengeName") == "PASSWORD_VERIFIER" and answers.password:
        response = yield from _verify_password(
            config, data, answers.password, ephemeral or srp.Ephemeral(), device, clock
        )
        data = parse(response, Purpose.LOGIN)
    return (yield from _settle(config, data, login_name, device, clock))


def begin_totp_setup(config: CognitoAppClient, challenge: MfaSetup) -> Flow[TotpSetup]:
    """AssociateSoftwareToken with the challenge's session."""
    body = {"Session": challenge.session.get_secret_value()}
    response = yield request(config, "AssociateSoftwareToken", body)
    data = parse(response, Purpose.LOGIN)
    secret, session = data.get("SecretCode"), data.get("Session")
    if not isinstance(secret, str) or not isinstance(session, str):
        raise ProtocolError("Cognito's AssociateSoftwareToken answer lacks SecretCode or Session")
    return TotpSetup(challenge=challenge, secret=SecretStr(secret), session=SecretStr(session))


def finish_totp_setup(
    config: CognitoAppClient,
    setup: TotpSetup,
    code: str,
    clock: Clock,
    remember: bool = False,
    device_name: str = "keybearer",
) -> Flow[Step]:
    """VerifySoftwareToken, then answer MFA_SETUP with the session it returns."""
    verify_body: dict[str, Any] = {"Session": setup.session.get_secret_value(), "UserCode": code}
    response = yield request(config, "VerifySoftwareToken", verify_body)
    data = parse(response, Purpose.LOGIN)
    session = data.get("Session")
    if data.get("Status") != "SUCCESS" or not isinstance(session, str):
        raise CodeMismatchError("Cognito did not accept the authenticator code")
    username = setup.challenge.username
    body = {
        "ClientId": config.client_id,
        "ChallengeName": "MFA_SETUP",
        "Session": session,
        "ChallengeResponses": with_secret_hash(config, username, {"USERNAME": username}),
    }
    response = yield request(config, "RespondToAuthChallenge", body)
    login_name = setup.challenge.login_name or username
    device = Device(setup.challenge.device, remember, device_name)
    return (yield from _settle(config, parse(response, Purpose.LOGIN), login_name, device, clock))
