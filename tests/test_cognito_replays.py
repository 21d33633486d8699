"""Cognito behaviour no local peer shows, replayed with pytest-httpx.

Shapes come from the cognito-idp API model and AWS's documentation
(see the project's protocol notes): error bodies keyed by ``__type``,
refresh answers without a RefreshToken, rotation, challenges.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

import keybearer
from cognito_shapes import CLIENT, IDP, POOL, SECRET, auth_result, error, target
from keybearer import errors
from support import FakeClock

ALIAS = "alice@example.com"
COGNITO_USERNAME = "7d8ca528-4931-4254-9273-ea5ee853f271"


@pytest.fixture
def store() -> keybearer.MemoryStore:
    return keybearer.MemoryStore()


def make(store: keybearer.MemoryStore, clock: FakeClock, **options: Any) -> keybearer.OAuthClient:
    return keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, clock=clock, **options)


def body_of(request: httpx.Request) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.content)
    return data


def expected_hash(username: str) -> str:
    mac = hmac.new(SECRET.encode(), (username + CLIENT).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def signed_in(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock, **options: Any
) -> keybearer.OAuthClient:
    client = make(store, clock, **options)
    httpx_mock.add_response(url=IDP, match_headers=target("InitiateAuth"), json=auth_result())
    client.login_password(ALIAS, "Correct-Horse-1")
    return client


def stored(store: keybearer.MemoryStore, client: keybearer.OAuthClient) -> str | None:
    return store.load(client.config.store_key)


# -- the wire format --


def test_initiate_auth_request_is_cognitos_wire_format(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    signed_in(httpx_mock, store, clock, client_secret=SECRET)

    request = httpx_mock.get_requests()[0]
    assert request.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert "Authorization" not in request.headers  # unsigned: no AWS credentials
    assert body_of(request) == {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": CLIENT,
        "AuthParameters": {
            "USERNAME": ALIAS,
            "PASSWORD": "Correct-Horse-1",
            "SECRET_HASH": expected_hash(ALIAS),
        },
    }


def test_refresh_hashes_cognitos_username_not_the_alias_typed(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = signed_in(httpx_mock, store, clock, client_secret=SECRET)
    httpx_mock.add_response(
        url=IDP, match_headers=target("InitiateAuth"), json=auth_result(refresh=None, serial=2)
    )

    client.refresh()

    params = body_of(httpx_mock.get_requests()[-1])["AuthParameters"]
    assert params["SECRET_HASH"] == expected_hash(COGNITO_USERNAME)
    assert params["SECRET_HASH"] != expected_hash(ALIAS)


def test_refresh_answer_without_refresh_token_keeps_the_old_one(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = signed_in(httpx_mock, store, clock)
    old = client.tokens
    assert old is not None
    httpx_mock.add_response(
        url=IDP, match_headers=target("InitiateAuth"), json=auth_result(refresh=None, serial=2)
    )

    new = client.refresh()

    assert new.refresh_token == old.refresh_token
    assert new.access_token != old.access_token
    assert keybearer.TokenSet.from_json(stored(store, client) or "") == new


# -- refresh-token rotation --


def test_rotation_uses_get_tokens_from_refresh_token_and_persists_the_new_one(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = signed_in(httpx_mock, store, clock, client_secret=SECRET, rotate_refresh_tokens=True)
    httpx_mock.add_response(
        url=IDP,
        match_headers=target("GetTokensFromRefreshToken"),
        json=auth_result(refresh="rotated-refresh-token-" + "n" * 40, serial=2),
    )

    new = client.refresh()

    sent = body_of(httpx_mock.get_requests()[-1])
    assert sent["ClientId"] == CLIENT
    assert sent["ClientSecret"] == SECRET  # this call takes the raw secret, no hash
    assert sent["RefreshToken"].startswith("opaque-refresh-token-")
    assert new.origin == "rotating"
    assert new.refresh_token is not None
    assert new.refresh_token.get_secret_value().startswith("rotated-")
    persisted = keybearer.TokenSet.from_json(stored(store, client) or "")
    assert persisted.refresh_token == new.refresh_token


def test_refresh_token_reuse_asks_for_login_and_keeps_stored_tokens(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = signed_in(httpx_mock, store, clock, rotate_refresh_tokens=True)
    before = stored(store, client)
    httpx_mock.add_response(
        url=IDP,
        status_code=400,
        json=error("RefreshTokenReuseException", "Refresh token has been reused."),
    )

    with pytest.raises(errors.LoginRequiredError) as caught:
        client.refresh()

    assert caught.value.code == "RefreshTokenReuseException"
    after = stored(store, client)
    assert after is not None
    assert before is not None
    # The same tokens, kept (never wiped), marked as a session that has ended.
    kept = keybearer.TokenSet.from_json(after)
    assert kept.ended
    assert kept.model_copy(update={"ended": False}).to_json() == before


# -- errors by __type --


@pytest.mark.parametrize(
    ("error_type", "message", "expected"),
    [
        (
            "NotAuthorizedException",
            "Incorrect username or password.",
            errors.InvalidCredentialsError,
        ),
        (
            "NotAuthorizedException",
            "Unable to verify secret hash for client 1example23456789",
            errors.ConfigurationError,
        ),
        (
            "NotAuthorizedException",
            "USER_PASSWORD_AUTH flow not enabled for this client",
            errors.ConfigurationError,
        ),
        ("UserNotConfirmedException", "User is not confirmed.", errors.UserNotConfirmedError),
        (
            "PasswordResetRequiredException",
            "Password reset required for the user",
            errors.PasswordResetRequiredError,
        ),
        ("UserNotFoundException", "User does not exist.", errors.UserNotFoundError),
        (
            "ResourceNotFoundException",
            "User pool client 1example23456789 does not exist.",
            errors.ConfigurationError,
        ),
        ("TooManyRequestsException", "Rate exceeded", errors.ThrottledError),
        (
            "LimitExceededException",
            "Attempt limit exceeded, please try after some time.",
            errors.ThrottledError,
        ),
        ("InternalErrorException", "Internal server error", errors.ServiceError),
        (
            "UserLambdaValidationException",
            "PreAuthentication failed with error nope.",
            errors.ProviderError,
        ),
    ],
)
def test_cognito_errors_map_to_typed_errors(
    httpx_mock: HTTPXMock,
    store: keybearer.MemoryStore,
    clock: FakeClock,
    error_type: str,
    message: str,
    expected: type[Exception],
) -> None:
    status = 500 if error_type == "InternalErrorException" else 400
    # Reusable: a throttled call is sent again (keybearer._io.drive.RETRY) before it fails.
    httpx_mock.add_response(
        url=IDP, status_code=status, json=error(error_type, message), is_reusable=True
    )

    with pytest.raises(expected) as caught:
        make(store, clock).login_password(ALIAS, "Secret-Password-1")

    assert isinstance(caught.value, errors.KeybearerError)
    assert caught.value.code == error_type
    assert message in str(caught.value)
    assert "Secret-Password-1" not in str(caught.value)


def test_throttling_is_retried_then_reported(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    from keybearer._io import drive as _drive

    httpx_mock.add_response(
        url=IDP,
        status_code=400,
        headers={"x-amzn-ErrorType": "TooManyRequestsException:http://internal.amazon.com/"},
        json={"message": "Rate exceeded"},
        is_reusable=True,
    )

    with pytest.raises(errors.ThrottledError) as caught:
        make(store, clock).login_password(ALIAS, "pw")

    assert caught.value.code == "TooManyRequestsException"
    assert len(httpx_mock.get_requests()) == _drive.RETRY.attempts


def test_a_retry_after_longer_than_the_back_off_cap_is_reported_not_waited(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    httpx_mock.add_response(
        url=IDP, status_code=429, headers={"Retry-After": "7"}, text="slow down"
    )

    with pytest.raises(errors.ThrottledError) as caught:
        make(store, clock).login_password(ALIAS, "pw")

    assert caught.value.retry_after == 7.0
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"status_code": 502, "text": "<html>Bad Gateway</html>"}, errors.ServiceError),
        ({"status_code": 200, "text": '{"AuthenticationResult": {"AccessT'}, errors.ProtocolError),
        (
            {"status_code": 200, "json": {"AuthenticationResult": {"IdToken": "x"}}},
            errors.ProtocolError,
        ),
        ({"status_code": 200, "json": ["not", "an", "object"]}, errors.ProtocolError),
        ({"status_code": 200, "json": {}}, errors.ProtocolError),
        ({"status_code": 403, "text": "Forbidden"}, errors.ProtocolError),
        ({"status_code": 200, "content": b"{" + b" " * (2 << 20) + b"}"}, errors.ProtocolError),
    ],
)
def test_malformed_answers_are_typed_errors(
    httpx_mock: HTTPXMock,
    store: keybearer.MemoryStore,
    clock: FakeClock,
    reply: dict[str, Any],
    expected: type[Exception],
) -> None:
    httpx_mock.add_response(url=IDP, **reply)

    with pytest.raises(expected):
        make(store, clock).login_password(ALIAS, "pw")


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        (httpx.ReadTimeout("timed out"), errors.RequestTimeoutError),
        (httpx.ConnectError("[Errno 111] Connection refused"), errors.NetworkError),
        (httpx.RemoteProtocolError("peer closed connection"), errors.NetworkError),
    ],
)
def test_transient_refresh_failures_keep_stored_tokens(
    httpx_mock: HTTPXMock,
    store: keybearer.MemoryStore,
    clock: FakeClock,
    exception: Exception,
    expected: type[Exception],
) -> None:
    client = signed_in(httpx_mock, store, clock)
    before = stored(store, client)
    httpx_mock.add_exception(exception)

    with pytest.raises(expected):
        client.refresh()

    assert stored(store, client) == before
    assert client.tokens is not None


async def test_async_transient_refresh_failure_keeps_stored_tokens(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = signed_in(httpx_mock, store, clock)
    before = stored(store, client)
    httpx_mock.add_response(url=IDP, status_code=503, text="Service Unavailable")

    with pytest.raises(errors.ServiceError):
        await client.arefresh()

    assert stored(store, client) == before


# -- challenges --


def challenge(name: str, parameters: dict[str, str]) -> dict[str, Any]:
    return {
        "ChallengeName": name,
        "Session": "session-" + "x" * 60,
        "ChallengeParameters": parameters,
    }


@pytest.mark.parametrize(
    ("name", "cls", "key"),
    [
        ("SOFTWARE_TOKEN_MFA", keybearer.SoftwareTokenMfa, "SOFTWARE_TOKEN_MFA_CODE"),
        ("SMS_MFA", keybearer.SmsMfa, "SMS_MFA_CODE"),
        ("EMAIL_OTP", keybearer.EmailOtp, "EMAIL_OTP_CODE"),
        ("SMS_OTP", keybearer.SmsOtp, "SMS_OTP_CODE"),
    ],
)
def test_code_challenges_are_answered_with_code(
    httpx_mock: HTTPXMock,
    store: keybearer.MemoryStore,
    clock: FakeClock,
    name: str,
    cls: type[keybearer.Challenge],
    key: str,
) -> None:
    client = make(store, clock, client_secret=SECRET)
    parameters = {
        "USERNAME": COGNITO_USERNAME,
        "CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
        "CODE_DELIVERY_DESTINATION": "a***@e***",
    }
    httpx_mock.add_response(
        url=IDP, match_headers=target("InitiateAuth"), json=challenge(name, parameters)
    )
    httpx_mock.add_response(
        url=IDP, match_headers=target("RespondToAuthChallenge"), json=auth_result()
    )

    pending = client.login_password(ALIAS, "pw")
    assert isinstance(pending, cls)
    assert pending.destination == "a***@e***"  # type: ignore[attr-defined]
    with pytest.raises(errors.ChallengeAnswerError, match="code="):
        client.respond(pending)
    tokens = client.respond(pending, code="123456")

    assert isinstance(tokens, keybearer.TokenSet)
    sent = body_of(httpx_mock.get_requests()[-1])
    assert sent["ChallengeName"] == name
    assert sent["Session"] == "session-" + "x" * 60
    # Later calls use Cognito's username, and the hash follows it.
    assert sent["ChallengeResponses"] == {
        "USERNAME": COGNITO_USERNAME,
        key: "123456",
        "SECRET_HASH": expected_hash(COGNITO_USERNAME),
    }


def test_select_mfa_type_offers_and_checks_the_choice(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = make(store, clock)
    offered = json.dumps(["SMS_MFA", "SOFTWARE_TOKEN_MFA"])
    httpx_mock.add_response(
        url=IDP, json=challenge("SELECT_MFA_TYPE", {"USERNAME": ALIAS, "MFAS_CAN_CHOOSE": offered})
    )
    httpx_mock.add_response(url=IDP, json=challenge("SOFTWARE_TOKEN_MFA", {"USERNAME": ALIAS}))

    pending = client.login_password(ALIAS, "pw")
    assert isinstance(pending, keybearer.SelectMfaType)
    assert pending.options == ("SMS_MFA", "SOFTWARE_TOKEN_MFA")
    with pytest.raises(errors.ChallengeAnswerError, match="EMAIL_OTP"):
        client.respond(pending, mfa="EMAIL_OTP")

    following = client.respond(pending, mfa="SOFTWARE_TOKEN_MFA")

    assert isinstance(following, keybearer.SoftwareTokenMfa)
    assert (
        body_of(httpx_mock.get_requests()[-1])["ChallengeResponses"]["ANSWER"]
        == "SOFTWARE_TOKEN_MFA"
    )


def test_new_password_challenge_requires_the_listed_attributes(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = make(store, clock)
    parameters = {
        "USERNAME": ALIAS,
        "userAttributes": json.dumps({"email": ALIAS}),
        "requiredAttributes": json.dumps(["userAttributes.name"]),
    }
    httpx_mock.add_response(url=IDP, json=challenge("NEW_PASSWORD_REQUIRED", parameters))
    httpx_mock.add_response(url=IDP, json=auth_result())

    pending = client.login_password(ALIAS, "pw")
    assert isinstance(pending, keybearer.NewPasswordRequired)
    assert pending.required_attributes == ("name",)
    with pytest.raises(errors.ChallengeAnswerError, match="name"):
        client.respond(pending, new_password="New-Pass-1")

    client.respond(pending, new_password="New-Pass-1", attributes={"name": "Alice"})

    sent = body_of(httpx_mock.get_requests()[-1])["ChallengeResponses"]
    assert sent == {"USERNAME": ALIAS, "NEW_PASSWORD": "New-Pass-1", "userAttributes.name": "Alice"}


def test_mfa_setup_with_an_authenticator_app(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = make(store, clock)
    offered = json.dumps(["SOFTWARE_TOKEN_MFA"])
    httpx_mock.add_response(
        url=IDP, json=challenge("MFA_SETUP", {"USERNAME": ALIAS, "MFAS_CAN_SETUP": offered})
    )
    httpx_mock.add_response(
        url=IDP,
        match_headers=target("AssociateSoftwareToken"),
        json={"SecretCode": "JBSWY3DPEHPK3PXP", "Session": "session-2-" + "x" * 20},
    )
    httpx_mock.add_response(
        url=IDP,
        match_headers=target("VerifySoftwareToken"),
        json={"Status": "SUCCESS", "Session": "session-3-" + "x" * 20},
    )
    httpx_mock.add_response(
        url=IDP, match_headers=target("RespondToAuthChallenge"), json=auth_result()
    )

    pending = client.login_password(ALIAS, "pw")
    assert isinstance(pending, keybearer.MfaSetup)
    with pytest.raises(errors.ChallengeAnswerError, match="begin_totp_setup"):
        client.respond(pending, code="123456")
    setup = client.begin_totp_setup(pending)
    assert "JBSWY3DPEHPK3PXP" not in repr(setup)
    assert "secret=JBSWY3DPEHPK3PXP" in setup.uri("MyApp")

    tokens = client.respond(setup, code="654321")

    assert isinstance(tokens, keybearer.TokenSet)
    verify, final = (body_of(r) for r in httpx_mock.get_requests()[-2:])
    assert verify == {"Session": "session-2-" + "x" * 20, "UserCode": "654321"}
    assert final["ChallengeName"] == "MFA_SETUP"
    assert final["Session"] == "session-3-" + "x" * 20


def test_unknown_challenge_is_answered_with_raw_responses(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = make(store, clock)
    httpx_mock.add_response(url=IDP, json=challenge("FUTURE_CHALLENGE", {"USERNAME": ALIAS}))
    httpx_mock.add_response(url=IDP, json=auth_result())

    pending = client.login_password(ALIAS, "pw")
    assert type(pending) is keybearer.Challenge
    with pytest.raises(errors.ChallengeAnswerError, match="responses="):
        client.respond(pending)
    client.respond(pending, responses={"CREDENTIAL": "{}"})

    assert body_of(httpx_mock.get_requests()[-1])["ChallengeResponses"]["CREDENTIAL"] == "{}"


# -- logout --


def test_logout_signs_out_globally_then_revokes(
    httpx_mock: HTTPXMock, store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    client = signed_in(httpx_mock, store, clock, client_secret=SECRET)
    httpx_mock.add_response(url=IDP, match_headers=target("GlobalSignOut"), json={})
    httpx_mock.add_response(url=IDP, match_headers=target("RevokeToken"), json={})

    assert client.logout(global_=True) is True

    global_sign_out, revoke = (body_of(r) for r in httpx_mock.get_requests()[-2:])
    assert set(global_sign_out) == {"AccessToken"}
    assert revoke["ClientId"] == CLIENT
    assert revoke["ClientSecret"] == SECRET
    assert revoke["Token"].startswith("opaque-refresh-token-")
    assert client.tokens is None
    assert stored(store, client) is None
