"""The httpx integration, end to end: moto signs in, a real verifying API answers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import keybearer
from keybearer import errors
from keybearer.testing import LocalCognito, ProtectedApi
from support import FakeClock, MakeClient, Person, id_token_of

REFRESHES = "InitiateAuth:REFRESH_TOKEN_AUTH"


@pytest.fixture
def signed_in(make_client: MakeClient, person: Person) -> keybearer.OAuthClient:
    client = make_client()
    client.login_password(person.username, person.password)
    return client


@pytest.fixture
def refreshes(cognito: LocalCognito) -> LocalCognito:
    cognito.reset_counts()
    return cognito


def test_bearer_id_token_reaches_the_api(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, person: Person
) -> None:
    with signed_in.http(base_url=api.url) as http:
        response = http.get("/pets")

    assert response.status_code == 200
    assert response.request.headers["Authorization"].startswith("Bearer eyJ")
    assert api.requests[-1].token_use == "id"


def test_raw_token_without_scheme(
    make_client: MakeClient, person: Person, api: ProtectedApi
) -> None:
    client = make_client(scheme=None)
    client.login_password(person.username, person.password)

    with client.http(base_url=api.url) as http:
        response = http.get("/pets")

    assert response.status_code == 200
    assert response.request.headers["Authorization"].startswith("eyJ")


def test_expired_token_is_refreshed_before_the_request(
    signed_in: keybearer.OAuthClient,
    api: ProtectedApi,
    clock: FakeClock,
    refreshes: LocalCognito,
) -> None:
    before = signed_in.tokens
    clock.advance(3600 - 60)  # inside the refresh window

    with signed_in.http(base_url=api.url) as http:
        assert http.get("/pets").status_code == 200
        assert http.get("/pets").status_code == 200

    assert refreshes.calls[REFRESHES] == 1
    assert signed_in.tokens is not before
    assert [r.status for r in api.requests] == [200, 200]


def test_a_rejected_token_is_refreshed_once_and_the_request_replayed(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, refreshes: LocalCognito
) -> None:
    api.revoke(id_token_of(signed_in))

    with signed_in.http(base_url=api.url) as http:
        response = http.post("/pets", json={"name": "Rex"})

    assert response.status_code == 200
    assert response.json()["body"] == {"name": "Rex"}
    assert [r.status for r in api.requests] == [401, 200]
    assert refreshes.calls[REFRESHES] == 1


def test_a_token_the_api_keeps_refusing_is_retried_only_once(
    make_client: MakeClient, person: Person, api: ProtectedApi, refreshes: LocalCognito
) -> None:
    # A REST method without OAuth scopes wants the ID token; the access token
    # stays unauthorized however often it is refreshed.
    client = make_client(send="access")
    client.login_password(person.username, person.password)

    with client.http(base_url=api.url) as http:
        response = http.get("/pets")

    assert response.status_code == 401
    assert [r.status for r in api.requests] == [401, 401]
    assert refreshes.calls[REFRESHES] == 1


def test_a_streaming_body_is_not_replayed(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, refreshes: LocalCognito
) -> None:
    api.revoke(id_token_of(signed_in))

    def body() -> Iterator[bytes]:
        yield b'{"name": "Rex"}'

    with signed_in.http(base_url=api.url) as http:
        response = http.post("/pets", content=body())

    assert response.status_code == 401
    assert len(api.requests) == 1
    assert refreshes.calls[REFRESHES] == 0


def test_token_is_not_sent_to_another_host(
    signed_in: keybearer.OAuthClient, api: ProtectedApi
) -> None:
    other = api.url.replace("127.0.0.1", "localhost")

    with signed_in.http(base_url=api.url) as http:
        response = http.get(f"{other}/pets")

    assert "Authorization" not in response.request.headers
    assert response.status_code == 401


def test_auth_on_a_users_own_client_needs_allowed_hosts(
    signed_in: keybearer.OAuthClient, api: ProtectedApi
) -> None:
    with (
        httpx.Client(auth=signed_in.auth) as http,
        pytest.raises(errors.ConfigurationError, match="api_hosts"),
    ):
        http.get(f"{api.url}/pets")


def test_auth_on_a_users_own_client_with_api_hosts(
    make_client: MakeClient, person: Person, api: ProtectedApi
) -> None:
    client = make_client(api_hosts=[api.url])
    client.login_password(person.username, person.password)

    with httpx.Client(auth=client.auth) as http:
        assert http.get(f"{api.url}/pets").status_code == 200


def test_not_signed_in_is_a_login_required_error(
    make_client: MakeClient, api: ProtectedApi
) -> None:
    with (
        make_client().http(base_url=api.url) as http,
        pytest.raises(errors.LoginRequiredError, match="login_password"),
    ):
        http.get("/pets")
    assert api.requests == []


def test_a_dead_refresh_token_asks_for_login_and_keeps_the_tokens(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, clock: FakeClock, cognito: LocalCognito
) -> None:
    before = signed_in.tokens
    cognito.fail_next(
        "InitiateAuth:REFRESH_TOKEN_AUTH",
        status=400,
        error_type="NotAuthorizedException",
        message="Refresh Token has been revoked",
    )
    clock.advance(3600)

    with signed_in.http(base_url=api.url) as http, pytest.raises(errors.LoginRequiredError):
        http.get("/pets")
    kept = signed_in.tokens
    assert kept is not None
    assert before is not None
    # The same tokens, kept (never wiped), marked as a session that has ended.
    assert kept.ended
    assert kept.to_json() == before.model_copy(update={"ended": True}).to_json()


def test_a_transient_refresh_failure_inside_the_window_uses_the_valid_token(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, clock: FakeClock, cognito: LocalCognito
) -> None:
    before = signed_in.tokens
    cognito.fail_next(
        "InitiateAuth:REFRESH_TOKEN_AUTH", status=500, error_type="InternalErrorException"
    )
    clock.advance(3600 - 60)

    with signed_in.http(base_url=api.url) as http:
        assert http.get("/pets").status_code == 200
    assert signed_in.tokens is before


def test_a_transient_refresh_failure_after_expiry_raises_and_keeps_the_tokens(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, clock: FakeClock, cognito: LocalCognito
) -> None:
    before = signed_in.tokens
    cognito.fail_next(
        "InitiateAuth:REFRESH_TOKEN_AUTH", status=500, error_type="InternalErrorException"
    )
    clock.advance(3600 + 1)

    with signed_in.http(base_url=api.url) as http, pytest.raises(errors.ServiceError):
        http.get("/pets")
    assert signed_in.tokens is before
    # Once Cognito is back, the same tokens refresh normally.
    with signed_in.http(base_url=api.url) as http:
        assert http.get("/pets").status_code == 200


async def test_async_client_injects_refreshes_and_retries(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, clock: FakeClock, refreshes: LocalCognito
) -> None:
    async with signed_in.async_http(base_url=api.url) as http:
        assert (await http.get("/pets")).status_code == 200
        clock.advance(3600)
        assert (await http.get("/pets")).status_code == 200
        api.revoke(id_token_of(signed_in))
        assert (await http.put("/pets/1", json={"name": "Rex"})).status_code == 200

    assert refreshes.calls[REFRESHES] == 2
    assert [r.status for r in api.requests] == [200, 200, 401, 200]


def test_tokens_the_api_refused_after_a_refresh_are_not_refreshed_again(
    make_client: MakeClient, person: Person, api: ProtectedApi, refreshes: LocalCognito
) -> None:
    client = make_client(send="access")
    client.login_password(person.username, person.password)

    with client.http(base_url=api.url) as http:
        statuses = [http.get("/pets").status_code for _ in range(3)]

    assert statuses == [401, 401, 401]
    assert refreshes.calls[REFRESHES] == 1
    assert len(api.requests) == 4  # one replay, then no more


def test_a_dead_session_fails_fast_without_asking_cognito_again(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, clock: FakeClock, cognito: LocalCognito
) -> None:
    cognito.fail_next(
        "InitiateAuth:REFRESH_TOKEN_AUTH",
        status=400,
        error_type="NotAuthorizedException",
        message="Refresh Token has expired",
    )
    clock.advance(3600)

    with signed_in.http(base_url=api.url) as http:
        for _ in range(3):
            with pytest.raises(errors.LoginRequiredError):
                http.get("/pets")

    assert cognito.calls[REFRESHES] == 1
    assert api.requests == []


def test_a_plain_http_base_url_to_another_machine_is_refused(
    signed_in: keybearer.OAuthClient,
) -> None:
    with pytest.raises(errors.ConfigurationError, match="plain http"):
        signed_in.http(base_url="http://api.example.com/prod")


def test_a_garbled_refresh_answer_inside_the_window_uses_the_valid_token(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, clock: FakeClock, cognito: LocalCognito
) -> None:
    # A captive portal answering with its own HTML page, say.
    before = signed_in.tokens
    cognito.fail_next(
        "InitiateAuth:REFRESH_TOKEN_AUTH", status=200, error_type=None, body="<html>Log in</html>"
    )
    clock.advance(3600 - 60)

    with signed_in.http(base_url=api.url) as http:
        assert http.get("/pets").status_code == 200
    assert signed_in.tokens is before
