"""The OAuth 2.0 / OpenID Connect endpoints: discovery, token, revoke, userinfo.

The wire formats (the authorization request, token and revocation bodies,
client authentication) come from authlib's sans-I/O helpers; this module adds
what keybearer needs around them: httpx requests for our drivers, size limits,
and typed errors with nothing secret in them.

authlib is imported inside the functions that use it: a process that only
sends a fresh cached token never runs them, and must not pay for the import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

from keybearer._protocol import Flow
from keybearer._protocol.responses import json_or_none, server_error
from keybearer._protocol.urls import check_secure_url
from keybearer._redact import provider_text, response_secrets
from keybearer._tokens import Origin, TokenSet, is_token_text, lifetime
from keybearer.errors import (
    ConfigurationError,
    KeybearerError,
    LoginError,
    LoginRequiredError,
    ProtocolError,
    ProviderError,
)

ClientAuth = Literal["client_secret_basic", "client_secret_post", "none"]


@dataclass(frozen=True)
class Endpoints:
    """Where a provider's OAuth endpoints are (from discovery, or Cognito's fixed paths)."""

    issuer: str
    authorization: str
    token: str
    jwks: str
    revocation: str | None = None
    userinfo: str | None = None
    end_session: str | None = None


@dataclass(frozen=True, repr=False)
class OAuthClientInfo:
    """The app client as the token endpoint sees it."""

    client_id: str
    client_secret: str | None
    auth_method: ClientAuth
    timeout: float

    def __repr__(self) -> str:
        return f"OAuthClientInfo(client_id={self.client_id!r}, auth_method={self.auth_method!r})"


def discover(issuer: str, timeout: float) -> Flow[Endpoints]:
    """Read ``<issuer>/.well-known/openid-configuration``."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    response = yield httpx.Request("GET", url, extensions=_timeout(timeout))
    if response.status_code != 200:
        raise server_error(response, "the discovery document") or ConfigurationError(
            f"no OpenID Connect discovery document at {url} (HTTP {response.status_code})"
        )
    doc = _json(response, "the discovery document")
    if doc.get("issuer") != issuer.rstrip("/") and doc.get("issuer") != issuer:
        raise ConfigurationError(
            f"the discovery document names issuer {doc.get('issuer')!r}, not {issuer!r}"
        )

    def url_field(name: str, required: bool = True) -> str | None:
        value = doc.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise ProtocolError(f"the discovery document has no usable {name}")
        try:
            return check_secure_url(value, what=name)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None

    methods = doc.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise ConfigurationError("the provider does not support PKCE with S256")
    return Endpoints(
        issuer=str(doc["issuer"]),
        authorization=url_field("authorization_endpoint") or "",
        token=url_field("token_endpoint") or "",
        jwks=url_field("jwks_uri") or "",
        revocation=url_field("revocation_endpoint", required=False),
        userinfo=url_field("userinfo_endpoint", required=False),
        end_session=url_field("end_session_endpoint", required=False),
    )


def authorization_url(
    endpoints: Endpoints,
    client_id: str,
    *,
    redirect_uri: str,
    scopes: tuple[str, ...],
    state: str,
    nonce: str,
    code_challenge: str | None,
    response_type: str = "code",
    extra: dict[str, str] | None = None,
) -> str:
    """The URL the browser opens to sign in (RFC 6749 §4.1.1/§4.2.1, OIDC ``nonce``).

    ``code_challenge`` is an S256 challenge (the method is always S256, never
    ``plain``); None for the implicit grant. Empty ``extra`` values (Cognito's
    ``identity_provider``, ``idp_identifier``) are left out.
    """
    # Lazy: authlib loads only when a sign-in starts.
    from authlib.oauth2.rfc6749.parameters import prepare_grant_uri

    params: dict[str, str] = {"nonce": nonce}
    if code_challenge is not None:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    params.update({k: v for k, v in (extra or {}).items() if v})
    url = prepare_grant_uri(
        endpoints.authorization,
        client_id,
        response_type,
        redirect_uri=redirect_uri,
        scope=list(scopes) or None,
        state=state,
        **params,
    )
    return str(url)


def _timeout(timeout: float) -> dict[str, Any]:
    return {"timeout": httpx.Timeout(timeout).as_dict()}


