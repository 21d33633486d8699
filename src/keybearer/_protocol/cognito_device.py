"""Remembered devices: confirming a new device, answering device SRP, forgetting it.

A Cognito pool with device tracking hands out ``NewDeviceMetadata`` (a device
key and a device group key) with the tokens. The client makes up a random
device password, sends only an SRP verifier of it (``ConfirmDevice``), and
later proves it knows the password with the device key's own SRP exchange
(``DEVICE_SRP_AUTH`` then ``DEVICE_PASSWORD_VERIFIER``), which lets a pool
configured to do so skip MFA on that device.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from keybearer._devices import DeviceSecret
from keybearer._protocol import Flow, srp
from keybearer._protocol.app_client import CognitoAppClient
from keybearer._protocol.cognito_idp import Purpose, parse, request, with_secret_hash
from keybearer.errors import ChallengeAnswerError, ProtocolError


class DeviceGoneError(ChallengeAnswerError):
    """Cognito no longer knows the remembered device: its local secret must go."""


def new_device_metadata(result: Any) -> tuple[str, str] | None:
    """The (device key, group key) of ``AuthenticationResult.NewDeviceMetadata``, if any."""
    meta = result.get("NewDeviceMetadata") if isinstance(result, dict) else None
    if not isinstance(meta, dict):
        return None
    key, group = meta.get("DeviceKey"), meta.get("DeviceGroupKey")
    if not isinstance(key, str) or not isinstance(group, str) or not key or not group:
        raise ProtocolError("Cognito's NewDeviceMetadata lacks DeviceKey or DeviceGroupKey")
    return key, group


def is_unknown_device(response: httpx.Response) -> bool:
    """Whether Cognito refused a call because it no longer knows the device key sent.

    Cognito answers ``ResourceNotFoundException`` ("Device does not exist.");
    the same type without "device" in its message means a wrong pool or app
    client, which must not be mistaken for this.
    """
    if response.status_code != 400:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    code = response.headers.get("x-amzn-errortype") or body.get("__type") or ""
    message = body.get("message") or body.get("Message") or ""
    return (
        isinstance(code, str)
        and "ResourceNotFoundException" in code
        and isinstance(message, str)
        and "device" in message.lower()
    )


def confirm(
    config: CognitoAppClient, access_token: str, device_key: str, group_key: str, device_name: str
) -> Flow[DeviceSecret]:
    """ConfirmDevice with a fresh verifier; UpdateDeviceStatus when the pool asks to opt in."""
    password, verifier_config = srp.new_device_secret(group_key, device_key)
    body: dict[str, Any] = {
        "AccessToken": access_token,
        "DeviceKey": device_key,
        "DeviceName": device_name,
        "DeviceSecretVerifierConfig": verifier_config,
    }
    response = yield request(config, "ConfirmDevice", body)
    data = parse(response, Purpose.OTHER, secrets=(access_token,))
    if data.get("UserConfirmationNecessary") is True:
        # The pool remembers devices only when the user opts in; keybearer was told to.
        status = {
            "AccessToken": access_token,
            "DeviceKey": device_key,
            "DeviceRememberedStatus": "remembered",
        }
        response = yield request(config, "UpdateDeviceStatus", status)
        parse(response, Purpose.OTHER, secrets=(access_token,))
    return DeviceSecret(device_key, group_key, SecretStr(password))


def forget(config: CognitoAppClient, access_token: str, device_key: str) -> Flow[None]:
    """ForgetDevice; a device Cognito already forgot is fine."""
    body = {"AccessToken": access_token, "DeviceKey": device_key}
    response = yield request(config, "ForgetDevice", body)
    if is_unknown_device(response):
        return
    parse(response, Purpose.OTHER, secrets=(access_token,))


def answer_device_srp(
    config: CognitoAppClient,
    data: dict[str, Any],
    device: DeviceSecret,
    username: str,
    clock: Callable[[], float],
) -> Flow[httpx.Response]:
    """Answer DEVICE_SRP_AUTH and the DEVICE_PASSWORD_VERIFIER that follows.

    Returns Cognito's answer to the verifier (tokens, another challenge or an
    error) for the caller to read.
    """
    ephemeral = srp.Ephemeral()
    responses = with_secret_hash(
        config,
        username,
        {"USERNAME": username, "DEVICE_KEY": device.device_key, "SRP_A": ephemeral.public_hex},
    )
    body = {
        "ClientId": config.client_id,
        "ChallengeName": "DEVICE_SRP_AUTH",
        "Session": data.get("Session"),
        "ChallengeResponses": responses,
    }
    response = yield request(config, "RespondToAuthChallenge", body)
    if is_unknown_device(response):
        return response
    step = parse(response, Purpose.LOGIN)
    if step.get("ChallengeName") != "DEVICE_PASSWORD_VERIFIER":
        raise ProtocolError("Cognito did not follow DEVICE_SRP_AUTH with DEVICE_PASSWORD_VERIFIER")
    parameters = step.get("ChallengeParameters")
    if not isinstance(parameters, dict):
        raise ProtocolError("Cognito's DEVICE_PASSWORD_VERIFIER has no parameters")
    salt, big_b, block = (parameters.get(k) for k in ("SALT", "SRP_B", "SECRET_BLOCK"))
    if not isinstance(salt, str) or not isinstance(big_b, str) or not isinstance(block, str):
        raise ProtocolError("Cognito's DEVICE_PASSWORD_VERIFIER lacks SALT, SRP_B or SECRET_BLOCK")
    who = parameters.get("USERNAME")
    username = who if isinstance(who, str) and who else username
    claim = ephemeral.answer(
        prefix=device.group_key,
        identity=device.device_key,
        secret=device.password.get_secret_value(),
        salt_hex=salt,
        b_hex=big_b,
        secret_block=block,
        now=clock(),
    )
    responses = with_secret_hash(
        config, username, {"USERNAME": username, "DEVICE_KEY": device.device_key, **claim}
    )
    body = {
        "ClientId": config.client_id,
        "ChallengeName": "DEVICE_PASSWORD_VERIFIER",
        "Session": step.get("Session"),
        "ChallengeResponses": responses,
    }
    return (yield request(config, "RespondToAuthChallenge", body))
