"""Building the :class:`~keybearer.OAuthClient` a profile's settings describe.

No store read and no network here: the store and the client secret are
given. This module depends on the client; the client reaches profiles only
through :meth:`OAuthClient.from_profile`, which imports :mod:`keybearer._profiles`
at call time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from keybearer._client import OAuthClient
from keybearer._config import Grant, Send
from keybearer._profiles.settings import ProfileSettings
from keybearer.errors import ConfigurationError

if TYPE_CHECKING:
    from keybearer._protocol.oauth import ClientAuth
    from keybearer.stores._base import TokenStore

__all__ = ["build_client"]


class _SharedArguments(TypedDict):
    """The arguments :meth:`OAuthClient.oidc` and :meth:`OAuthClient.cognito` both take.

    Filled once from a profile, so a setting both kinds of provider share is
    passed the same way to each (mypy checks the keys against both signatures).
    """

    client_id: str
    client_secret: str | None
    scopes: Iterable[str] | None
    redirect_uri: str | None
    logout_uri: str | None
    send: Send | None
    scheme: str | None
    api_hosts: Iterable[str]
    store: TokenStore
    profile: str
    token_auth: ClientAuth
    refresh_ahead: float
    timeout: float
    grant: Grant | None


def build_client(
    settings: ProfileSettings,
    *,
    name: str,
    where: str,
    store: TokenStore,
    client_secret: str | None,
) -> OAuthClient:
    """The client for ``settings``; a ConfigurationError is prefixed with ``where``.

    The profile ``name`` keys the session in ``store``, so two profiles never
    share one. The ``api_url``'s host joins ``api_hosts`` as a host that may
    receive the token.
    """
    s = settings
    hosts = list(s.api_hosts)
    if s.api_url:
        hosts.append(s.api_url)
    # [m2m] A client-credentials profile takes the library's defaults for scopes
    # (every scope the app client allows) and send (access) unless it sets them.
    grant: Grant | None = "client_credentials" if s.grant == "client-credentials" else None
    scopes = s.scopes if grant is None or "scopes" in s.model_fields_set else None
    send = s.send if grant is None or "send" in s.model_fields_set else None
    shared: _SharedArguments = {
        "client_id": s.client_id or "",
        "client_secret": client_secret,
        "scopes": scopes,
        "redirect_uri": s.redirect_uri,
        "logout_uri": s.logout_uri,
        "send": send,
        "scheme": s.bearer_scheme,
        "api_hosts": hosts,
        "store": store,
        "profile": name,
        "token_auth": s.token_auth,
        "refresh_ahead": s.refresh_ahead,
        "timeout": s.timeout,
        "grant": grant,
    }
    try:
        if s.issuer is not None:
            return OAuthClient.oidc(issuer=s.issuer, **shared)
        return OAuthClient.cognito(
            user_pool_id=s.user_pool_id or "",
            domain=s.domain,
            rotate_refresh_tokens=s.rotate_refresh_tokens,
            password_flow=s.password_flow,
            remember_device=s.remember_device,
            region=s.region,
            idp_url=s.idp_url,
            jwks_url=s.jwks_url,
            issuer=s.cognito_issuer,
            **shared,
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
