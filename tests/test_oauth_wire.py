"""The OAuth wire formats keybearer takes from authlib, and the guards around them.

authlib builds the authorization URL, the token and revocation bodies and the
client authentication, and reads redirects. These tests pin what keybearer adds:
the checks authlib's parsers leave out, typed errors, form-encoded Basic
credentials, and authlib staying unloaded in a process that only sends a fresh
cached token.
"""

from __future__ import annotations

import base64
import email.utils
import subprocess
import sys
import textwrap
import time
from urllib.parse import parse_qs

import httpx
import pytest

from cognito_shapes import CLIENT, ISSUER, POOL
from keybearer import errors
from keybearer._protocol import oauth
from keybearer._signin.attempt import Attempt
from keybearer._signin.redirect import parse_redirect, redirect_params
from keybearer._tokens import TokenSet

DOMAIN = "https://myapp.auth.us-east-1.amazoncognito.com"
REDIRECT = "http://localhost:8765/callback"
ENDPOINTS = oauth.Endpoints(
    issuer=ISSUER,
    authorization=f"{DOMAIN}/oauth2/authorize",
    token=f"{DOMAIN}/oauth2/token",
    jwks=f"{ISSUER}/.well-known/jwks.json",
    revocation=f"{DOMAIN}/oauth2/revoke",
)
CODE = "secret-code-" + "c" * 30
TOKENS = TokenSet(
    access_token="eyJ.access.token",
    refresh_token="opaque-refresh-" + "r" * 40,
    expires_at=2e9,
)


def test_the_code_challenge_is_rfc_7636s_s256() -> None:
    # RFC 7636 Appendix B.
    attempt = Attempt(REDIRECT, verifier="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")

    assert attempt.challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_every_attempt_has_a_verifier_within_rfc_7636s_bounds() -> None:
    verifiers = {Attempt(REDIRECT).verifier for _ in range(20)}

    assert len(verifiers) == 20
    for verifier in verifiers:
        assert 43 <= len(verifier) <= 128
        assert set(verifier) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        )


def test_the_authorization_url_keeps_the_endpoints_query_and_leaves_out_empty_extras() -> None:
    endpoints = oauth.Endpoints(
        issuer=ISSUER, authorization=f"{DOMAIN}/authorize?tenant=t1", token="", jwks=""
    )
    url = httpx.URL(
        oauth.authorization_url(
            endpoints,
            CLIENT,
            redirect_uri=REDIRECT,
            scopes=("openid", "email"),
            state="st",
            nonce="no",
            code_challenge="ch",
            extra={"identity_provider": "Google", "idp_identifier": ""},
        )
    )

    assert dict(url.params) == {
        "tenant": "t1",
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "scope": "openid email",
        "state": "st",
        "nonce": "no",
        "code_challenge": "ch",
        "code_challenge_method": "S256",
        "identity_provider": "Google",
    }


def test_an_implicit_authorization_url_has_no_pkce() -> None:
    url = httpx.URL(
        oauth.authorization_url(
            ENDPOINTS,
            CLIENT,
            redirect_uri=REDIRECT,
            scopes=(),
            state="st",
            nonce="no",
            code_challenge=None,
            response_type="token",
        )
    )

    assert url.params["response_type"] == "token"
    assert "code_challenge" not in url.params
    assert "code_challenge_method" not in url.params
    assert "scope" not in url.params


# -- redirects: what authlib's parsers let through, keybearer refuses -------------------


@pytest.mark.parametrize(
    ("pasted", "said"),
    [
        (f"{REDIRECT}?code={CODE}&state=a&state=b", "'state' more than once"),
        (f"{REDIRECT}?code={CODE}&code=other&state=a", "'code' more than once"),
        (f"{REDIRECT}?code=&code={CODE}&state=a", "'code' more than once"),
        (f"{REDIRECT}#access_token=&access_token=x&token_type=bearer", "more than once"),
        (f"{REDIRECT}#id_token=eyJ.e30.x&state=a", "no access_token"),
        (f"{REDIRECT}#access_token=eyJ.e30.x&state=a", "no token_type"),
        (f"{REDIRECT}#access_token=eyJ.e30.x&token_type=&state=a", "token_type is empty"),
        (f"{REDIRECT}?state=a", "no authorization code"),
        (f"{REDIRECT}?code=&state=a", "no authorization code"),
        (f"{REDIRECT}?" + "&".join(f"p{i}=v" for i in range(100)), "too many parameters"),
    ],
)
def test_redirects_authlib_would_accept_or_raise_on_are_typed_errors(
    pasted: str, said: str
) -> None:
    with pytest.raises(errors.RedirectParseError, match=said) as caught:
        parse_redirect(pasted)

    assert CODE not in str(caught.value)
    assert "eyJ" not in str(caught.value)


