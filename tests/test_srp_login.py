"""SRP sign-in, remembered devices and USER_AUTH against LocalCognito's real SRP server.

The server side (keybearer.testing._srp) is checked against pycognito, a
client nobody here wrote, before keybearer is trusted against it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from pycognito import aws_srp  # type: ignore[import-untyped]

import keybearer
from keybearer import errors
from keybearer.testing import AppClient, LocalCognito, Pool
from support import PASSWORD, FakeClock

_names = itertools.count()
#: What the console gives a new app client, plus password and choice-based sign-in.
FLOWS = (
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_AUTH",
)


@pytest.fixture(scope="module")
def srp_app(cognito: LocalCognito, pool: Pool) -> AppClient:
    return cognito.create_app_client(pool, flows=FLOWS)


@pytest.fixture(scope="module")
def srp_secret_app(cognito: LocalCognito, pool: Pool) -> AppClient:
    return cognito.create_app_client(pool, secret=True, flows=FLOWS)


@pytest.fixture(scope="module")
def device_pool(cognito: LocalCognito) -> Pool:
    """A pool that remembers devices and skips MFA on them; TOTP MFA is optional."""
    pool = cognito.create_pool()
    cognito.admin_client.set_user_pool_mfa_config(
        UserPoolId=pool.id,
        SoftwareTokenMfaConfiguration={"Enabled": True},
        MfaConfiguration="OPTIONAL",
    )
    cognito.track_devices(pool, skip_mfa=True)
    return pool


@pytest.fixture(scope="module")
def device_app(cognito: LocalCognito, device_pool: Pool) -> AppClient:
    return cognito.create_app_client(device_pool, flows=FLOWS)


def _user(cognito: LocalCognito, pool: Pool, *, email: bool = False) -> str:
    name = f"srp{next(_names)}"
    attributes = {"email": f"{name}@example.test"} if email else None
    cognito.create_user(pool, name, PASSWORD, attributes=attributes)
    return name


def _idp(cognito: LocalCognito) -> Any:
    """A boto3 client for the unsigned calls, as pycognito would use."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(
        "cognito-idp",
        endpoint_url=cognito.url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def _with_totp(cognito: LocalCognito, pool: Pool, name: str) -> None:
    """Give a user an authenticator app, so password sign-ins ask for its code.

    Set in moto directly: its AssociateSoftwareToken answers a 12-character
    SecretCode, shorter than Cognito's model allows (the shape check refuses it).
    """
    user = cognito.state.backend().admin_get_user(pool.id, name)
    user.token_verified = True
    user.software_token_mfa_enabled = True
    user.preferred_mfa_setting = "SOFTWARE_TOKEN_MFA"


class Client:
    """Builds keybearer clients for one app client, sharing one store."""

    def __init__(self, cognito: LocalCognito, pool: Pool, app: AppClient, clock: FakeClock) -> None:
        self.cognito, self.pool, self.app, self.clock = cognito, pool, app, clock
        self.store = keybearer.MemoryStore()
        self.made: list[keybearer.OAuthClient] = []

    def __call__(self, **overrides: Any) -> keybearer.OAuthClient:
        options: dict[str, Any] = {
            "client_secret": self.app.secret,
            "idp_url": self.cognito.url,
            "store": self.store,
            "clock": self.clock,
            "password_flow": "srp",
        }
        options.update(overrides)
        client = keybearer.OAuthClient.cognito(self.pool.id, self.app.id, **options)
        self.made.append(client)
        return client

    def device_entries(self) -> dict[str, str]:
        return {k: v for k, v in self.store._values.items() if ":device:" in k}


@pytest.fixture
def srp_client(
    cognito: LocalCognito, pool: Pool, srp_app: AppClient, clock: FakeClock
) -> Iterator[Client]:
    factory = Client(cognito, pool, srp_app, clock)
    yield factory
    for client in factory.made:
        client.close()


