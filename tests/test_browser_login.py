"""Browser sign-in against a real OpenID Connect server (oidc-provider on 127.0.0.1).

The peer mounts its endpoints on Cognito's hosted-UI paths, so the same tests
cover ``OAuthClient.oidc`` (discovery) and ``OAuthClient.cognito(domain=...)``.
A test stands in for the person at the browser with ``sign_in``, which fills
in the peer's login form with httpx.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import keybearer
from keybearer import errors
from keybearer.testing import ProtectedApi
from peers.oidc_peer import OidcPeer, PeerClient, sign_in
from support import FakeClock

LOOPBACK = "http://127.0.0.1:0/callback"


@pytest.fixture
def peer_api(oidc: OidcPeer) -> Iterator[ProtectedApi]:
    """An API that accepts the peer's ID tokens, like a Cognito authorizer."""
    clients = [oidc.public_client.id, oidc.basic_client.id, oidc.post_client.id]
    with ProtectedApi(oidc.jwks_url, oidc.issuer, clients) as api:
        yield api


def make(
    oidc: OidcPeer, clock: FakeClock, client: PeerClient | None = None, **options: Any
) -> keybearer.OAuthClient:
    app = client or oidc.public_client
    values: dict[str, Any] = {
        "client_secret": app.secret,
        "redirect_uri": LOOPBACK,
        "scopes": ["openid", "email"],
        "store": keybearer.MemoryStore(),
        "clock": clock,
    }
    if app.auth_method == "client_secret_post":
        values["token_auth"] = "client_secret_post"
    values.update(options)
    return keybearer.OAuthClient.oidc(oidc.issuer, app.id, **values)


def browser(oidc: OidcPeer) -> Any:
    """An ``open_url`` that signs alice in and lets the browser follow the redirect."""

    def open_url(url: str) -> None:
        redirect = sign_in(url, oidc.user.username, oidc.user.password)
        httpx.get(redirect, timeout=10)

    return open_url


def test_browser_sign_in_call_refresh_revoke(
    oidc_clean: OidcPeer, peer_api: ProtectedApi, clock: FakeClock
) -> None:
    oidc = oidc_clean
    client = make(oidc, clock)

    tokens = client.login_browser(open_url=browser(oidc), timeout=30)

    assert tokens.origin == "hosted_ui"
    assert tokens.username == oidc.user.username
    assert tokens.refresh_token is not None
    assert oidc.counts()["token:authorization_code"] == 1
    with client.http(base_url=peer_api.url) as http:
        assert http.get("/pets").status_code == 200
        clock.advance(60)  # the peer's tokens live 60 s
        assert http.get("/pets").status_code == 200
    assert oidc.counts()["token:refresh_token"] == 1
    assert client.tokens is not tokens
    assert client.tokens is not None
    assert client.tokens.refresh_token == tokens.refresh_token  # rotation is off

    assert client.logout() is True
    assert oidc.counts()["revoke"] == 1
    # The revoked refresh token is dead at the provider, not only forgotten here.
    other = make(oidc, clock)
    other._session.cache.put(tokens)
    with pytest.raises(errors.LoginRequiredError, match="invalid_grant"):
        other.refresh()


def test_cognito_hosted_ui_paths_and_token_use(
    oidc_clean: OidcPeer, peer_api: ProtectedApi, clock: FakeClock
) -> None:
    oidc = oidc_clean
    client = keybearer.OAuthClient.cognito(
        "us-east-1_Peer1",
        oidc.public_client.id,
        domain=oidc.url,
        issuer=oidc.issuer,
        jwks_url=oidc.jwks_url,
        redirect_uri=LOOPBACK,
        scopes=["openid", "email"],
        store=keybearer.MemoryStore(),
        clock=clock,
    )

    tokens = client.login_browser(open_url=browser(oidc), timeout=30)

    assert tokens.id_claims["token_use"] == "id"
    assert oidc.counts().get("discovery", 0) == 0  # Cognito's paths are fixed
    with client.http(base_url=peer_api.url) as http:
        assert http.get("/pets").status_code == 200


@pytest.mark.parametrize("which", ["basic_client", "post_client"])
def test_confidential_clients_authenticate_at_the_token_endpoint(
    oidc_clean: OidcPeer, clock: FakeClock, which: str
) -> None:
    client = make(oidc_clean, clock, getattr(oidc_clean, which))

    tokens = client.login_browser(open_url=browser(oidc_clean), timeout=30)
    refreshed = client.refresh()

    assert refreshed.access_token != tokens.access_token