@pytest.mark.parametrize(
    "pasted",
    [
        f"{REDIRECT}?error=access_denied&error_description=Not+today&state=a",
        f"{REDIRECT}#error=access_denied&error_description=Not%20today",
        f"{REDIRECT}?code={CODE}&state=a#error=access_denied&error_description=Not+today",
    ],
)
def test_an_error_redirect_is_a_login_error_even_beside_a_code(pasted: str) -> None:
    with pytest.raises(errors.LoginError) as caught:
        parse_redirect(pasted)

    assert not isinstance(caught.value, errors.ProtocolError)
    assert caught.value.code == "access_denied"
    assert caught.value.provider_message == "Not today"
    assert CODE not in str(caught.value)


def test_a_blank_error_is_no_error() -> None:
    redirect = parse_redirect(f"{REDIRECT}?error=&code={CODE}&state=a")

    assert redirect.code == CODE


def test_tokens_in_the_fragment_win_over_a_code_so_a_code_sign_in_can_refuse_them() -> None:
    redirect = parse_redirect(f"{REDIRECT}?code={CODE}&state=a#access_token=x&token_type=bearer")

    assert redirect.code is None
    assert redirect.access_token == "x"
    assert redirect.is_implicit


@pytest.mark.parametrize(
    "pasted",
    [
        f"{REDIRECT}?code={CODE}&state=the-state",
        f"?code={CODE}&state=the-state",
        f"code={CODE}&state=the-state",
        f"  '{REDIRECT}?code={CODE}&state=the-state&iss=https%3A%2F%2Fx'  ",
    ],
)
def test_every_pasted_form_of_a_code_redirect_reads_the_same(pasted: str) -> None:
    redirect = parse_redirect(pasted)

    assert (redirect.code, redirect.state, redirect.is_implicit) == (CODE, "the-state", False)
    assert CODE not in repr(redirect)


def test_an_implicit_fragment_in_cognitos_shape() -> None:
    redirect = parse_redirect(
        f"{REDIRECT}#id_token=eyJ.id.x&access_token=eyJ.access.x&token_type=bearer"
        "&expires_in=3600&state=the-state"
    )

    assert redirect.id_token == "eyJ.id.x"
    assert redirect.access_token == "eyJ.access.x"
    assert redirect.token_type == "bearer"
    assert redirect.expires_in == 3600.0
    assert redirect.state == "the-state"


def test_redirect_params_keeps_blanks_and_refuses_repeats_of_what_it_reads() -> None:
    assert redirect_params("state=s&code=&other=1&other=2") == {
        "state": "s",
        "code": "",
        "other": "1",
    }
    with pytest.raises(errors.RedirectParseError):
        redirect_params("error=a&error=b")


# -- token and revocation requests: authlib's bodies, client authentication --------------


def first_request(flow: object) -> httpx.Request:
    request = next(flow)  # type: ignore[call-overload]
    assert isinstance(request, httpx.Request)
    return request


def form(request: httpx.Request) -> dict[str, list[str]]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.content.decode(), keep_blank_values=True)


def exchange(client: oauth.OAuthClientInfo) -> httpx.Request:
    return first_request(
        oauth.exchange_code(
            ENDPOINTS, client, code=CODE, verifier="v" * 43, redirect_uri=REDIRECT, clock=lambda: 0
        )
    )


def test_basic_auth_form_encodes_the_id_and_secret_first() -> None:
    client = oauth.OAuthClientInfo("id:1", "s3:c%r+t", "client_secret_basic", 5.0)

    request = exchange(client)

    encoded = base64.b64encode(b"id%3A1:s3%3Ac%25r%2Bt").decode()
    assert request.headers["authorization"] == f"Basic {encoded}"
    assert form(request) == {
        "grant_type": ["authorization_code"],
        "redirect_uri": [REDIRECT],
        "code": [CODE],
        "code_verifier": ["v" * 43],
    }


