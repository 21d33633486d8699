"""Every 401/403 after the one refresh-and-retry comes with its likely cause."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

import keybearer
from keybearer import errors
from keybearer.testing import ProtectedApi
from support import FakeClock, MakeClient, Person

ADMIN_SCOPE = "https://api.example.test/admin"


def explained(response: httpx.Response) -> keybearer.Diagnosis:
    diagnosis = keybearer.explain(response)
    assert diagnosis is not None
    return diagnosis


def assert_no_token(text: str, client: keybearer.OAuthClient) -> None:
    tokens = client.tokens
    assert tokens is not None
    for secret in (tokens.id_token, tokens.access_token, tokens.refresh_token):
        if secret is not None:
            assert secret.get_secret_value() not in text


def test_access_token_to_a_method_without_scopes_says_send_id(
    make_client: MakeClient, person: Person, api: ProtectedApi
) -> None:
    client = make_client(send="access")
    client.login_password(person.username, person.password)

    with client.http(base_url=api.url) as http:
        response = http.get("/pets")

    diagnosis = explained(response)
    assert response.status_code == 401
    assert "send='id'" in diagnosis.fix
    assert "USER_PASSWORD_AUTH" in diagnosis.cause
    assert diagnosis.details["refreshed_and_retried"] is True
    assert_no_token(str(diagnosis) + repr(diagnosis), client)


def test_id_token_to_a_method_with_scopes_says_the_method_wants_an_access_token(
    make_client: MakeClient, person: Person, api: ProtectedApi
) -> None:
    client = make_client()
    client.login_password(person.username, person.password)

    with client.http(base_url=api.url) as http:
        response = http.get("/admin")

    diagnosis = explained(response)
    assert "OAuth scopes" in diagnosis.cause
    assert "send='access'" in diagnosis.fix
    assert diagnosis.details["token_use"] == "id"


def test_the_diagnosis_is_logged_once_per_token(
    make_client: MakeClient, person: Person, api: ProtectedApi, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(send="access")
    client.login_password(person.username, person.password)

    with caplog.at_level("WARNING", logger="keybearer"), client.http(base_url=api.url) as http:
        for _ in range(3):
            http.get("/pets")

    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1
    assert_no_token(caplog.text, client)


def test_clock_skew_is_named(make_client: MakeClient, person: Person, api: ProtectedApi) -> None:
    client = make_client()
    client.login_password(person.username, person.password)
    api.clock = lambda: time.time() + 2 * 3600  # the API lives two hours ahead

    with client.http(base_url=api.url) as http:
        response = http.get("/pets")

    diagnosis = explained(response)
    assert "the API's clock is 120 minutes ahead of this machine's" in diagnosis.cause
    assert "NTP" in diagnosis.fix


def test_raise_on_unauthorized_raises_with_the_response(
    make_client: MakeClient, person: Person, api: ProtectedApi
) -> None:
    client = make_client(send="access")
    client.login_password(person.username, person.password)

    with (
        client.http(base_url=api.url, raise_on_unauthorized=True) as http,
        pytest.raises(errors.UnauthorizedError) as caught,
    ):
        http.get("/pets")

    assert caught.value.response.status_code == 401
    assert caught.value.diagnosis is not None
    assert "send='id'" in str(caught.value)


async def test_async_responses_are_explained_too(
    make_client: MakeClient, person: Person, api: ProtectedApi, clock: FakeClock
) -> None:
    client = make_client(send="access")
    await client.alogin_password(person.username, person.password)

    async with client.async_http(base_url=api.url) as http:
        response = await http.get("/pets")

    assert "send='id'" in explained(response).fix


def test_a_successful_response_has_no_diagnosis(
    make_client: MakeClient, person: Person, api: ProtectedApi
) -> None:
    client = make_client()
    client.login_password(person.username, person.password)

    with client.http(base_url=api.url) as http:
        assert keybearer.explain(http.get("/pets")) is None


# -- API Gateway's own words, replayed --

API = "https://abc123.execute-api.us-east-1.amazonaws.com"


def replayed(
    httpx_mock: HTTPXMock, make_client: MakeClient, person: Person, **response: Any
) -> keybearer.Diagnosis:
    client = make_client()
    client.login_password(person.username, person.password)
    httpx_mock.add_response(url=f"{API}/prod/pets", is_reusable=True, **response)
    with client.http(base_url=f"{API}/prod") as http:
        result = http.get("/pets")
    return explained(result)


@pytest.mark.httpx_mock(should_mock=lambda request: request.url.host.endswith("amazonaws.com"))
def test_a_token_the_api_quotes_back_is_not_repeated(
    httpx_mock: HTTPXMock, make_client: MakeClient, person: Person
) -> None:
    client = make_client()
    client.login_password(person.username, person.password)

    def iam_method(request: httpx.Request) -> httpx.Response:
        header = request.headers["Authorization"]
        message = (
            "Authorization header requires 'Credential' parameter. Authorization header "
            f"requires 'Signature' parameter. Authorization={header} is not a valid "
            "key=value pair (missing equal-sign) in Authorization header"
        )
        return httpx.Response(403, json={"message": message})

    httpx_mock.add_callback(iam_method, url=f"{API}/prod/pets")
    with client.http(base_url=f"{API}/prod") as http:
        diagnosis = explained(http.get("/pets"))

    assert "IAM (SigV4)" in diagnosis.cause
    assert "[token]" in diagnosis.details["api_message"]
    assert_no_token(str(diagnosis) + repr(diagnosis), client)


@pytest.mark.httpx_mock(should_mock=lambda request: request.url.host.endswith("amazonaws.com"))
@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            {
                "status_code": 403,
                "json": {
                    "message": "Authorization header requires 'Credential' parameter. "
                    "Authorization=Bearer eyJ... is not a valid key=value pair "
                    "(missing equal-sign) in Authorization header"
                },
            },
            "IAM (SigV4)",
        ),
        ({"status_code": 403, "json": {"message": "Missing Authentication Token"}}, "no such path"),
        (
            {
                "status_code": 403,
                "json": {"message": "User is not authorized to access this resource"},
            },
            "Lambda authorizer",
        ),
        (
            {
                "status_code": 401,
                "json": {"message": "Unauthorized"},
                "headers": {
                    "www-authenticate": 'Bearer scope="" error="invalid_token" '
                    'error_description="the token does not have a valid audience"'
                },
            },
            "audience",
        ),
    ],
)
def test_api_gateway_answers_are_read(
    httpx_mock: HTTPXMock,
    make_client: MakeClient,
    person: Person,
    response: dict[str, Any],
    expected: str,
) -> None:
    diagnosis = replayed(httpx_mock, make_client, person, **response)

    assert expected in diagnosis.cause