@pytest.fixture
def device_client(
    cognito: LocalCognito, device_pool: Pool, device_app: AppClient, clock: FakeClock
) -> Iterator[Client]:
    factory = Client(cognito, device_pool, device_app, clock)
    yield factory
    for client in factory.made:
        client.close()


# -- the server side, checked with pycognito --


def test_pycognito_signs_in_to_local_cognito_by_srp(
    cognito: LocalCognito, pool: Pool, srp_app: AppClient
) -> None:
    name = _user(cognito, pool)
    reference = aws_srp.AWSSRP(name, PASSWORD, pool.id, srp_app.id, client=_idp(cognito))

    tokens = reference.authenticate_user()

    assert tokens["AuthenticationResult"]["AccessToken"]
    assert cognito.calls["InitiateAuth:USER_SRP_AUTH"] == 1


def test_pycognito_with_a_wrong_password_is_refused(
    cognito: LocalCognito, pool: Pool, srp_app: AppClient
) -> None:
    name = _user(cognito, pool)
    reference = aws_srp.AWSSRP(name, "Wrong-Pass-9", pool.id, srp_app.id, client=_idp(cognito))

    with pytest.raises(Exception, match="NotAuthorizedException"):
        reference.authenticate_user()


def test_pycognito_with_a_secret_client(
    cognito: LocalCognito, pool: Pool, srp_secret_app: AppClient
) -> None:
    name = _user(cognito, pool)
    reference = aws_srp.AWSSRP(
        name,
        PASSWORD,
        pool.id,
        srp_secret_app.id,
        client=_idp(cognito),
        client_secret=srp_secret_app.secret,
    )
    assert reference.authenticate_user()["AuthenticationResult"]["IdToken"]


def test_a_device_pycognito_confirmed_signs_keybearer_in_without_mfa(
    cognito: LocalCognito, device_pool: Pool, device_app: AppClient, device_client: Client
) -> None:
    name = _user(cognito, device_pool)
    _with_totp(cognito, device_pool, name)
    idp = _idp(cognito)
    reference = aws_srp.AWSSRP(name, PASSWORD, device_pool.id, device_app.id, client=idp)
    with pytest.raises(Exception, match="Software Token MFA") as raised:
        reference.authenticate_user()
    session = raised.value.get_tokens()["Session"]
    answered = idp.respond_to_auth_challenge(
        ClientId=device_app.id,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=session,
        ChallengeResponses={"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": "123456"},
    )
    metadata = answered["AuthenticationResult"]["NewDeviceMetadata"]
    # pycognito's own device password and verifier, sent with ConfirmDevice.
    password, verifier = aws_srp.generate_hash_device(
        metadata["DeviceGroupKey"], metadata["DeviceKey"]
    )
    idp.confirm_device(
        AccessToken=answered["AuthenticationResult"]["AccessToken"],
        DeviceKey=metadata["DeviceKey"],
        DeviceSecretVerifierConfig=verifier,
        DeviceName="pycognito",
    )
    # pycognito proves the device: no MFA this time.
    again = aws_srp.AWSSRP(
        name,
        PASSWORD,
        device_pool.id,
        device_app.id,
        client=idp,
        device_key=metadata["DeviceKey"],
        device_group_key=metadata["DeviceGroupKey"],
        device_password=password,
    )
    assert again.authenticate_user()["AuthenticationResult"]["AccessToken"]

    # keybearer, given the same device secret, is let in without a code too.
    device_client.store.save(
        f"cognito:{device_pool.id}:{device_app.id}:default:device:{name}",
        json.dumps(
            {
                "device_key": metadata["DeviceKey"],
                "group_key": metadata["DeviceGroupKey"],
                "password": password,
            }
        ),
    )
    tokens = device_client().login_password(name, PASSWORD)

    assert isinstance(tokens, keybearer.TokenSet)
    assert tokens.username == name
    assert cognito.devices(device_pool, name) == [metadata["DeviceKey"]]