def test_a_secret_outside_latin_1_still_makes_a_basic_header() -> None:
    # authlib encodes the pair as latin-1; the form-encoded secret is ASCII.
    client = oauth.OAuthClientInfo(CLIENT, "sécret-€", "client_secret_basic", 5.0)

    request = exchange(client)

    decoded = base64.b64decode(request.headers["authorization"].removeprefix("Basic "))
    assert decoded == f"{CLIENT}:s%C3%A9cret-%E2%82%AC".encode()


def test_a_public_client_sends_its_id_and_no_secret() -> None:
    for method in ("none", "client_secret_basic", "client_secret_post"):
        request = exchange(oauth.OAuthClientInfo(CLIENT, None, method, 5.0))  # type: ignore[arg-type]

        assert "authorization" not in request.headers
        assert form(request)["client_id"] == [CLIENT]
        assert "client_secret" not in form(request)


def test_refresh_and_revoke_bodies_with_client_secret_post() -> None:
    client = oauth.OAuthClientInfo(CLIENT, "s3cr3t", "client_secret_post", 7.0)
    secret = TOKENS.refresh_token
    assert secret is not None

    refresh = first_request(oauth.refresh(ENDPOINTS, client, TOKENS, lambda: 0))
    revoke = first_request(oauth.revoke(ENDPOINTS, client, TOKENS))

    assert refresh.url == ENDPOINTS.token
    assert form(refresh) == {
        "grant_type": ["refresh_token"],
        "refresh_token": [secret.get_secret_value()],
        "client_id": [CLIENT],
        "client_secret": ["s3cr3t"],
    }
    assert revoke.url == ENDPOINTS.revocation
    assert form(revoke) == {
        "token": [secret.get_secret_value()],
        "token_type_hint": ["refresh_token"],
        "client_id": [CLIENT],
        "client_secret": ["s3cr3t"],
    }
    for request in (refresh, revoke):
        assert "authorization" not in request.headers
        assert request.headers["cache-control"] == "no-store"
        assert request.extensions["timeout"]["read"] == 7.0


# -- authlib is loaded lazily -----------------------------------------------------------


def test_a_fresh_cached_token_is_sent_without_loading_authlib() -> None:
    code = textwrap.dedent(
        f"""
        import sys, time
        import httpx, keybearer

        def loaded():
            return sorted(m for m in sys.modules if m == "authlib" or m.startswith("authlib."))

        store = keybearer.MemoryStore()
        client = keybearer.OAuthClient.cognito(
            {POOL!r}, {CLIENT!r}, domain="myapp.auth.us-east-1.amazoncognito.com",
            redirect_uri="http://localhost:8765/callback", store=store, send="access",
        )
        tokens = keybearer.TokenSet(
            access_token="eyJ.fresh.access", refresh_token="r" * 40,
            expires_at=time.time() + 3600, obtained_at=time.time(),
        )
        store.save(client.config.store_key, tokens.to_json())
        seen = []
        transport = httpx.MockTransport(
            lambda request: seen.append(request.headers.get("authorization"))
            or httpx.Response(200)
        )
        with client.http(base_url="https://api.example.test", transport=transport) as http:
            assert http.get("/pets").status_code == 200
        print(seen, loaded())
        client.authorization_url()  # a sign-in starts: now authlib is needed
        print("authlib.oauth2.rfc7636" in loaded())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()

    assert out == ["['Bearer eyJ.fresh.access'] []", "True"]


def test_a_throttled_token_endpoint_with_an_http_date_gives_a_wait() -> None:
    client = oauth.OAuthClientInfo(CLIENT, None, "none", 5.0)
    flow = oauth.refresh(ENDPOINTS, client, TOKENS, lambda: 0)
    next(flow)
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)

    with pytest.raises(errors.ThrottledError) as caught:
        flow.send(httpx.Response(429, headers={"Retry-After": in_a_minute}))

    assert caught.value.retry_after is not None
    assert 30 < caught.value.retry_after <= 61