def client_authenticated_post(url: str, client: OAuthClientInfo, body: str) -> httpx.Request:
    """A form POST of ``body`` to a token or revocation endpoint, as ``client``.

    The one place that applies client authentication (authlib's ``ClientAuth``):
    ``client_secret_basic`` puts the id and secret in an ``Authorization: Basic``
    header, ``client_secret_post`` adds both to the form, and a client without a
    secret (``none``) adds its ``client_id`` only. ``body`` is an
    ``application/x-www-form-urlencoded`` string such as authlib's
    ``prepare_token_request`` builds.
    """
    # Lazy: authlib loads only when a token or revocation request is built.
    from authlib.oauth2.auth import ClientAuth as AuthlibClientAuth

    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "Cache-Control": "no-store",
    }
    secret = client.client_secret
    method = client.auth_method if secret is not None else "none"
    if method == "client_secret_basic":
        # RFC 6749 §2.3.1 form-encodes id and secret before Base64; authlib joins
        # them as given (and as latin-1), so hand it the encoded, ASCII forms.
        auth = AuthlibClientAuth(quote(client.client_id, safe=""), quote(secret or "", safe=""))
    else:
        auth = AuthlibClientAuth(client.client_id, secret, method)
    _, headers, body = auth.prepare("POST", url, headers, body)
    return httpx.Request(
        "POST",
        url,
        headers=headers,
        content=str(body).encode(),
        extensions=_timeout(client.timeout),
    )


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object of an answer (size-checked), or a ``ProtocolError``."""
    data = json_or_none(response, what)
    if not isinstance(data, dict):
        kind = provider_text(
            response.headers.get("content-type", "none"), response_secrets(response), limit=100
        )
        raise ProtocolError(
            f"{what} is not a JSON object (HTTP {response.status_code}, content type {kind!r})",
            status_code=response.status_code,
        )
    return data


def token_error(response: httpx.Response, *, refreshing: bool) -> KeybearerError:
    """The typed error for a failed token-endpoint call (RFC 6749 §5.2)."""
    server = server_error(response, "the token endpoint")
    if server is not None:
        return server
    try:
        data = _json(response, "the token endpoint's error")
    except ProtocolError as exc:
        return exc
    # What the provider says is redacted of every secret the request carried
    # (code, verifier, refresh token, client secret), then clipped.
    secrets = response_secrets(response)
    code = provider_text(data.get("error"), secrets, limit=100)
    text = provider_text(data.get("error_description"), secrets, limit=300)
    said = f": {text}" if text else ""
    # Ends a sentence that another follows; Cognito's messages may lack the period.
    stop = f": {text.rstrip('. ')}." if text else "."
    kwargs: dict[str, Any] = {
        "code": code,
        "provider_message": text,
        "status_code": response.status_code,
    }
    if code == "invalid_client":
        return ConfigurationError(
            f"the provider does not accept this app client's credentials (invalid_client){stop} "
            "Check client_id and client_secret.",
            **kwargs,
        )
    if code == "invalid_grant" and refreshing:
        return LoginRequiredError(
            f"the session has ended and cannot be refreshed (invalid_grant){stop} Log in again.",
            **kwargs,
        )
    if code in ("invalid_grant", "invalid_request", "unauthorized_client", "invalid_scope"):
        return LoginError(f"the provider refused the sign-in ({code}){said}", **kwargs)
    if code is None:
        return ProtocolError(
            f"the token endpoint answered HTTP {response.status_code} without an OAuth error",
            status_code=response.status_code,
        )
    return ProviderError(f"the token endpoint answered with an error ({code}){said}", **kwargs)


def _tokens(
    data: dict[str, Any], *, now: float, origin: Origin, previous: TokenSet | None
) -> TokenSet:
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProtocolError("the token endpoint's answer has no access_token")
    for name in ("access_token", "id_token", "refresh_token"):
        value = data.get(name)
        if value not in (None, "") and not is_token_text(value):
            raise ProtocolError(
                f"the token endpoint's {name} is not a token (printable ASCII, RFC 6749)"
            )
    token_type = data.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ProtocolError(f"the token endpoint issued a {token_type!r} token, not a Bearer token")
    expires_in = lifetime(data.get("expires_in", 3600))
    if expires_in is None:
        raise ProtocolError("the token endpoint's answer has an invalid expires_in")
    id_token = data.get("id_token")
    refresh = data.get("refresh_token")
    if not (isinstance(refresh, str) and refresh) and previous is not None:
        # Without rotation a refresh answer has no refresh token: keep the old one.
        refresh = previous.refresh_token.get_secret_value() if previous.refresh_token else None
    if not (isinstance(id_token, str) and id_token) and previous is not None:
        id_token = previous.id_token.get_secret_value() if previous.id_token else None
    tokens = TokenSet(
        access_token=access,
        id_token=id_token if isinstance(id_token, str) and id_token else None,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=now + expires_in,
        obtained_at=now,
        token_type="Bearer",
        origin=origin,
    )
    return tokens.model_copy(update={"username": tokens.claimed_username})


def exchange_code(
    endpoints: Endpoints,
    client: OAuthClientInfo,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
    clock: Callable[[], float],
) -> Flow[TokenSet]:
    """grant_type=authorization_code with the PKCE verifier."""
    # Lazy: authlib loads only when a sign-in finishes.
    from authlib.oauth2.rfc6749.parameters import prepare_token_request

    body = prepare_token_request(
        "authorization_code", redirect_uri=redirect_uri, code=code, code_verifier=verifier
    )
    response = yield client_authenticated_post(endpoints.token, client, str(body))
    if response.status_code != 200:
        raise token_error(response, refreshing=False)
    data = _json(response, "the token endpoint's answer")
    return _tokens(data, now=clock(), origin="hosted_ui", previous=None)


def refresh(
    endpoints: Endpoints, client: OAuthClientInfo, tokens: TokenSet, clock: Callable[[], float]
) -> Flow[TokenSet]:
    """grant_type=refresh_token; a rotated refresh token replaces the old one."""
    if tokens.refresh_token is None:
        raise LoginRequiredError(
            "this session has no refresh token (an implicit-grant sign-in has none); log in again"
        )
    # Lazy: authlib loads only when a refresh runs.
    from authlib.oauth2.rfc6749.parameters import prepare_token_request

    body = prepare_token_request(
        "refresh_token", refresh_token=tokens.refresh_token.get_secret_value()
    )
    response = yield client_authenticated_post(endpoints.token, client, str(body))
    if response.status_code != 200:
        raise token_error(response, refreshing=True)
    data = _json(response, "the token endpoint's answer")
    return _tokens(data, now=clock(), origin="hosted_ui", previous=tokens)


def revoke(endpoints: Endpoints, client: OAuthClientInfo, tokens: TokenSet) -> Flow[bool]:
    """RFC 7009 revocation of the refresh token. False when there is nothing to revoke."""
    if endpoints.revocation is None or tokens.refresh_token is None:
        return False
    # Lazy: authlib loads only when a sign-out runs.
    from authlib.oauth2.rfc7009 import prepare_revoke_token_request

    body, _ = prepare_revoke_token_request(
        tokens.refresh_token.get_secret_value(), token_type_hint="refresh_token"
    )
    response = yield client_authenticated_post(endpoints.revocation, client, str(body))
    if response.status_code != 200:
        raise token_error(response, refreshing=False)
    return True


def userinfo(endpoints: Endpoints, tokens: TokenSet, timeout: float) -> Flow[dict[str, Any]]:
    """The OIDC userinfo claims for the access token."""
    if endpoints.userinfo is None:
        raise ConfigurationError("this provider has no userinfo endpoint")
    request = httpx.Request(
        "GET",
        endpoints.userinfo,
        headers={
            "Authorization": f"Bearer {tokens.access_token.get_secret_value()}",
            "Accept": "application/json",
        },
        extensions=_timeout(timeout),
    )
    response = yield request
    if response.status_code == 401:
        said = provider_text(
            response.headers.get("www-authenticate", "HTTP 401"),
            response_secrets(response),
            limit=200,
        )
        raise LoginRequiredError(
            f"the provider no longer accepts the access token for userinfo ({said}); "
            "refresh or log in again",
            status_code=401,
        )
    if response.status_code != 200:
        raise server_error(response, "the userinfo endpoint") or ProviderError(
            f"the userinfo endpoint answered HTTP {response.status_code}",
            status_code=response.status_code,
        )
    return _json(response, "the userinfo answer")
