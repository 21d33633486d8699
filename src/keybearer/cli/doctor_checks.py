"""``keybearer doctor``'s checks: the configuration, the provider, the session and the token.

:func:`run_doctor` runs them in order and never raises a KeybearerError: each
problem is a line of the :class:`~keybearer.cli.doctor_report.Report`. The API
checks follow, from :mod:`keybearer.cli.doctor_api`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from keybearer._config import CognitoConfig
from keybearer._io.drive import run_sync
from keybearer._jose.jwks import jwks_flow
from keybearer._profiles import ResolvedProfile
from keybearer._protocol import oauth
from keybearer._protocol.urls import loopback_mounts
from keybearer._tokens import TokenSet
from keybearer.cli import terminal
from keybearer.cli.doctor_api import ApiChecks
from keybearer.cli.doctor_report import (
    ORIGINS,
    PASSWORD_ORIGINS,
    PROVIDER_TIMEOUT,
    SIGNATURE_ERRORS,
    STANDARD_SCOPES,
    Report,
    configure_hint,
    describe_profile,
    kind,
    login_hint,
)
from keybearer.cli.exits import EXIT_API, EXIT_LOGIN_REQUIRED, EXIT_USAGE, exit_code_for
from keybearer.errors import (
    KeybearerError,
    LoginRequiredError,
    ProtocolError,
    StoreError,
    TokenInvalidError,
    WrongAudienceError,
)
from keybearer.verify import CognitoVerifier, JwtVerifier

__all__ = ["run_doctor"]


def run_doctor(
    resolve: Callable[[], ResolvedProfile],
    *,
    api: str | None = None,
    clock: Callable[[], float] = time.time,
    provider_timeout: float = PROVIDER_TIMEOUT,
) -> Report:
    """Run every check for the profile ``resolve()`` returns; never raises a KeybearerError.

    ``api`` is a URL to request, or a path below the profile's ``api_url``;
    ``None`` requests the ``api_url`` itself, if the profile has one.
    """
    report = Report()
    try:
        profile = resolve()
    except KeybearerError as exc:
        report.add("config", "fail", str(exc), code=exit_code_for(exc))
        return report
    report.profile = profile.name
    report.config_path = str(profile.config_path)
    try:
        client = profile.client()
    except KeybearerError as exc:
        report.add("config", "fail", f"{describe_profile(profile)}; but {exc}", code=EXIT_USAGE)
        return report
    report.add("config", "ok", describe_profile(profile))
    try:
        _Doctor(report, profile, client, clock, provider_timeout).run(api)
    finally:
        client.close()
    return report


class _Doctor(ApiChecks):
    """The checks after the configuration, in order; each adds its lines to the report."""

    def run(self, api: str | None) -> None:
        # Like every client keybearer builds: a loopback provider never through a proxy.
        with httpx.Client(
            timeout=self.timeout, mounts=loopback_mounts(self.config.provider_urls)
        ) as http:
            verifier = self.provider(http)
            tokens = self.session()
            if tokens is None:
                return
            if not self.token(tokens):
                return
            self.claims(tokens)
            self.signature(tokens, verifier)
        self.call_api(api, tokens)

    # -- the provider --

    def provider(self, http: httpx.Client) -> JwtVerifier | None:
        """Discovery (OIDC) and the JWKS; the verifier for the signature check, if reachable."""
        config = self.config
        if isinstance(config, CognitoConfig):
            jwks_url, where = config.jwks_url, f"user pool {config.user_pool_id}"
        else:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                endpoints = run_sync(oauth.discover(self.issuer, self.timeout), http)
            except KeybearerError as exc:
                self.add("discovery", "fail", str(exc), code=exit_code_for(exc))
                self.add("jwks", "skip", "no discovery document, so no jwks_uri")
                return None
            self.add("discovery", "ok", f"{url}: issuer {endpoints.issuer}")
            self.issuer = endpoints.issuer
            jwks_url, where = endpoints.jwks, f"issuer {endpoints.issuer}"
        try:
            keyset = run_sync(jwks_flow(jwks_url, httpx.Timeout(self.timeout)), http)
        except KeybearerError as exc:
            code = EXIT_API
            if isinstance(exc, ProtocolError) and 400 <= (exc.status_code or 0) < 500:
                code = EXIT_USAGE  # a wrong pool id, issuer or jwks_url: configuration
            self.add("jwks", "fail", f"the signing keys of {where}: {exc}", code=code)
            return None
        if not keyset.keys:
            self.add("jwks", "fail", f"{jwks_url} has no RS256 signing key: no token can verify")
            return None
        count = len(keyset.keys)
        self.add("jwks", "ok", f"{jwks_url}: {count} RS256 signing key{'s' * (count != 1)}")
        audiences = [config.client_id]
        if isinstance(config, CognitoConfig):
            return CognitoVerifier(
                config.user_pool_id,
                audiences,
                issuer=config.issuer,
                jwks_url=jwks_url,
                http=http,
                clock=self.clock,
            )
        return JwtVerifier(self.issuer, jwks_url, audiences=audiences, http=http, clock=self.clock)

    # -- the session and its token --

    def session(self) -> TokenSet | None:
        """The tokens to send, refreshed first if due; None when there is no session."""
        try:
            stored = self.client.tokens
        except StoreError as exc:
            self.add("session", "fail", f"cannot read the token store: {exc}", code=EXIT_USAGE)
            return None
        if stored is None:
            self.add(
                "session",
                "fail",
                f"not signed in; run {login_hint(self.profile)}",
                code=EXIT_LOGIN_REQUIRED,
            )
            return None
        try:
            tokens = self.client.valid_tokens()
        except LoginRequiredError as exc:
            self.add(
                "session",
                "fail",
                f"the session has ended, the refresh was refused ({exc}); log in again: "
                f"{login_hint(self.profile)}",
                code=EXIT_LOGIN_REQUIRED,
            )
            return None
        except KeybearerError as exc:
            self.add(
                "session",
                "fail",
                f"the token was due for a refresh, which failed: {exc}",
                code=exit_code_for(exc),
            )
            return stored
        who = tokens.username or tokens.sub or "an unknown user"
        origin = ORIGINS.get(tokens.origin, tokens.origin)
        refresh = "refreshed just now (it was due)" if tokens is not stored else "no refresh due"
        if tokens.refresh_token is None:
            refresh += "; no refresh token: sign in again when it expires"
        self.add("session", "ok", f"signed in as {who} by {origin}; {refresh}")
        return tokens

    def token(self, tokens: TokenSet) -> bool:
        """Which token goes in which header; False when there is no such token."""
        if self.send == "id" and tokens.id_token is None:
            self.add(
                "token",
                "fail",
                "send = id, but this session has no ID token (was 'openid' among the scopes?); "
                "sign in with the openid scope, or "
                + configure_hint(self.profile, "--send access"),
            )
            return False
        shown = f"{self.scheme} <{self.send} token>" if self.scheme else f"<{self.send} token>"
        detail = f"sends the {kind(self.send)} as 'Authorization: {shown}'"
        if self.scheme is None:
            self.add("token", "ok", detail + " (the bare token, no scheme)")
        elif self.scheme.lower() != "bearer":
            self.add(
                "token",
                "warn",
                detail + f"; API Gateway's authorizers take 'Bearer <token>' or the bare token, "
                f"not {self.scheme!r}: " + configure_hint(self.profile, "--scheme Bearer"),
            )
        else:
            self.add("token", "ok", detail)
        return True

    def claims(self, tokens: TokenSet) -> None:
        """token_use, audience, issuer, scopes and expiry, from the token's own claims."""
        claims = tokens.id_claims if self.send == "id" else tokens.access_claims
        if not claims:
            self.add(
                "token_use",
                "warn",
                f"the {kind(self.send)} is not a JWT (an opaque token): its claims cannot "
                "be read here",
            )
        else:
            self.token_use(claims)
            self.audience(claims)
            self.issuer_claim(claims)
        self.scopes(tokens)
        self.expiry(tokens)

    def token_use(self, claims: dict[str, Any]) -> None:
        use = claims.get("token_use")
        if not self.cognito and use is None:
            return  # not a Cognito token: there is no token_use to check
        if use != self.send:
            self.add(
                "token_use",
                "fail",
                f"the token sent as the {kind(self.send)} says token_use {use!r}",
            )
            return
        rule = (
            "what a REST API method without OAuth scopes wants"
            if use == "id"
            else "what a REST API method with OAuth scopes wants (carrying one of them)"
        )
        self.add("token_use", "ok", f"{use}: {rule}")

    def audience(self, claims: dict[str, Any]) -> None:
        client_id = self.config.client_id
        if self.cognito:
            name = "aud" if self.send == "id" else "client_id"
            value = claims.get(name)
            if value == client_id:
                self.add("audience", "ok", f"{name} {value}: the profile's app client")
            else:
                self.add(
                    "audience",
                    "fail",
                    f"{name} is {value!r}, but the profile's app client is {client_id}: the "
                    "token was issued to another app client",
                )
            return
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if client_id in auds or claims.get("client_id") == client_id:
            self.add("audience", "ok", f"issued to the profile's client {client_id}")
        elif self.send == "access":
            self.add(
                "audience",
                "warn",
                f"aud is {aud!r}, not this client: fine for an access token if the API's "
                "authorizer lists that audience",
            )
        else:
            self.add("audience", "fail", f"aud is {aud!r}, but the profile's client is {client_id}")

    def issuer_claim(self, claims: dict[str, Any]) -> None:
        iss = claims.get("iss")
        if iss == self.issuer:
            self.add("issuer", "ok", f"{iss}")
        else:
            setting = "cognito_issuer" if self.cognito else "issuer"
            self.add(
                "issuer",
                "fail",
                f"iss is {iss!r}, but the profile expects {self.issuer!r} ({setting}): "
                "another pool or provider issued this token",
            )

    def scopes(self, tokens: TokenSet) -> None:
        granted = tokens.scopes
        custom = [scope for scope in granted if scope not in STANDARD_SCOPES]
        shown = " ".join(granted) or "(none in the access token)"
        password = tokens.origin in PASSWORD_ORIGINS
        asked = [s for s in self.profile.settings.scopes if s not in STANDARD_SCOPES]
        missing = [s for s in asked if s not in granted]
        if missing and password:
            self.add(
                "scopes",
                "warn",
                f"{shown}; the profile asks for {' '.join(missing)}, but password sign-in "
                "(USER_PASSWORD_AUTH) only grants aws.cognito.signin.user.admin: sign in "
                "in the browser (keybearer login --browser) to get custom scopes",
            )
        elif missing:
            self.add(
                "scopes",
                "warn",
                f"{shown}; asked for {' '.join(missing)} at sign-in but not granted: is the "
                "app client allowed those scopes?",
            )
        elif self.send == "access" and not custom:
            why = (
                "password sign-in (USER_PASSWORD_AUTH) only grants aws.cognito.signin.user.admin"
                if password
                else "no custom scope was asked for at sign-in"
            )
            self.add(
                "scopes",
                "warn",
                f"{shown}: no custom OAuth scope, so a method with OAuth scopes (other than "
                f"these) refuses this access token ({why})",
            )
        elif self.send == "id":
            self.add(
                "scopes",
                "ok",
                f"{shown} (in the access token; the ID token is sent, which suits methods "
                "without OAuth scopes)",
            )
        else:
            self.add("scopes", "ok", shown)

    def expiry(self, tokens: TokenSet) -> None:
        left = tokens.expires_at - self.clock()
        at = terminal.iso(tokens.expires_at)
        if left > 0:
            self.add(
                "expiry",
                "ok",
                f"{left:.0f} s left (until {at}, by this machine's clock)",
                value=round(left),
            )
        else:
            self.add(
                "expiry",
                "fail",
                f"expired {-left:.0f} s ago (at {at}) and not refreshed",
                value=round(left),
            )

    def signature(self, tokens: TokenSet, verifier: JwtVerifier | None) -> None:
        if verifier is None:
            self.add("signature", "skip", "not checked: the provider's keys could not be fetched")
            return
        token = tokens.token(self.send)
        if not tokens.id_claims and self.send == "id":
            self.add("signature", "skip", "the ID token is not a JWT")
            return
        if self.send == "access" and not tokens.access_claims:
            self.add("signature", "skip", "the access token is opaque: only its issuer can check")
            return
        try:
            if self.cognito:
                verifier.verify(token, token_use=self.send)
            else:
                verifier.verify(token)
        except SIGNATURE_ERRORS as exc:
            self.add("signature", "fail", f"keybearer.verify refuses the token: {exc}")
        except WrongAudienceError as exc:
            if not self.cognito and self.send == "access":
                self.add(
                    "signature",
                    "ok",
                    f"RS256 signature verified against the JWKS (its audience is the API's: {exc})",
                )
            else:
                self.add("signature", "fail", f"signature verified, but: {exc}")
        except TokenInvalidError as exc:
            self.add("signature", "fail", f"signature verified, but: {exc}")
        except KeybearerError as exc:  # the keys could not be fetched after all
            self.add("signature", "fail", f"could not check the signature: {exc}")
        else:
            self.add(
                "signature",
                "ok",
                "RS256 signature, issuer, expiry and app client verified against the JWKS "
                "(keybearer.verify)",
            )