def test_a_wrong_device_password_is_refused(
    cognito: LocalCognito, device_pool: Pool, device_app: AppClient, device_client: Client
) -> None:
    name = _user(cognito, device_pool)
    client = device_client(remember_device=True)
    assert isinstance(client.login_password(name, PASSWORD), keybearer.TokenSet)
    (key,) = device_client.device_entries()
    stored = json.loads(device_client.store.load(key) or "")
    stored["password"] = base64.b64encode(b"not the device password").decode()
    device_client.store.save(key, json.dumps(stored))

    with pytest.raises(errors.InvalidCredentialsError):
        device_client().login_password(name, PASSWORD)


# -- keybearer's SRP sign-in --


def test_srp_sign_in_returns_tokens_without_sending_the_password(
    cognito: LocalCognito, pool: Pool, srp_client: Client
) -> None:
    name = _user(cognito, pool)
    sent: list[bytes] = []
    client = srp_client()
    client._session.sync_http().event_hooks["request"].append(lambda r: sent.append(r.read()))

    tokens = client.login_password(name, PASSWORD)

    assert isinstance(tokens, keybearer.TokenSet)
    assert tokens.username == name
    assert cognito.calls["InitiateAuth:USER_SRP_AUTH"] == 1
    assert cognito.calls["InitiateAuth:USER_PASSWORD_AUTH"] == 0
    assert sent
    assert not any(PASSWORD.encode() in body for body in sent)


def test_srp_with_a_wrong_password_is_invalid_credentials(
    cognito: LocalCognito, pool: Pool, srp_client: Client
) -> None:
    name = _user(cognito, pool)
    with pytest.raises(errors.InvalidCredentialsError) as caught:
        srp_client().login_password(name, "Wrong-Pass-9")
    assert caught.value.code == "NotAuthorizedException"
    assert "Wrong-Pass-9" not in str(caught.value)


def test_srp_with_a_secret_client(
    cognito: LocalCognito, pool: Pool, srp_secret_app: AppClient, clock: FakeClock
) -> None:
    name = _user(cognito, pool)
    client = Client(cognito, pool, srp_secret_app, clock)()
    assert isinstance(client.login_password(name, PASSWORD), keybearer.TokenSet)
    client.close()


def test_srp_then_a_new_password_challenge(
    cognito: LocalCognito, pool: Pool, srp_client: Client
) -> None:
    name = f"srp-temp{next(_names)}"
    cognito.create_user(pool, name, "Temporary-Pass-1!", temporary=True)
    client = srp_client()

    challenge = client.login_password(name, "Temporary-Pass-1!")
    assert isinstance(challenge, keybearer.NewPasswordRequired)
    tokens = client.respond(challenge, new_password="Brand-New-Pass-3!")

    assert isinstance(tokens, keybearer.TokenSet)


def test_async_srp_sign_in(cognito: LocalCognito, pool: Pool, srp_client: Client) -> None:
    name = _user(cognito, pool)

    async def main() -> keybearer.TokenSet | keybearer.Challenge:
        return await srp_client().alogin_password(name, PASSWORD)

    assert isinstance(asyncio.run(main()), keybearer.TokenSet)


# -- remembered devices --


def test_mfa_once_per_remembered_device(
    cognito: LocalCognito, device_pool: Pool, device_app: AppClient, device_client: Client
) -> None:
    name = _user(cognito, device_pool)
    _with_totp(cognito, device_pool, name)
    client = device_client(remember_device=True)

    challenge = client.login_password(name, PASSWORD)
    assert isinstance(challenge, keybearer.SoftwareTokenMfa)
    tokens = client.respond(challenge, code="123456")
    assert isinstance(tokens, keybearer.TokenSet)
    assert cognito.calls["ConfirmDevice"] == 1
    assert cognito.calls["UpdateDeviceStatus"] == 0
    assert len(cognito.devices(device_pool, name)) == 1
    (entry,) = device_client.device_entries().values()

    again = device_client(remember_device=True).login_password(name, PASSWORD)

    assert isinstance(again, keybearer.TokenSet)
    assert cognito.calls["ConfirmDevice"] == 1  # the same device, not a new one
    shown = repr(client) + repr(again) + repr(challenge) + str(tokens)
    for secret in json.loads(entry).values():
        if isinstance(secret, str):
            assert secret not in shown