def test_rotated_refresh_token_is_stored(oidc_clean: OidcPeer, clock: FakeClock) -> None:
    oidc_clean.set_rotation(True)
    store = keybearer.MemoryStore()
    client = make(oidc_clean, clock, store=store)
    tokens = client.login_browser(open_url=browser(oidc_clean), timeout=30)

    refreshed = client.refresh()

    assert refreshed.refresh_token != tokens.refresh_token
    stored = keybearer.TokenSet.from_json(store.load(client.config.store_key) or "")
    assert stored.refresh_token == refreshed.refresh_token
    # The rotated one keeps working; the old one is spent.
    assert client.refresh().refresh_token != refreshed.refresh_token


def test_paste_back_for_a_remote_notebook(oidc_clean: OidcPeer, clock: FakeClock) -> None:
    client = make(oidc_clean, clock, redirect_uri="http://localhost:8765/callback")
    url = client.authorization_url()

    assert "code_challenge_method=S256" in url
    assert "nonce=" in url
    pasted = sign_in(url, oidc_clean.user.username, oidc_clean.user.password)
    tokens = client.complete_login(pasted)

    assert tokens.origin == "hosted_ui"
    assert client.tokens is tokens
    assert client.userinfo()["sub"] == oidc_clean.user.sub


def test_paste_back_with_a_foreign_state_exchanges_nothing(
    oidc_clean: OidcPeer, clock: FakeClock
) -> None:
    attacker = make(oidc_clean, clock, redirect_uri="http://localhost:8765/callback")
    victim = make(oidc_clean, clock, redirect_uri="http://localhost:8765/callback")
    victim.authorization_url()
    # A redirect from someone else's sign-in: its state is unknown to the victim.
    pasted = sign_in(
        attacker.authorization_url(), oidc_clean.user.username, oidc_clean.user.password
    )

    with pytest.raises(errors.StateMismatchError):
        victim.complete_login(pasted)

    assert oidc_clean.counts().get("token", 0) == 0
    assert victim.tokens is None


def test_a_redirect_is_used_once(oidc_clean: OidcPeer, clock: FakeClock) -> None:
    client = make(oidc_clean, clock, redirect_uri="http://localhost:8765/callback")
    pasted = sign_in(client.authorization_url(), oidc_clean.user.username, oidc_clean.user.password)
    client.complete_login(pasted)

    with pytest.raises(errors.StateMismatchError):
        client.complete_login(pasted)


def test_implicit_redirect_in_cognitos_shape(
    oidc_clean: OidcPeer, peer_api: ProtectedApi, clock: FakeClock
) -> None:
    client = make(oidc_clean, clock, redirect_uri="http://localhost:8765/callback")
    url = client.authorization_url(response_type="token")
    redirect = sign_in(url, oidc_clean.user.username, oidc_clean.user.password)
    assert "#id_token=" in redirect
    assert "token_type=bearer" in redirect

    tokens = client.parse_implicit(redirect)

    assert tokens.origin == "implicit"
    assert tokens.refresh_token is None
    with client.http(base_url=peer_api.url) as http:
        assert http.get("/pets").status_code == 200
        clock.advance(60)
        with pytest.raises(errors.LoginRequiredError, match="implicit"):
            http.get("/pets")


def test_an_error_redirect_is_a_typed_error_with_the_providers_words(
    oidc_clean: OidcPeer, clock: FakeClock
) -> None:
    client = make(oidc_clean, clock, redirect_uri="http://localhost:8765/callback")
    url = client.authorization_url().replace(
        "code_challenge_method=S256", "code_challenge_method=plain"
    )
    redirect = sign_in(url, oidc_clean.user.username, oidc_clean.user.password)

    with pytest.raises(errors.LoginError) as caught:
        client.complete_login(redirect)

    assert caught.value.code == "invalid_request"
    assert caught.value.provider_message


def test_logout_url_points_the_browser_at_the_hosted_ui(oidc: OidcPeer, clock: FakeClock) -> None:
    client = keybearer.OAuthClient.cognito(
        "us-east-1_Peer1",
        oidc.public_client.id,
        domain=oidc.url,
        logout_uri="http://localhost:8765/signed-out",
        store=keybearer.MemoryStore(),
    )

    url = client.logout_url()

    assert url is not None
    response = httpx.get(url)
    assert response.status_code == 302
    assert response.headers["location"] == "http://localhost:8765/signed-out"


# -- the loopback receiver --


