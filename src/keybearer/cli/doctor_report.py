"""``keybearer doctor``'s report: its checks, their statuses and the exit code they imply.

The checks themselves are in :mod:`keybearer.cli.doctor_checks` (the
provider, the session, the token) and :mod:`keybearer.cli.doctor_api` (the
request to the API); this module holds what they share.

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
token, not even a part of one. The exit code follows :mod:`keybearer.cli.exits`: 0 all
passed, 1 the API refused or a check failed, 2 a configuration error, 3 not
signed in (or the session has ended).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from keybearer._config import CognitoConfig, OidcConfig
from keybearer._tokens import ORIGIN_LABELS
from keybearer.cli.exits import EXIT_API, EXIT_LOGIN_REQUIRED, EXIT_OK, EXIT_USAGE
from keybearer.cli.wording import command_line
from keybearer.errors import (
    BadSignatureError,
    MalformedTokenError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
)

if TYPE_CHECKING:
    from keybearer._client import OAuthClient
    from keybearer._diagnose import Diagnosis
    from keybearer._profiles import ResolvedProfile

__all__ = [
    "API_TIMEOUT",
    "BAD_SKEW",
    "OK_SKEW",
    "ORIGINS",
    "PASSWORD_ORIGINS",
    "PROVIDER_TIMEOUT",
    "SIGNATURE_ERRORS",
    "STANDARD_SCOPES",
    "Check",
    "Checkup",
    "Report",
    "Status",
    "configure_hint",
    "describe_profile",
    "kind",
    "login_hint",
    "minutes",
]

Status = Literal["ok", "warn", "fail", "skip"]

#: provider answers in well under a second, and a doctor should not hang.
PROVIDER_TIMEOUT = 5.0
#: At most this long for the API (an API's first call may wake a cold Lambda).
API_TIMEOUT = 15.0
#: Clock differences: up to OK_SKEW seconds is network latency and the Date
#: header's one-second resolution; beyond BAD_SKEW tokens fail at the API.
OK_SKEW = 30.0
BAD_SKEW = 300.0
#: Scopes every Cognito token may carry; a method's OAuth scopes are custom ones.
STANDARD_SCOPES = frozenset(
    {"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"}
)
PASSWORD_ORIGINS = ("password", "rotating")
#: The names a session's origin has everywhere, with the Cognito flow a checklist names.
ORIGINS = {**ORIGIN_LABELS, "password": "password sign-in (USER_PASSWORD_AUTH)"}
SIGNATURE_ERRORS = (
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


def describe_profile(profile: ResolvedProfile) -> str:
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


def login_hint(profile: ResolvedProfile) -> str:
    return command_line("login", profile.name)


def configure_hint(profile: ResolvedProfile, flags: str) -> str:
    return command_line("configure", profile.name, flags)


def minutes(seconds: float) -> str:
    """A clock difference in the unit a skew reads best in: "45 s", "180 minutes", "5.5 hours"."""
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def kind(send: str) -> str:
    return "ID token" if send == "id" else "access token"


class Checkup:
    """What every check reads (the profile, its client, the clock) and where it writes."""

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
        self.issuer = (
            self.config.issuer if isinstance(self.config, (CognitoConfig, OidcConfig)) else ""
        )

    def add(
        self, name: str, status: Status, detail: str, *, code: int = EXIT_API, value: Any = None
    ) -> Check:
        return self.report.add(name, status, detail, code=code, value=value)