def test_no_device_secret_or_password_in_the_logs(
    cognito: LocalCognito,
    device_pool: Pool,
    device_client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = _user(cognito, device_pool)
    with caplog.at_level(logging.DEBUG, logger="keybearer"):
        client = device_client(remember_device=True)
        client.login_password(name, PASSWORD)
        (entry,) = device_client.device_entries().values()
        client.login_password(name, PASSWORD)
        client.forget_device()

    assert "this device is now remembered" in caplog.text
    assert PASSWORD not in caplog.text
    secret = json.loads(entry)
    for key in ("device_key", "group_key", "password"):
        assert secret[key] not in caplog.text


def test_user_password_flow_proves_the_device_too(
    cognito: LocalCognito, device_pool: Pool, device_app: AppClient, device_client: Client
) -> None:
    name = _user(cognito, device_pool)
    _with_totp(cognito, device_pool, name)
    client = device_client(remember_device=True, password_flow="user_password")
    challenge = client.login_password(name, PASSWORD)
    assert isinstance(challenge, keybearer.SoftwareTokenMfa)
    client.respond(challenge, code="123456")

    assert isinstance(client.login_password(name, PASSWORD), keybearer.TokenSet)


def test_without_remember_device_nothing_is_confirmed(
    cognito: LocalCognito, device_pool: Pool, device_client: Client
) -> None:
    name = _user(cognito, device_pool)
    assert isinstance(device_client().login_password(name, PASSWORD), keybearer.TokenSet)
    assert cognito.calls["ConfirmDevice"] == 0
    assert device_client.device_entries() == {}


def test_a_pool_that_asks_to_opt_in_gets_update_device_status(
    cognito: LocalCognito, clock: FakeClock
) -> None:
    pool = cognito.create_pool()
    cognito.track_devices(pool, prompt_user=True)
    app = cognito.create_app_client(pool, flows=FLOWS)
    name = _user(cognito, pool)
    factory = Client(cognito, pool, app, clock)

    assert isinstance(
        factory(remember_device=True).login_password(name, PASSWORD), keybearer.TokenSet
    )
    assert cognito.calls["UpdateDeviceStatus"] == 1
    assert isinstance(
        factory(remember_device=True).login_password(name, PASSWORD), keybearer.TokenSet
    )
    assert len(cognito.devices(pool, name)) == 1


def test_forget_device_forgets_it_at_cognito_and_here(
    cognito: LocalCognito, device_pool: Pool, device_app: AppClient, device_client: Client
) -> None:
    name = _user(cognito, device_pool)
    _with_totp(cognito, device_pool, name)
    client = device_client(remember_device=True)
    client.respond(client.login_password(name, PASSWORD), code="123456")  # type: ignore[arg-type]

    assert client.forget_device() is True

    assert cognito.calls["ForgetDevice"] == 1
    assert cognito.devices(device_pool, name) == []
    assert device_client.device_entries() == {}
    assert client.forget_device() is False
    assert isinstance(client.login_password(name, PASSWORD), keybearer.SoftwareTokenMfa)


def test_logout_keeps_the_device_unless_asked(
    cognito: LocalCognito, device_pool: Pool, device_client: Client
) -> None:
    name = _user(cognito, device_pool)
    client = device_client(remember_device=True)
    client.login_password(name, PASSWORD)

    client.logout()
    assert len(device_client.device_entries()) == 1
    client.login_password(name, PASSWORD)
    client.logout(forget_device=True)

    assert device_client.device_entries() == {}
    assert cognito.devices(device_pool, name) == []


def test_a_device_the_pool_forgot_is_dropped_and_sign_in_goes_on(
    cognito: LocalCognito, device_pool: Pool, device_client: Client
) -> None:
    name = _user(cognito, device_pool)
    client = device_client(remember_device=True)
    tokens = client.login_password(name, PASSWORD)
    assert isinstance(tokens, keybearer.TokenSet)
    (old,) = cognito.devices(device_pool, name)
    _idp(cognito).forget_device(AccessToken=tokens.access_token.get_secret_value(), DeviceKey=old)

    again = device_client(remember_device=True).login_password(name, PASSWORD)

    assert isinstance(again, keybearer.TokenSet)
    (new,) = cognito.devices(device_pool, name)
    assert new != old
    (entry,) = device_client.device_entries().values()
    assert json.loads(entry)["device_key"] == new


def test_async_device_round_trip(
    cognito: LocalCognito, device_pool: Pool, device_client: Client
) -> None:
    name = _user(cognito, device_pool)

    async def main() -> bool:
        client = device_client(remember_device=True)
        await client.alogin_password(name, PASSWORD)
        await client.alogin_password(name, PASSWORD)
        return await client.aforget_device()

    assert asyncio.run(main()) is True
    assert cognito.calls["ConfirmDevice"] == 1
    assert cognito.devices(device_pool, name) == []


# -- choice-based sign-in (USER_AUTH) --


def test_passwordless_email_code(cognito: LocalCognito, pool: Pool, srp_client: Client) -> None:
    name = _user(cognito, pool, email=True)
    client = srp_client()

    select = client.login_user_auth(name)
    assert isinstance(select, keybearer.SelectChallenge)
    assert set(select.options) == {"PASSWORD", "PASSWORD_SRP", "EMAIL_OTP"}
    otp = client.respond(select, answer="EMAIL_OTP")
    assert isinstance(otp, keybearer.EmailOtp)
    assert otp.destination == "s***@e***"
    code = cognito.email_code(name)
    assert code is not None

    tokens = client.respond(otp, code=code)
    assert isinstance(tokens, keybearer.TokenSet)
    assert tokens.username == name


def test_preferred_email_code_and_a_wrong_code(
    cognito: LocalCognito, pool: Pool, srp_client: Client
) -> None:
    name = _user(cognito, pool, email=True)
    client = srp_client()

    otp = client.login_user_auth(name, preferred="EMAIL_OTP")
    assert isinstance(otp, keybearer.EmailOtp)
    with pytest.raises(errors.CodeMismatchError):
        client.respond(otp, code="00000000" if cognito.email_code(name) != "00000000" else "1")
    assert isinstance(client.respond(otp, code=cognito.email_code(name)), keybearer.TokenSet)


@pytest.mark.parametrize("flow", ["srp", "user_password"])
def test_user_auth_with_the_password(
    flow: str, cognito: LocalCognito, pool: Pool, srp_client: Client
) -> None:
    name = _user(cognito, pool)
    client = srp_client(password_flow=flow)

    assert isinstance(client.login_user_auth(name, password=PASSWORD), keybearer.TokenSet)
    with pytest.raises(errors.InvalidCredentialsError):
        client.login_user_auth(name, password="Wrong-Pass-9")
    select = client.login_user_auth(name)
    assert isinstance(select, keybearer.SelectChallenge)
    assert isinstance(client.respond(select, password=PASSWORD), keybearer.TokenSet)


def test_passkeys_point_to_browser_sign_in(srp_client: Client) -> None:
    with pytest.raises(errors.ChallengeAnswerError, match="login_browser"):
        srp_client().login_user_auth("anyone", preferred="WEB_AUTHN")


def test_async_passwordless(cognito: LocalCognito, pool: Pool, srp_client: Client) -> None:
    name = _user(cognito, pool, email=True)

    async def main() -> keybearer.TokenSet | keybearer.Challenge:
        client = srp_client()
        otp = await client.alogin_user_auth(name, preferred="EMAIL_OTP")
        assert isinstance(otp, keybearer.EmailOtp)
        return await client.arespond(otp, code=cognito.email_code(name) or "")

    assert isinstance(asyncio.run(main()), keybearer.TokenSet)
