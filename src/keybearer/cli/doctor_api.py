"""``keybearer doctor``'s checks of the API: the request, the header, the clock, the probe.

The request goes through ``OAuthClient.http()`` (so the usual
refresh-once-on-401 applies) and only to a host the profile allows; after a
401 the probe repeats it with the other token (or the bare token), which tells
a wrong ``send`` or ``scheme`` apart from a missing scope or a wrong pool.
"""

from __future__ import annotations

import httpx

from keybearer import explain
from keybearer._config import Send
from keybearer._diagnose import clock_skew, issuer_drift
from keybearer._io.hosts import HostAllowList
from keybearer._protocol.urls import loopback_mounts
from keybearer._tokens import TokenSet
from keybearer.cli import terminal
from keybearer.cli.doctor_report import (
    API_TIMEOUT,
    BAD_SKEW,
    OK_SKEW,
    Checkup,
    Status,
    configure_hint,
    kind,
    login_hint,
    minutes,
)
from keybearer.cli.exits import EXIT_LOGIN_REQUIRED, EXIT_USAGE, exit_code_for
from keybearer.errors import ConfigurationError, KeybearerError, LoginRequiredError

__all__ = ["ApiChecks"]


class ApiChecks(Checkup):
    """The checks that call the API; they run after the token checks."""

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
                "none; pass a full URL, or " + configure_hint(self.profile, "--api-url URL"),
                code=EXIT_USAGE,
            )
            return None
        return base.rstrip("/") + "/" + api.lstrip("/")

    def call_api(self, api: str | None, tokens: TokenSet) -> None:
        url = self.api_url(api)
        if url is None:
            return
        self.report.api_url = url
        timeout = min(API_TIMEOUT, self.profile.settings.timeout)
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
            with (
                terminal.refusal_warning_held(),
                self.client.http(base_url=url, timeout=timeout) as http,
            ):
                response = http.get(url)
        except LoginRequiredError as exc:
            self.add(
                "api",
                "fail",
                f"GET {url}: the API refused the token and the session could not be refreshed "
                f"({exc}); log in again: {login_hint(self.profile)}",
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
        skew = clock_skew(response, self.clock())
        claims = tokens.id_claims if self.send == "id" else tokens.access_claims
        drift = issuer_drift(tokens, claims)
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
                f"the API's clock is {minutes(skew)} {direction} this machine's and the token "
                "issuer's, so it sees fresh tokens as "
                + ("expired" if skew < 0 else "not yet valid")
                + ": set the API server's clock right (NTP)"
            )
        else:
            mine = "behind" if skew < 0 else "ahead of"
            detail = (
                f"this machine's clock is {minutes(skew)} {mine} the API's Date header: "
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
        # The probe carries tokens: a loopback API never through an environment proxy.
        with httpx.Client(timeout=timeout, mounts=loopback_mounts([url])) as http:
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
                        + configure_hint(self.profile, "--scheme none"),
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
                        f"the same GET with the {kind(other)} gets HTTP {status}: this "
                        f"method {method}; " + configure_hint(self.profile, f"--send {other}"),
                    )
                return
        names = [
            f"the bare {kind(self.send)}" if what == "bare" else f"the {kind(what)}"
            for what in refused
        ]
        self.add(
            "probe",
            "warn",
            f"the same GET is refused with {' and with '.join(names)} too: not a matter of "
            "which token is sent or how; see the diagnosis",
        )
