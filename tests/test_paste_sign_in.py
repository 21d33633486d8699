"""Paste-back sign-in in one call (``login_paste``), and what a notebook shows of a session.

Against the oidc-provider peer (the hosted-UI stand-in): the person is played
by ``sign_in``, which signs alice in at the URL that was shown and returns the
address the browser ends on, as a person would paste it.
"""

from __future__ import annotations

import asyncio

import pytest

import keybearer
from peers.oidc_peer import OidcPeer, sign_in

REDIRECT = "http://localhost:8765/callback"  # nothing listens: paste-back's situation


def client_for(oidc: OidcPeer) -> keybearer.OAuthClient:
    return keybearer.OAuthClient.oidc(
        oidc.issuer,
        oidc.public_client.id,
        redirect_uri=REDIRECT,
        scopes=["openid", "email"],
        store=keybearer.MemoryStore(),
    )


def person_pasting(
    oidc: OidcPeer, capsys: pytest.CaptureFixture[str], prompts: list[str]
) -> object:
    """An ``input`` that signs in at the link just shown and pastes the address back."""

    def paste(prompt: str = "") -> str:
        prompts.append(prompt)
        shown = capsys.readouterr().err
        (url,) = [line.strip() for line in shown.splitlines() if line.startswith("  http")]
        return sign_in(url, oidc.user.username, oidc.user.password)

    return paste


def test_login_paste_shows_the_link_then_takes_the_address(
    oidc_clean: OidcPeer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", person_pasting(oidc_clean, capsys, prompts))
    client = client_for(oidc_clean)

    tokens = client.login_paste()

    assert tokens.origin == "hosted_ui"
    assert tokens.username == oidc_clean.user.username
    assert "paste the whole address" in prompts[0]
    assert oidc_clean.counts()["token:authorization_code"] == 1


def test_alogin_paste_does_the_same_without_blocking_the_loop(
    oidc_clean: OidcPeer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", person_pasting(oidc_clean, capsys, prompts))
    client = client_for(oidc_clean)

    tokens = asyncio.run(client.alogin_paste())

    assert tokens.username == oidc_clean.user.username
    assert len(prompts) == 1


def test_a_notebook_shows_how_the_session_was_made_and_how_long_it_lasts(
    oidc_clean: OidcPeer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("builtins.input", person_pasting(oidc_clean, capsys, []))
    tokens = client_for(oidc_clean).login_paste()

    shown = tokens._repr_html_()
    assert "browser sign-in" in shown
    assert "hosted_ui" not in shown
    assert "expires in " in shown
    expired = tokens.model_copy(update={"expires_at": tokens.expires_at - 3600})
    assert "expired " in expired._repr_html_()
    ended = tokens.model_copy(update={"ended": True})
    assert "ended" in ended._repr_html_()
    assert tokens.token("id") not in shown + ended._repr_html_()
