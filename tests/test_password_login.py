"""Password sign-in through cognito-idp (moto), challenges included."""

from __future__ import annotations

import pytest

import keybearer
from keybearer import errors
from keybearer.testing import AppClient, LocalCognito
from support import PASSWORD, MakeClient, Person


def test_login_returns_tokens_and_stores_them(make_client: MakeClient, person: Person) -> None:
    client = make_client()
    tokens = client.login_password(person.username, person.password)

    assert isinstance(tokens, keybearer.TokenSet)
    assert tokens.origin == "password"
    assert tokens.username == person.username
    assert tokens.id_claims["token_use"] == "id"
    assert tokens.access_claims["token_use"] == "access"
    assert tokens.scopes == ("aws.cognito.signin.user.admin",)
    assert tokens.refresh_token is not None
    assert client.tokens is tokens


def test_a_second_client_for_the_same_key_shares_the_session(
    make_client: MakeClient, person: Person
) -> None:
    first = make_client()
    tokens = first.login_password(person.username, person.password)

    assert make_client().tokens is tokens


def test_token_repr_never_shows_a_token(make_client: MakeClient, person: Person) -> None:
    tokens = make_client().login_password(person.username, person.password)
    assert isinstance(tokens, keybearer.TokenSet)
    shown = repr(tokens) + str(tokens) + repr(make_client())

    for secret in (tokens.id_token, tokens.access_token, tokens.refresh_token):
        assert secret is not None
        assert secret.get_secret_value() not in shown
        assert secret.get_secret_value()[:20] not in shown


def test_wrong_password_is_a_typed_error_without_the_password(
    make_client: MakeClient, person: Person
) -> None:
    with pytest.raises(errors.InvalidCredentialsError) as caught:
        make_client().login_password(person.username, "Wrong-Password-9")

    assert caught.value.code == "NotAuthorizedException"
    assert "Incorrect username or password" in str(caught.value)
    assert "Wrong-Password-9" not in str(caught.value)


def test_unknown_user_is_a_typed_error(make_client: MakeClient) -> None:
    with pytest.raises(errors.UserNotFoundError):
        make_client().login_password("nobody-here", PASSWORD)


def test_a_failed_login_keeps_the_session_already_stored(
    make_client: MakeClient, person: Person
) -> None:
    client = make_client()
    tokens = client.login_password(person.username, person.password)

    with pytest.raises(errors.InvalidCredentialsError):
        client.login_password(person.username, "Wrong-Password-9")

    assert client.tokens is tokens


def test_temporary_password_gives_a_new_password_challenge(
    make_client: MakeClient, new_person: Person
) -> None:
    client = make_client()
    challenge = client.login_password(new_person.username, new_person.password)

    assert isinstance(challenge, keybearer.NewPasswordRequired)
    assert challenge.username == new_person.username
    assert client.tokens is None
    assert "Temporary" not in repr(challenge)
    assert challenge.session.get_secret_value() not in repr(challenge)

    with pytest.raises(errors.ChallengeAnswerError, match="new_password"):
        client.respond(challenge)

    tokens = client.respond(challenge, new_password="Brand-New-Pass-2")
    assert isinstance(tokens, keybearer.TokenSet)
    assert client.tokens is tokens
    # The new password works from now on, with no challenge.
    again = make_client().login_password(new_person.username, "Brand-New-Pass-2")
    assert isinstance(again, keybearer.TokenSet)


def test_secret_client_signs_in_and_refreshes_with_secret_hash(
    make_client: MakeClient, secret_client: AppClient, person: Person, cognito: LocalCognito
) -> None:
    # moto checks SECRET_HASH on REFRESH_TOKEN_AUTH, so refresh proves the hash.
    client = make_client(secret_client)
    first = client.login_password(person.username, person.password)
    assert isinstance(first, keybearer.TokenSet)

    refreshed = client.refresh()

    assert refreshed.access_token != first.access_token
    assert refreshed.refresh_token == first.refresh_token


def test_secret_client_with_a_wrong_secret_cannot_sign_in(
    make_client: MakeClient, secret_client: AppClient, person: Person
) -> None:
    # Cognito checks SECRET_HASH on USER_PASSWORD_AUTH already (moto alone did not).
    client = make_client(secret_client, client_secret="not-the-secret")

    with pytest.raises(errors.ConfigurationError, match="SECRET_HASH"):
        client.login_password(person.username, person.password)
    assert client.tokens is None


async def test_async_login_and_challenge(make_client: MakeClient, new_person: Person) -> None:
    client = make_client()
    challenge = await client.alogin_password(new_person.username, new_person.password)
    assert isinstance(challenge, keybearer.NewPasswordRequired)

    tokens = await client.arespond(challenge, new_password="Brand-New-Pass-3")

    assert isinstance(tokens, keybearer.TokenSet)
    assert (await client.arefresh()).username == new_person.username


def test_logout_revokes_the_refresh_token_and_wipes_local_tokens(
    make_client: MakeClient, secret_client: AppClient, person: Person
) -> None:
    client = make_client(secret_client)
    tokens = client.login_password(person.username, person.password)
    assert isinstance(tokens, keybearer.TokenSet)

    assert client.logout() is True

    assert client.tokens is None
    # The revoked refresh token is dead at Cognito too, not only forgotten here.
    other = make_client(secret_client, store=keybearer.MemoryStore())
    other._session.cache.put(tokens)
    with pytest.raises(errors.LoginRequiredError) as caught:
        other.refresh()
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value() not in str(caught.value)


def test_logout_wipes_local_tokens_even_when_revocation_fails(
    make_client: MakeClient, person: Person, cognito: LocalCognito
) -> None:
    client = make_client()
    client.login_password(person.username, person.password)
    cognito.fail_next("RevokeToken", status=500, error_type="InternalErrorException")

    assert client.logout() is False
    assert client.tokens is None
    with pytest.raises(errors.LoginRequiredError):
        client.refresh()


def test_global_logout_signs_out_every_session_of_the_user(
    make_client: MakeClient, person: Person
) -> None:
    phone = make_client(store=keybearer.MemoryStore())
    laptop = make_client(store=keybearer.MemoryStore())
    phone.login_password(person.username, person.password)
    laptop.login_password(person.username, person.password)

    assert phone.logout(global_=True) is True

    with pytest.raises(errors.LoginRequiredError):
        laptop.refresh()