def test_loopback_listens_on_127_0_0_1_only(oidc_clean: OidcPeer, clock: FakeClock) -> None:
    seen: dict[str, Any] = {}

    def open_url(url: str) -> None:
        redirect_uri = httpx.URL(url).params["redirect_uri"]
        port = httpx.URL(redirect_uri).port
        assert port is not None
        seen["port"] = port
        # Not reachable on another address of this machine, only on loopback.
        addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
        for address in addresses - {"127.0.0.1", "::1", "127.0.1.1"}:
            with (
                pytest.raises((ConnectionRefusedError, TimeoutError)),
                socket.create_connection((address, port), timeout=1),
            ):
                pass
        # Other paths are not the callback; a foreign state does not end the wait.
        assert httpx.get(f"http://127.0.0.1:{port}/other").status_code == 404
        assert httpx.get(f"{redirect_uri}?code=x&state=forged").status_code == 400
        browser(oidc_clean)(url)

    tokens = make(oidc_clean, clock).login_browser(open_url=open_url, timeout=30)

    assert tokens.origin == "hosted_ui"
    with pytest.raises(httpx.ConnectError):  # and the server is closed afterwards
        httpx.get(f"http://127.0.0.1:{seen['port']}/callback")


def test_loopback_times_out_with_a_clear_message(oidc: OidcPeer, clock: FakeClock) -> None:
    client = make(oidc, clock)

    with pytest.raises(errors.LoginTimeoutError, match="paste-back"):
        client.login_browser(open_url=lambda url: None, timeout=0.2, paste_fallback=False)


def test_a_taken_port_is_a_clear_error(oidc: OidcPeer, clock: FakeClock) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        client = make(oidc, clock, redirect_uri=f"http://localhost:{port}/callback")

        with pytest.raises(errors.ConfigurationError, match="taken"):
            client.login_browser(open_url=lambda url: None, timeout=1, paste_fallback=False)


def test_a_non_loopback_redirect_uri_cannot_be_caught_here(
    oidc: OidcPeer, clock: FakeClock
) -> None:
    client = make(oidc, clock, redirect_uri="https://app.example.com/callback")

    with pytest.raises(errors.ConfigurationError, match="loopback"):
        client.login_browser(open_url=lambda url: None, timeout=1, paste_fallback=False)


# -- notebooks and async --


async def test_sync_sign_in_inside_a_running_event_loop(
    oidc_clean: OidcPeer, clock: FakeClock
) -> None:
    # What a notebook cell does: sync calls while the kernel's loop runs.
    asyncio.get_running_loop()
    client = make(oidc_clean, clock)

    tokens = client.login_browser(open_url=browser(oidc_clean), timeout=30)

    assert client.refresh().username == tokens.username


async def test_async_browser_sign_in_and_paste_back(
    oidc_clean: OidcPeer, peer_api: ProtectedApi, clock: FakeClock
) -> None:
    client = make(oidc_clean, clock)

    async def open_url(url: str) -> None:
        redirect = await asyncio.to_thread(
            sign_in, url, oidc_clean.user.username, oidc_clean.user.password
        )
        async with httpx.AsyncClient() as http:
            await http.get(redirect)

    tokens = await client.alogin_browser(open_url=open_url, timeout=30)
    assert tokens.origin == "hosted_ui"
    async with client.async_http(base_url=peer_api.url) as http:
        assert (await http.get("/pets")).status_code == 200
    assert (await client.auserinfo())["sub"] == oidc_clean.user.sub

    other = make(oidc_clean, clock, redirect_uri="http://localhost:8765/callback")
    url = await other.aauthorization_url()
    pasted = await asyncio.to_thread(
        sign_in, url, oidc_clean.user.username, oidc_clean.user.password
    )
    assert (await other.acomplete_login(pasted)).origin == "hosted_ui"
    assert await other.alogout() is True


def test_notebook_views_never_show_a_token(oidc_clean: OidcPeer, clock: FakeClock) -> None:
    client = make(oidc_clean, clock)
    tokens = client.login_browser(open_url=browser(oidc_clean), timeout=30)

    shown = tokens._repr_html_() + client._repr_html_() + repr(client)

    assert oidc_clean.user.username in shown
    for secret in (tokens.access_token, tokens.id_token, tokens.refresh_token):
        assert secret is not None
        assert secret.get_secret_value() not in shown


def test_an_implicit_session_is_used_until_it_really_expires(
    oidc_clean: OidcPeer, peer_api: ProtectedApi, clock: FakeClock
) -> None:
    client = make(oidc_clean, clock, redirect_uri="http://localhost:8765/callback")
    url = client.authorization_url(response_type="token")
    client.parse_implicit(sign_in(url, oidc_clean.user.username, oidc_clean.user.password))
    clock.advance(45)  # past half-life, where a refreshable session would refresh

    with client.http(base_url=peer_api.url) as http:
        assert http.get("/pets").status_code == 200
