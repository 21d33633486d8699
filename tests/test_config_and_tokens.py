"""Configuration validation, the TokenSet model and the host allow-list."""

from __future__ import annotations

import httpx
import pytest

import keybearer
from cognito_shapes import CLIENT, POOL, auth_result
from keybearer import errors
from keybearer._io.hosts import HostAllowList
from keybearer._jose.unverified import unverified_claims


def build(**options: object) -> keybearer.OAuthClient:
    values: dict[str, object] = {"store": keybearer.MemoryStore()}
    values.update(options)
    return keybearer.OAuthClient.cognito(**values)  # type: ignore[arg-type]


def test_endpoints_are_derived_from_the_pool_id() -> None:
    config = build(user_pool_id="eu-central-1_AbCdEf123", client_id=CLIENT).config

    assert config.region == "eu-central-1"
    assert config.idp_url == "https://cognito-idp.eu-central-1.amazonaws.com/"
    assert config.issuer == "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbCdEf123"
    assert config.jwks_url == config.issuer + "/.well-known/jwks.json"


def test_overriding_the_endpoint_keeps_the_aws_issuer() -> None:
    config = build(user_pool_id=POOL, client_id=CLIENT, idp_url="http://127.0.0.1:5000/").config

    assert config.idp_url == "http://127.0.0.1:5000/"
    assert config.issuer == f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"user_pool_id": "AbCdEf123"}, "user_pool_id must look like"),
        ({"user_pool_id": ""}, "user_pool_id must look like"),
        ({"client_id": ""}, "client_id must be"),
        ({"client_id": "has spaces"}, "client_id must be"),
        ({"idp_url": "http://cognito.example.com/"}, "plain http"),
        ({"idp_url": "ftp://127.0.0.1/"}, "https"),
        ({"jwks_url": "not a url"}, "jwks_url"),
        ({"send": "refresh"}, "send"),
        ({"scheme": "Bearer token"}, "scheme"),
        ({"refresh_ahead": 10}, "refresh_ahead"),
        ({"client_secret": ""}, "client_secret is empty"),
    ],
)
def test_bad_settings_are_configuration_errors(options: dict[str, object], expected: str) -> None:
    values: dict[str, object] = {"user_pool_id": POOL, "client_id": CLIENT}
    values.update(options)

    with pytest.raises(errors.ConfigurationError, match=expected) as caught:
        build(**values)

    assert isinstance(caught.value, ValueError)


def test_a_configuration_error_never_quotes_the_client_secret() -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        build(user_pool_id="bad", client_id=CLIENT, client_secret="super-secret-value")

    assert "super-secret-value" not in str(caught.value)


def test_the_client_secret_is_not_in_the_config_repr() -> None:
    client = build(user_pool_id=POOL, client_id=CLIENT, client_secret="super-secret-value")

    assert "super-secret-value" not in repr(client.config)
    assert "super-secret-value" not in repr(client)


def test_profiles_keep_sessions_apart() -> None:
    store = keybearer.MemoryStore()
    work = build(user_pool_id=POOL, client_id=CLIENT, store=store, profile="work")
    home = build(user_pool_id=POOL, client_id=CLIENT, store=store, profile="home")

    assert work.config.store_key != home.config.store_key


def tokens_from(result: dict[str, object]) -> keybearer.TokenSet:
    inner = result["AuthenticationResult"]
    assert isinstance(inner, dict)
    return keybearer.TokenSet(
        access_token=inner["AccessToken"],
        id_token=inner["IdToken"],
        refresh_token=inner.get("RefreshToken"),
        expires_at=2_000_000_000.0,
        username="alice",
    )


def test_token_set_survives_a_round_trip_through_json() -> None:
    tokens = tokens_from(auth_result())

    again = keybearer.TokenSet.from_json(tokens.to_json())

    assert again == tokens
    assert again.scopes == ("aws.cognito.signin.user.admin",)
    assert again.sub == "7d8ca528-4931-4254-9273-ea5ee853f271"


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", '{"v": 99}', '{"v": 1}', '{"v": 1, "access_token": 5, "expires_at": "x"}'],
)
def test_damaged_stored_tokens_are_a_store_error_without_content(text: str) -> None:
    with pytest.raises(errors.StoreError) as caught:
        keybearer.TokenSet.from_json(text)

    assert text not in str(caught.value) or not text


def test_token_set_repr_shows_only_the_tail_and_expiry() -> None:
    tokens = tokens_from(auth_result())

    shown = repr(tokens)

    assert tokens.access_token.get_secret_value()[-4:] in shown
    assert tokens.access_token.get_secret_value()[:-4] not in shown
    assert "2033-05-18T03:33:20Z" in shown
    assert "refresh_token=set" in shown


def test_a_session_without_id_token_explains_send_access() -> None:
    tokens = keybearer.TokenSet(access_token="opaque", expires_at=0)

    with pytest.raises(errors.LoginRequiredError, match="send='access'"):
        tokens.token("id")


@pytest.mark.parametrize(
    "token", ["", "opaque", "a.b", "a.b.c", "a.!!!.c", "a.W10.c", "a." + "x" * 10 + ".c"]
)
def test_unverified_claims_of_garbage_are_empty(token: str) -> None:
    assert unverified_claims(token) == {}


@pytest.mark.parametrize(
    ("entries", "url", "allowed"),
    [
        (["api.example.com"], "https://api.example.com/pets", True),
        (["api.example.com"], "https://api.example.com:8443/pets", True),
        (["api.example.com"], "http://api.example.com/pets", False),
        (["api.example.com"], "https://evil.example.com/pets", False),
        (["api.example.com"], "https://api.example.com.evil.com/", False),
        (["api.example.com:8443"], "https://api.example.com/pets", False),
        (["https://api.example.com/prod"], "https://api.example.com/other", True),
        (["https://api.example.com/prod"], "https://api.example.com:444/", False),
        (["127.0.0.1:8080"], "http://127.0.0.1:8080/x", True),
        (["127.0.0.1:8080"], "http://127.0.0.1:8081/x", False),
        (["localhost"], "http://localhost:3000/x", True),
        (["[::1]:9000"], "http://[::1]:9000/x", True),
        (["API.Example.com"], "https://api.example.com/", True),
        ([], "https://api.example.com/", False),
    ],
)
def test_host_allow_list(entries: list[str], url: str, allowed: bool) -> None:
    assert HostAllowList(entries).permits(httpx.URL(url)) is allowed


def test_scheme_none_means_the_bare_token() -> None:
    assert build(user_pool_id=POOL, client_id=CLIENT, scheme=None).config.scheme is None
    assert build(user_pool_id=POOL, client_id=CLIENT).config.scheme == "Bearer"
    oidc = keybearer.OAuthClient.oidc(
        "https://issuer.example.com", CLIENT, scheme=None, store=keybearer.MemoryStore()
    )
    assert oidc.config.scheme is None
