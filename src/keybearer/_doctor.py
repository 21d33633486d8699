"""``keybearer doctor``: check a profile end to end and say what is wrong.

A checklist, one line per check, each ``ok``, ``warn``, ``fail`` or ``skip``
(not run, because an earlier check failed or there is nothing to check):

* ``config``: the profile resolves (which file, which profile, what the
  environment set) and its client can be built (token store, client secret);
* ``discovery`` (OpenID Connect profiles) and ``jwks``: the provider answers,
  with short timeouts;
* ``session``: a session is stored, refreshed first if it is due (a refused
  refresh token is a dead session: log in again);
* ``token``, ``token_use``, ``audience``, ``issuer``, ``scopes``, ``expiry``:
  which token is sent and how, read from its (unverified) claims and compared
  with the profile;
* ``signature``: the token verified for real with :mod:`keybearer.verify`
  against the provider's keys;
* with an API URL: ``api`` (a real request through ``OAuthClient.http()``, so
  the usual refresh-once-on-401 applies), ``header``, ``clock`` (skew against
  the API's ``Date`` header and the token's ``iat``) and, after a 401,
  ``probe``: the same request with the other token (or the bare token), which
  tells a wrong ``send`` setting apart from a missing scope or a wrong pool.

For a 401/403 the report carries the :class:`~keybearer.Diagnosis` that
``keybearer.explain(response)`` gives. Nothing here prints, logs or returns a
token, not even a part of one. The exit code follows ``keybearer.cli``: 0 all
passed, 1 the API refused or a check failed, 2 a configuration error, 3 not
signed in (or the session has ended).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import click
import httpx

from keybearer._config import CognitoConfig, Send
from keybearer.cli import EXIT_API, EXIT_LOGIN_REQUIRED, EXIT_OK, EXIT_USAGE, exit_code_for
from keybearer.errors import (
    BadSignatureError,
    ConfigurationError,
    KeybearerError,
    LoginRequiredError,
    MalformedTokenError,
    ProtocolError,
    StoreError,
    TokenInvalidError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    WrongAudienceError,
)

if TYPE_CHECKING:
    from keybearer._client import OAuthClient
    from keybearer._diagnose import Diagnosis
    from keybearer._profiles import ResolvedProfile
    from keybearer._tokens import TokenSet
    from keybearer.verify import JwtVerifier

__all__ = ["Check", "Report", "render", "run_doctor"]

Status = Literal["ok", "warn", "fail", "skip"]

#: Seconds to wait for the provider's discovery document and keys: a healthy
#: provider answers in well under a second, and a doctor should not hang.
PROVIDER_TIMEOUT = 5.0
#: At most this long for the API (an API's first call may wake a cold Lambda).
API_TIMEOUT = 15.0
#: Clock differences: up to OK_SKEW seconds is network latency and the Date
#: header's one-second resolution; beyond BAD_SKEW tokens fail at the API.
OK_SKEW = 30.0
BAD_SKEW = 300.0
#: Scopes every Cognito token may carry; a method's OAuth scopes are custom ones.
_STANDARD_SCOPES = frozenset(
    {"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"}
)
_PASSWORD_ORIGINS = ("password", "rotating")
_ORIGINS = {
    "password": "password sign-in (USER_PASSWORD_AUTH)",
    "rotating": "password sign-in, rotating refresh tokens",
    "hosted_ui": "browser sign-in",
    "implicit": "implicit-grant redirect, no refresh token",
}
_SIGNATURE_ERRORS = (
    BadSignatureError,
    MalformedTokenError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
)


@dataclass
class Check:
    """One line of the checklist. ``code`` is the exit code a failure implies."""

    name: str
    status: Status
    detail: str
    code: int = EXIT_OK
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "status": self.status, "detail": self.detail}
        if self.value is not None:
            data["value"] = self.value
        return data


@dataclass
class Report:
    """Every check that ran, and the diagnosis of the API's 401/403 if there was one."""

    checks: list[Check] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    profile: str | None = None
    config_path: str | None = None
    api_url: str | None = None

    def add(
        self, name: str, status: Status, detail: str, *, code: int = EXIT_API, value: Any = None
    ) -> Check:
        check = Check(name, status, detail, code if status == "fail" else EXIT_OK, value)
        self.checks.append(check)
        return check

    def get(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    @property
    def exit_code(self) -> int:
        """2 for a configuration error, else 3 for no session, else 1 for any failure."""
        codes = {check.code for check in self.checks if check.status == "fail"}
        for code in (EXIT_USAGE, EXIT_LOGIN_REQUIRED, EXIT_API):
            if code in codes:
                return code
        return EXIT_API if codes else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        diagnosis = None
        if self.diagnosis is not None:
            diagnosis = {
                "status": self.diagnosis.status,
                "cause": self.diagnosis.cause,
                "fix": self.diagnosis.fix,
                "details": dict(self.diagnosis.details),
            }
        return {
            "profile": self.profile,
            "config": self.config_path,
            "api_url": self.api_url,
            "ok": self.exit_code == EXIT_OK,
            "exit_code": self.exit_code,
            "checks": [check.as_dict() for check in self.checks],
            "diagnosis": diagnosis,
        }


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
        report.add("config", "fail", f"{_describe_profile(profile)}; but {exc}", code=EXIT_USAGE)
        return report
    report.add("config", "ok", _describe_profile(profile))
    try:
        _Doctor(report, profile, client, clock, provider_timeout).run(api)
    finally:
        client.close()
    return report


def _describe_profile(profile: ResolvedProfile) -> str:
    s = profile.settings
    target = f"user pool {s.user_pool_id}" if s.kind == "cognito" else f"issuer {s.issuer}"
    sources = sorted(set(profile.sources.values()) - {"file"})
    env = [source for source in sources if not source.startswith("--")]
    flags = [source for source in sources if source.startswith("--")]
    if profile.in_file:
        where = f"profile {profile.name!r} in {profile.config_path}"
    else:
        where = f"profile {profile.name!r}, not in {profile.config_path}"
    if env:
        where += f"; from the environment: {' '.join(env)}"
    if flags:
        where += f"; from flags: {' '.join(flags)}"
    return f"{where}; {target}, app client {s.client_id}"


def _login_hint(profile: ResolvedProfile) -> str:
    flag = f" --profile {profile.name}" if profile.name != "default" else ""
    return f"keybearer login{flag}"


def _configure_hint(profile: ResolvedProfile, flags: str) -> str:
    flag = f" --profile {profile.name}" if profile.name != "default" else ""
    return f"keybearer configure{flag} {flags}"


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _minutes(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


@contextlib.contextmanager
def _quiet_refusal_log() -> Iterator[None]:
    """Hold back the auth's "GET /x refused: ..." warning: the report shows the diagnosis."""

    def keep(record: logging.LogRecord) -> bool:
        return not (record.module == "_auth" and record.levelno == logging.WARNING)

    logger = logging.getLogger("keybearer")
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


class _Doctor:
    """The checks after the configuration, in order; each adds its lines to the report."""

    def __init__(
        self,
        report: Report,
        profile: ResolvedProfile,
        client: OAuthClient,
        clock: Callable[[], float],
        provider_timeout: float,
    ) -> None:
        self.report = report
        self.profile = profile
        self.client = client
        self.config = client.config
        self.cognito = isinstance(self.config, CognitoConfig)
        self.clock = clock
        self.timeout = min(provider_timeout, profile.settings.timeout)
        self.send = self.config.send
        self.scheme = self.config.scheme
        self.issuer = str(getattr(self.config, "issuer", ""))

    def add(
        self, name: str, status: Status, detail: str, *, code: int = EXIT_API, value: Any = None
    ) -> Check:
        return self.report.add(name, status, detail, code=code, value=value)

    def run(self, api: str | None) -> None:
        with httpx.Client(timeout=self.timeout) as http:
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
        from keybearer._io.drive import run_sync
        from keybearer._jose.jwks import jwks_flow
        from keybearer._protocol import oauth
        from keybearer.verify import CognitoVerifier, JwtVerifier

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
                f"not signed in; run {_login_hint(self.profile)}",
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
                f"{_login_hint(self.profile)}",
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
        origin = _ORIGINS.get(tokens.origin, tokens.origin)
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
                + _configure_hint(self.profile, "--send access"),
            )
            return False
        shown = f"{self.scheme} <{self.send} token>" if self.scheme else f"<{self.send} token>"
        detail = f"sends the {_kind(self.send)} as 'Authorization: {shown}'"
        if self.scheme is None:
            self.add("token", "ok", detail + " (the bare token, no scheme)")
        elif self.scheme.lower() != "bearer":
            self.add(
                "token",
                "warn",
                detail + f"; API Gateway's authorizers take 'Bearer <token>' or the bare token, "
                f"not {self.scheme!r}: " + _configure_hint(self.profile, "--scheme Bearer"),
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
                f"the {_kind(self.send)} is not a JWT (an opaque token): its claims cannot "
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
                f"the token sent as the {_kind(self.send)} says token_use {use!r}",
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
        custom = [scope for scope in granted if scope not in _STANDARD_SCOPES]
        shown = " ".join(granted) or "(none in the access token)"
        password = tokens.origin in _PASSWORD_ORIGINS
        asked = [s for s in self.profile.settings.scopes if s not in _STANDARD_SCOPES]
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
        if left > 0:
            self.add(
                "expiry",
                "ok",
                f"{left:.0f} s left (until {_iso(tokens.expires_at)}, by this machine's clock)",
                value=round(left),
            )
        else:
            self.add(
                "expiry",
                "fail",
                f"expired {-left:.0f} s ago (at {_iso(tokens.expires_at)}) and not refreshed",
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
        except _SIGNATURE_ERRORS as exc:
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

    # -- the API --

    def api_url(self, api: str | None) -> str | None:
        base = self.profile.settings.api_url
        if api is None:
            if base is None:
                self.add(
                    "api",
                    "skip",
                    "no API to call: pass --api URL, or set the profile's api_url",
                )
            return base
        if api.startswith(("https://", "http://")):
            return api
        if base is None:
            self.add(
                "api",
                "fail",
                f"--api {api}: a path needs the profile's api_url to go below, and it has "
                "none; pass a full URL, or " + _configure_hint(self.profile, "--api-url URL"),
                code=EXIT_USAGE,
            )
            return None
        return base.rstrip("/") + "/" + api.lstrip("/")

    def call_api(self, api: str | None, tokens: TokenSet) -> None:
        from keybearer import explain

        url = self.api_url(api)
        if url is None:
            return
        self.report.api_url = url
        timeout = min(API_TIMEOUT, self.profile.settings.timeout)
        from keybearer._io.hosts import HostAllowList

        # The same rule as `keybearer get`: a pasted --api URL must not carry the
        # token to a host the profile never named.
        settings = self.profile.settings
        allowed = HostAllowList([*settings.api_hosts, settings.api_url or ""])
        if not allowed.permits(httpx.URL(url)):
            self.add(
                "api",
                "fail",
                f"--api {url}: refusing to send the token to {httpx.URL(url).host}: tokens "
                "go only to the api_url's host or one of api_hosts, over https (or plain "
                "http on this machine)",
                code=EXIT_USAGE,
            )
            return
        try:
            with _quiet_refusal_log(), self.client.http(base_url=url, timeout=timeout) as http:
                response = http.get(url)
        except LoginRequiredError as exc:
            self.add(
                "api",
                "fail",
                f"GET {url}: the API refused the token and the session could not be refreshed "
                f"({exc}); log in again: {_login_hint(self.profile)}",
                code=EXIT_LOGIN_REQUIRED,
            )
            return
        except ConfigurationError as exc:
            self.add("api", "fail", f"--api {url}: {exc}", code=EXIT_USAGE)
            return
        except KeybearerError as exc:
            self.add("api", "fail", f"GET {url}: {exc}", code=exit_code_for(exc))
            return
        except httpx.HTTPError as exc:
            self.add(
                "api",
                "fail",
                f"GET {url}: the API could not be reached ({type(exc).__name__}: {exc})",
            )
            return
        status = response.status_code
        line = f"GET {url}: HTTP {status} {response.reason_phrase}".rstrip()
        if status < 400:
            self.add("api", "ok", line, value=status)
        elif status in (401, 403):
            self.report.diagnosis = explain(response)
            self.add("api", "fail", line + ": the API refused the request", value=status)
        elif status >= 500:
            self.add("api", "fail", line + ": the API failed on its side", value=status)
        else:
            self.add(
                "api",
                "warn",
                line + ": the token got through; the route itself answered this",
                value=status,
            )
        self.header(response)
        self.clock_skew(response, tokens)
        if status == 401:
            self.probe(url, timeout)

    def header(self, response: httpx.Response) -> None:
        sent = response.request.headers.get("authorization")
        if sent is None:
            self.add("header", "fail", "no Authorization header was sent to this host")
            return
        if self.scheme is None:
            detail = "the bare token, no 'Bearer ' (API Gateway's authorizers take both)"
            self.add("header", "ok", detail)
            return
        prefix = f"{self.scheme} "
        if sent.startswith(prefix):
            self.add("header", "ok", f"'Authorization: {prefix}<{self.send} token>'")
        else:
            self.add("header", "fail", f"the header does not start with {prefix!r}")

    def clock_skew(self, response: httpx.Response, tokens: TokenSet) -> None:
        """This machine's clock against the API's ``Date`` and the token issuer's ``iat``."""
        from keybearer._diagnose import clock_skew

        skew = clock_skew(response, self.clock())
        drift = _issuer_drift(tokens, self.send)
        if skew is None:
            self.add("clock", "skip", "the API's answer has no Date header to compare with")
            return
        value = round(skew)
        if abs(skew) <= OK_SKEW:
            self.add(
                "clock",
                "ok",
                f"within {abs(skew):.0f} s of the API's Date header",
                value=value,
            )
            return
        direction = "ahead of" if skew < 0 else "behind"
        if drift is not None and abs(drift) <= OK_SKEW:
            # This machine agrees with the issuer (the token's iat): the API's clock is off.
            detail = (
                f"the API's clock is {_minutes(skew)} {direction} this machine's and the token "
                "issuer's, so it sees fresh tokens as "
                + ("expired" if skew < 0 else "not yet valid")
                + ": set the API server's clock right (NTP)"
            )
        else:
            mine = "behind" if skew < 0 else "ahead of"
            detail = (
                f"this machine's clock is {_minutes(skew)} {mine} the API's Date header: "
                "set it right (enable NTP time sync)"
            )
        status: Status = "fail" if abs(skew) > BAD_SKEW else "warn"
        self.add("clock", status, detail, value=value)

    def probe(self, url: str, timeout: float) -> None:
        """After a 401: is the other token, or the bare token, accepted where this one is not?"""
        tokens = self.client.tokens
        if tokens is None:
            return
        other: Send = "access" if self.send == "id" else "id"
        prefix = f"{self.scheme} " if self.scheme else ""
        tries: list[tuple[str, str]] = []
        if other == "access" or tokens.id_token is not None:
            tries.append((other, prefix + tokens.token(other)))
        if self.scheme is not None:
            tries.append(("bare", tokens.token(self.send)))
        if not tries:
            return
        refused: list[str] = []
        with httpx.Client(timeout=timeout) as http:
            for what, header in tries:
                try:
                    status = http.get(url, headers={"Authorization": header}).status_code
                except httpx.HTTPError:
                    return
                if status in (401, 403):
                    refused.append(what)
                    continue
                if what == "bare":
                    self.add(
                        "probe",
                        "fail",
                        f"the same GET with the bare token (no '{self.scheme} ') gets HTTP "
                        f"{status}: this authorizer wants the bare token; "
                        + _configure_hint(self.profile, "--scheme none"),
                    )
                else:
                    method = (
                        "has OAuth scopes and the access token carries one"
                        if other == "access"
                        else "has no OAuth scopes"
                    )
                    self.add(
                        "probe",
                        "fail",
                        f"the same GET with the {_kind(other)} gets HTTP {status}: this "
                        f"method {method}; " + _configure_hint(self.profile, f"--send {other}"),
                    )
                return
        names = [
            f"the bare {_kind(self.send)}" if what == "bare" else f"the {_kind(what)}"
            for what in refused
        ]
        self.add(
            "probe",
            "warn",
            f"the same GET is refused with {' and with '.join(names)} too: not a matter of "
            "which token is sent or how; see the diagnosis",
        )


def _kind(send: str) -> str:
    return "ID token" if send == "id" else "access token"


def _issuer_drift(tokens: TokenSet, send: str) -> float | None:
    """Seconds this machine's clock was ahead of the issuer's when the tokens arrived."""
    claims = tokens.id_claims if send == "id" else tokens.access_claims
    iat = claims.get("iat")
    if tokens.obtained_at is None or isinstance(iat, bool) or not isinstance(iat, (int, float)):
        return None
    return tokens.obtained_at - float(iat)


# -- the text a person reads --

_STYLES: dict[str, dict[str, Any]] = {
    "ok": {"fg": "green", "bold": True},
    "warn": {"fg": "yellow", "bold": True},
    "fail": {"fg": "red", "bold": True},
    "skip": {"dim": True},
}


def render(report: Report, *, colour: bool) -> list[str]:
    """The checklist, then the diagnosis and a summary, as lines for stdout."""

    def style(text: str, **styles: Any) -> str:
        return click.style(text, **styles) if colour else text

    width = max((len(check.name) for check in report.checks), default=0)
    lines = []
    for check in report.checks:
        status = style(f"{check.status:<4}", **_STYLES[check.status])
        lines.append(f"{status}  {check.name:<{width}}  {check.detail}")
    diagnosis = report.diagnosis
    if diagnosis is not None:
        lines.append("")
        lines.append(
            style(f"Why the API answered {diagnosis.status}: ", bold=True) + diagnosis.cause
        )
        lines.append(style("Fix: ", bold=True) + diagnosis.fix)
        message = diagnosis.details.get("api_message")
        if message:
            lines.append(style("The API said: ", bold=True) + str(message))
    failed = sum(check.status == "fail" for check in report.checks)
    warned = sum(check.status == "warn" for check in report.checks)
    lines.append("")
    if failed:
        summary = f"{failed} check{'s' * (failed != 1)} failed"
        if warned:
            summary += f", {warned} warning{'s' * (warned != 1)}"
        lines.append(style(summary + ".", fg="red", bold=True))
        if diagnosis is not None or report.get("api") is not None:
            lines.append(
                'More on each cause: "Why do I get 401 from API Gateway?" in keybearer\'s docs '
                "(docs/why-401.md)."
            )
    elif warned:
        lines.append(style(f"All checks passed, {warned} with a warning.", fg="yellow"))
    else:
        lines.append(style("All checks passed.", fg="green"))
    return lines
