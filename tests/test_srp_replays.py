"""SRP, device and USER_AUTH answers no local peer gives, replayed with pytest-httpx.

Bodies follow Cognito's documentation and the error texts users report:
``InvalidParameterException`` when the app client does not allow a flow,
``ResourceNotFoundException: Device does not exist.`` for a forgotten device,
and passkey (``WEB_AUTHN``) challenges.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

import keybearer
from cognito_shapes import CLIENT, IDP, POOL, SECRET, auth_result, error, target
from keybearer import errors
from keybearer._protocol import srp
from support import FakeClock

INTERNAL = "7d8ca528-4931-4254-9273-ea5ee853f271"
DEVICE_KEY = "us-east-1_0f3c9a4e-1111-2222-3333-444455556666"
DEVICE_ENTRY = f"cognito:{POOL}:{CLIENT}:default:device:alice"


@pytest.fixture
def store() -> keybearer.MemoryStore:
    return keybearer.MemoryStore()


def make(store: keybearer.MemoryStore, clock: FakeClock, **options: Any) -> keybearer.OAuthClient:
    return keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, clock=clock, **options)


def body_of(request: httpx.Request) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.content)
    return data


def password_verifier() -> dict[str, Any]:
    return {
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeParameters": {
            "SALT": "9c3b1f0a5e7d2c4b8a6f0e1d2c3b4a59",
            "SRP_B": f"{pow(2, 12345, srp.N) + 7:x}",
            "SECRET_BLOCK": base64.b64encode(b"secret block bytes").decode(),
            "USERNAME": INTERNAL,
            "USER_ID_FOR_SRP": INTERNAL,
        },
        "Session": "session-1-of-this-replay",
    }


def with_device(store: keybearer.MemoryStore) -> None:
    store.save(
        DEVICE_ENTRY,
        json.dumps({"device_key": DEVICE_KEY, "group_key": "-group", "password": "pw=="}),
    )


def refused(error_type: str, message: str) -> dict[str, Any]:
    return {"status_code": 400, "json": error(error_type, message)}


# -- the wire format of USER_SRP_AUTH --


def test_srp_sends_a_and_answers_with_cognitos_username_and_hash(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = make(store, clock, password_flow="srp", client_secret=SECRET)
    httpx_mock.add_response(url=IDP, match_headers=target("InitiateAuth"), json=password_verifier())
    httpx_mock.add_response(
        url=IDP, match_headers=target("RespondToAuthChallenge"), json=auth_result()
    )

    assert isinstance(client.login_password("alice", "Correct-Horse-1"), keybearer.TokenSet)

    start, answer = (body_of(r) for r in httpx_mock.get_requests())
    assert start["AuthFlow"] == "USER_SRP_AUTH"
    assert set(start["AuthParameters"]) == {"USERNAME", "SRP_A", "SECRET_HASH"}
    assert int(start["AuthParameters"]["SRP_A"], 16) % srp.N != 0
    assert answer["ChallengeName"] == "PASSWORD_VERIFIER"
    assert answer["Session"] == "session-1-of-this-replay"
    responses = answer["ChallengeResponses"]
    assert responses["USERNAME"] == INTERNAL
    assert set(responses) == {
        "USERNAME",
        "SECRET_HASH",
        "TIMESTAMP",
        "PASSWORD_CLAIM_SECRET_BLOCK",
        "PASSWORD_CLAIM_SIGNATURE",
    }
    assert "Correct-Horse-1" not in json.dumps(start) + json.dumps(answer)


@pytest.mark.parametrize(
    ("change", "value"),
    [("SRP_B", f"{srp.N:x}"), ("SRP_B", None), ("SECRET_BLOCK", "not base64!")],
)
def test_a_bad_password_verifier_is_a_protocol_error(
    change: str,
    value: str | None,
    httpx_mock: HTTPXMock,
    store: keybearer.MemoryStore,
    clock: FakeClock,
) -> None:
    challenge = password_verifier()
    if value is None:
        del challenge["ChallengeParameters"][change]
    else:
        challenge["ChallengeParameters"][change] = value
    httpx_mock.add_response(url=IDP, json=challenge)

    with pytest.raises(errors.ProtocolError):
        make(store, clock, password_flow="srp").login_password("alice", "Correct-Horse-1")


# -- the app client does not allow the flow --


@pytest.mark.parametrize(
    ("flow", "message", "names"),
    [
        (
            "srp",
            "USER_SRP_AUTH is not enabled for the client.",
            ('password_flow="user_password"', "ALLOW_USER_SRP_AUTH"),
        ),
        (
            "user_password",
            "USER_PASSWORD_AUTH flow not enabled for this client",
            ('password_flow="srp"', "ALLOW_USER_PASSWORD_AUTH"),
        ),
    ],
)
def test_a_flow_the_app_client_does_not_allow_names_the_other_setting(
    flow: str,
    message: str,
    names: tuple[str, str],
    httpx_mock: HTTPXMock,
    store: keybearer.MemoryStore,
    clock: FakeClock,
) -> None:
    httpx_mock.add_response(url=IDP, **refused("InvalidParameterException", message))

    with pytest.raises(errors.ConfigurationError) as caught:
        make(store, clock, password_flow=flow).login_password("alice", "Correct-Horse-1")

    for name in names:
        assert name in str(caught.value)
    assert caught.value.code == "InvalidParameterException"


def test_user_auth_not_allowed_names_the_setting(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    httpx_mock.add_response(
        url=IDP,
        **refused("InvalidParameterException", "USER_AUTH flow not enabled for this client"),
    )
    with pytest.raises(errors.ConfigurationError, match="ALLOW_USER_AUTH"):
        make(store, clock).login_user_auth("alice", preferred="EMAIL_OTP")


# -- a device Cognito no longer knows --


def test_an_unknown_device_is_dropped_and_sign_in_goes_on(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    with_device(store)
    httpx_mock.add_response(
        url=IDP, **refused("ResourceNotFoundException", "Device does not exist.")
    )
    httpx_mock.add_response(url=IDP, json=auth_result())

    tokens = make(store, clock).login_password("alice", "Correct-Horse-1")

    assert isinstance(tokens, keybearer.TokenSet)
    first, second = (body_of(r) for r in httpx_mock.get_requests())
    assert first["AuthParameters"]["DEVICE_KEY"] == DEVICE_KEY
    assert "DEVICE_KEY" not in second["AuthParameters"]
    assert store.load(DEVICE_ENTRY) is None


def test_a_device_unknown_at_device_srp_restarts_without_it(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    with_device(store)
    device_srp = {
        "ChallengeName": "DEVICE_SRP_AUTH",
        "Session": "session-2-of-this-replay",
        "ChallengeParameters": {},
    }
    for answer in (
        {"json": password_verifier()},
        {"json": device_srp},
        refused("ResourceNotFoundException", "Device does not exist."),
        {"json": password_verifier()},
        {"json": auth_result()},
    ):
        httpx_mock.add_response(url=IDP, **answer)

    tokens = make(store, clock, password_flow="srp").login_password("alice", "Correct-Horse-1")

    assert isinstance(tokens, keybearer.TokenSet)
    bodies = [body_of(r) for r in httpx_mock.get_requests()]
    assert bodies[2]["ChallengeName"] == "DEVICE_SRP_AUTH"
    assert bodies[2]["ChallengeResponses"]["DEVICE_KEY"] == DEVICE_KEY
    assert "DEVICE_KEY" not in bodies[3]["AuthParameters"]
    assert store.load(DEVICE_ENTRY) is None


def test_a_wrong_pool_is_not_mistaken_for_a_forgotten_device(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    with_device(store)
    httpx_mock.add_response(
        url=IDP, **refused("ResourceNotFoundException", "User pool client does not exist.")
    )
    with pytest.raises(errors.ConfigurationError):
        make(store, clock).login_password("alice", "Correct-Horse-1")
    assert store.load(DEVICE_ENTRY) is not None


def test_forget_device_when_cognito_already_forgot_it(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = make(store, clock)
    httpx_mock.add_response(url=IDP, json=auth_result(INTERNAL))
    client.login_password("alice", "Correct-Horse-1")
    store.save(
        f"cognito:{POOL}:{CLIENT}:default:device:{INTERNAL}",
        json.dumps({"device_key": DEVICE_KEY, "group_key": "-g", "password": "pw=="}),
    )
    httpx_mock.add_response(
        url=IDP,
        match_headers=target("ForgetDevice"),
        **refused("ResourceNotFoundException", "Device does not exist."),
    )

    assert client.forget_device() is True
    assert not [k for k in store._values if ":device:" in k]


def test_confirm_device_failing_keeps_the_sign_in(
    httpx_mock: HTTPXMock,
    store: keybearer.MemoryStore,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = auth_result()
    result["AuthenticationResult"]["NewDeviceMetadata"] = {
        "DeviceKey": DEVICE_KEY,
        "DeviceGroupKey": "-g",
    }
    httpx_mock.add_response(url=IDP, match_headers=target("InitiateAuth"), json=result)
    httpx_mock.add_response(
        url=IDP,
        match_headers=target("ConfirmDevice"),
        **refused("InvalidParameterException", "Invalid device verifier"),
    )
    with caplog.at_level(logging.WARNING, logger="keybearer"):
        tokens = make(store, clock, remember_device=True).login_password("alice", "pw")

    assert isinstance(tokens, keybearer.TokenSet)
    assert "could not be remembered" in caplog.text
    assert not [k for k in store._values if ":device:" in k]


def test_confirm_device_sends_a_verifier_and_opts_in_when_asked(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    result = auth_result()
    result["AuthenticationResult"]["NewDeviceMetadata"] = {
        "DeviceKey": DEVICE_KEY,
        "DeviceGroupKey": "-g",
    }
    httpx_mock.add_response(url=IDP, match_headers=target("InitiateAuth"), json=result)
    httpx_mock.add_response(
        url=IDP, match_headers=target("ConfirmDevice"), json={"UserConfirmationNecessary": True}
    )
    httpx_mock.add_response(url=IDP, match_headers=target("UpdateDeviceStatus"), json={})

    make(store, clock, remember_device=True).login_password("alice", "pw")

    _, confirm, update = (body_of(r) for r in httpx_mock.get_requests())
    assert set(confirm) == {"AccessToken", "DeviceKey", "DeviceName", "DeviceSecretVerifierConfig"}
    assert set(confirm["DeviceSecretVerifierConfig"]) == {"PasswordVerifier", "Salt"}
    assert confirm["DeviceName"].startswith("keybearer on ")
    assert update["DeviceRememberedStatus"] == "remembered"
    stored = json.loads(store.load(DEVICE_ENTRY) or "")
    assert stored["device_key"] == DEVICE_KEY
    assert stored["password"] not in json.dumps(confirm)


# -- passkeys and other USER_AUTH shapes --


def test_a_passkey_challenge_says_to_use_browser_sign_in(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    httpx_mock.add_response(
        url=IDP,
        json={
            "ChallengeName": "WEB_AUTHN",
            "Session": "session-of-this-replay",
            "ChallengeParameters": {"CREDENTIAL_REQUEST_OPTIONS": "{}", "USERNAME": "alice"},
        },
    )
    with pytest.raises(errors.ChallengeAnswerError, match="login_browser"):
        make(store, clock).login_user_auth("alice")


def test_choosing_web_authn_sends_nothing(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    httpx_mock.add_response(
        url=IDP,
        json={
            "ChallengeName": "SELECT_CHALLENGE",
            "Session": "session-of-this-replay",
            "ChallengeParameters": {"USERNAME": "alice"},
            "AvailableChallenges": ["WEB_AUTHN", "EMAIL_OTP"],
        },
    )
    client = make(store, clock)
    select = client.login_user_auth("alice")
    assert isinstance(select, keybearer.SelectChallenge)
    assert select.options == ("WEB_AUTHN", "EMAIL_OTP")

    with pytest.raises(errors.ChallengeAnswerError, match="login_browser"):
        client.respond(select, answer="WEB_AUTHN")
    with pytest.raises(errors.ChallengeAnswerError, match="not offered"):
        client.respond(select, answer="SMS_OTP")
    assert len(httpx_mock.get_requests()) == 1


def test_sms_otp_is_answered_with_its_code(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    httpx_mock.add_response(
        url=IDP,
        json={
            "ChallengeName": "SMS_OTP",
            "Session": "session-of-this-replay",
            "ChallengeParameters": {
                "USERNAME": INTERNAL,
                "CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
                "CODE_DELIVERY_DESTINATION": "+*******1234",
            },
        },
    )
    httpx_mock.add_response(url=IDP, json=auth_result())
    client = make(store, clock)

    otp = client.login_user_auth("alice", preferred="SMS_OTP")
    assert isinstance(otp, keybearer.SmsOtp)
    assert isinstance(client.respond(otp, code="123456"), keybearer.TokenSet)

    start, answer = (body_of(r) for r in httpx_mock.get_requests())
    assert start["AuthFlow"] == "USER_AUTH"
    assert start["AuthParameters"]["PREFERRED_CHALLENGE"] == "SMS_OTP"
    assert answer["ChallengeResponses"] == {"USERNAME": INTERNAL, "SMS_OTP_CODE": "123456"}


def test_preferred_must_be_a_known_choice(store: keybearer.MemoryStore, clock: FakeClock) -> None:
    with pytest.raises(errors.ConfigurationError, match="preferred"):
        make(store, clock).login_user_auth("alice", preferred="MAGIC_LINK")
    with pytest.raises(errors.ChallengeAnswerError, match="password"):
        make(store, clock).login_user_auth("alice", preferred="PASSWORD")


def test_password_flow_is_validated(store: keybearer.MemoryStore) -> None:
    with pytest.raises(errors.ConfigurationError, match="password_flow"):
        keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, password_flow="plain")  # type: ignore[arg-type]
