"""Why the API still says 401/403: the likely cause and the fix, in one sentence each.

API Gateway's Cognito authorizer answers every refusal with the same
``{"message":"Unauthorized"}``. What keybearer knows — which token it sent,
its claims, how the session was obtained, the API's own words and clock —
usually narrows it to one cause. Nothing here verifies or prints a token.
"""

from __future__ import annotations

import email.utils
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from keybearer._redact import redact, response_secrets
from keybearer._tokens import TokenSet

# Scopes any Cognito token can carry; a method's OAuth scopes are custom ones
# (``<resource server>/<scope>``) or these by name.
_STANDARD_SCOPES = {"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"}
_SKEW_WORTH_MENTIONING = 300.0
# Seconds this machine's clock may differ from the issuer's (token iat at receipt).
_ISSUER_DRIFT_OK = 60.0


@dataclass(frozen=True)
class Diagnosis:
    """The most likely reason an API refused the token, and what to do about it.

    Attributes:
        status: the API's HTTP status (401 or 403).
        cause: the likeliest cause, in one sentence.
        fix: what to change, in one sentence.
        details: what the diagnosis was based on: the token kind sent, its
            ``token_use``, audience, issuer and scopes, the API's message (tokens
            masked), the clock skew against the API's ``Date`` header.
    """

    status: int
    cause: str
    fix: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.cause}. Fix: {self.fix}"


# API Gateway quotes the Authorization header back in some 403 messages.
_JWT_LIKE = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")


def _api_message(response: httpx.Response) -> str:
    try:
        body = json.loads(response.content[:4096])
    except (ValueError, RecursionError, httpx.ResponseNotRead):
        return ""
    if isinstance(body, dict):
        message = body.get("message") or body.get("Message")
        if isinstance(message, str):
            # Any JWT the API quoted is masked; then whatever else of the token
            # sent (an opaque one, a fragment) is redacted, before the cut.
            return redact(_JWT_LIKE.sub("[token]", message), response_secrets(response))[:300]
    return ""


def clock_skew(response: httpx.Response, now: float) -> float | None:
    """Seconds the local clock is ahead (positive) of the server's ``Date`` header."""
    date = response.headers.get("date")
    if not date:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return now - server


def issuer_drift(tokens: TokenSet, claims: dict[str, Any]) -> float | None:
    """Seconds this machine's clock was ahead of the token issuer's when the tokens came."""
    iat = claims.get("iat")
    if tokens.obtained_at is None or isinstance(iat, bool) or not isinstance(iat, (int, float)):
        return None
    return tokens.obtained_at - float(iat)


def diagnose(
    response: httpx.Response,
    tokens: TokenSet,
    *,
    send: str,
    scheme: str | None,
    now: float,
    refreshed: bool,
) -> Diagnosis:
    """The likeliest cause of a 401/403 the API gave despite a fresh token."""
    status = response.status_code
    message = _api_message(response)
    claims = tokens.id_claims if send == "id" else tokens.access_claims
    scopes = sorted(tokens.scopes)
    custom = [s for s in scopes if s not in _STANDARD_SCOPES]
    details: dict[str, Any] = {
        "sent": f"{send} token" + (f" with scheme {scheme!r}" if scheme else " (bare)"),
        "token_use": claims.get("token_use"),
        "audience": claims.get("aud") or claims.get("client_id"),
        "issuer": claims.get("iss"),
        "scopes": scopes,
        "session_from": tokens.origin,
        "refreshed_and_retried": refreshed,
    }
    if message:
        details["api_message"] = message
    skew = clock_skew(response, now)
    if skew is not None:
        details["clock_skew_seconds"] = round(skew)

    def found(cause: str, fix: str) -> Diagnosis:
        return Diagnosis(status, cause, fix, details)

    lowered = message.lower()
    if "key=value" in lowered or ("credential" in lowered and "authorization header" in lowered):
        return found(
            "the method uses IAM (SigV4) authorization, not a Cognito user pool authorizer",
            "set the method's authorization to the Cognito authorizer, or sign requests "
            "with AWS credentials instead",
        )
    if "missing authentication token" in lowered:
        return found(
            "API Gateway has no such path or method in this stage (it says 'Missing "
            "Authentication Token' for those)",
            "check the URL, the stage name and the HTTP method",
        )
    if status == 403 and "not authorized to access this resource" in lowered:
        return found(
            "a Lambda authorizer or resource policy denied the request (the token itself "
            "was accepted)",
            "check the authorizer's policy or the API's resource policy for this user",
        )
    drift = issuer_drift(tokens, claims)
    if drift is not None:
        details["issuer_clock_drift_seconds"] = round(drift)
    if skew is not None and abs(skew) > _SKEW_WORTH_MENTIONING:
        minutes = abs(skew) / 60
        if drift is None or abs(drift) <= _ISSUER_DRIFT_OK:
            # This machine agrees with the token's issuer (its iat), or cannot
            # tell: the API's clock is the odd one out, and it judges exp by it.
            direction = "behind" if skew > 0 else "ahead of"
            return found(
                f"the API's clock is {minutes:.0f} minutes {direction} this machine's"
                + (" and the token issuer's" if drift is not None else "")
                + ", so it sees fresh tokens as "
                + ("not yet valid" if skew > 0 else "expired"),
                "set the clock of the server that checks the token right (NTP): API "
                "Gateway keeps AWS's time, so that is a Lambda authorizer or a backend "
                "of your own"
                + ("" if drift is not None else ", or this machine's if it is the one off"),
            )
        # This machine's clock is off against both the issuer and the API, but
        # keybearer times refreshes by its own clock, so that alone does not
        # explain a 401: keep looking; the skew stays in the details.
    challenge = response.headers.get("www-authenticate", "")
    if "audience" in challenge.lower():
        return found(
            "the API's JWT authorizer does not list this app client as an audience",
            f"add the app client id ({details['audience']}) to the authorizer's audience",
        )
    if send == "access" and not custom:
        origin = (
            "password sign-ins (USER_PASSWORD_AUTH) only carry aws.cognito.signin.user.admin"
            if tokens.origin in ("password", "rotating")
            else "it was not asked for at sign-in"
        )
        return found(
            "the access token has no custom OAuth scope: a method without OAuth scopes "
            f"wants the ID token, and a method with scopes wants one of them ({origin})",
            "for a method without OAuth scopes send the ID token (send='id'); for one with "
            "scopes, sign in with login_browser and scopes=['<resource server>/<scope>']",
        )
    if send == "access":
        return found(
            f"the method probably requires an OAuth scope this token lacks (it has: "
            f"{', '.join(custom)})",
            "ask for the method's scope at sign-in (scopes=[...]) or add one of these "
            "scopes to the method; if the method has no OAuth scopes, send='id'",
        )
    if send == "id" and tokens.id_token is not None:
        return found(
            "the API refused a fresh ID token: the method probably has OAuth scopes (then "
            "it wants an access token carrying one), or its authorizer uses another user "
            f"pool or app client (this token: iss {details['issuer']}, aud "
            f"{details['audience']})",
            "if the method has OAuth scopes, sign in with them and send='access'; "
            "otherwise point the authorizer at this user pool"
            + ("; some authorizers want the bare token (scheme=None)" if scheme else ""),
        )
    return found(
        "the API refused the token for a reason keybearer cannot see",
        "check the API's authorizer settings against this token's issuer and audience",
    )
