"""Check the tokens a sign-in or a refresh brings, before anything is stored.

One checker serves browser sign-in, unsolicited implicit redirects and every
refresh. What to check is decided once, in :func:`receipt_plan` and
:func:`refresh_plan`, as a list of :class:`Check`; the sync and async faces
only fetch each token's verified header and claims (signature, issuer and
times, by :class:`~keybearer._jose.verifier.JwtVerifier`, which may download
the JWKS) and hand them to the check. The ID-token claims (``iss``, ``aud``,
``azp``, ``exp``, ``iat``, ``nonce``, ``at_hash``) are validated by authlib's
OIDC claim classes; their errors become keybearer's typed errors.

This module imports authlib and joserfc at the top: the session loads it on
the first check, never on the path that only sends a fresh cached token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]  # no types shipped
from joserfc.errors import ClaimError, ExpiredTokenError, MissingClaimError

from keybearer._jose.rules import check_nonce, check_token_use, got
from keybearer._jose.unverified import show, unverified_claims
from keybearer._jose.verifier import JwtVerifier
from keybearer.errors import (
    MalformedTokenError,
    NonceMismatchError,
    StateMismatchError,
    TokenExpiredError,
    TokenInvalidError,
    TokenNotYetValidError,
    WrongAudienceError,
    WrongIssuerError,
)

#: Clock slack for the provider's timestamps, as for the sign-in checks before.
LEEWAY = 60.0

#: What a refreshed ID token must share with the one it replaces (OIDC Core 12.2).
SAME_SESSION_CLAIMS = ("iss", "sub", "aud")

Apply = Callable[[Mapping[str, Any], Mapping[str, Any], float], None]


@dataclass(frozen=True)
class Check:
    """One token to verify, and what its verified header and claims must satisfy."""

    token: str = field(repr=False)  # a bearer token: never in a repr
    apply: Apply = field(repr=False)
    what: str = "ID token"


@dataclass(frozen=True)
class Rules:
    """The app client's side of the checks: who it is, which issuer's tokens it takes."""

    client_id: str
    issuer: str
    cognito: bool
    clocks: tuple[Callable[[], float], ...]
    """What "now" is: the session's clock, then the system clock if they differ (a
    test's frozen clock, which a stand-in provider may or may not follow)."""


# -- what to check -------------------------------------------------------------------


def receipt_plan(
    rules: Rules,
    *,
    id_token: str | None,
    access_token: str,
    nonce: str | None,
    implicit: bool,
) -> list[Check]:
    """The checks for the tokens of a sign-in redirect (or a code exchange).

    ``nonce`` is the one sent with the sign-in request, or ``None`` for an
    unsolicited implicit redirect (one this client did not start).

    With an ID token: its claims per OIDC Core 3.1.3.7 (3.2.2.11 for implicit),
    the nonce when one was sent, ``at_hash`` binding ``access_token`` when
    present, and ``token_use=id`` for Cognito. Cognito's access tokens are JWTs:
    an implicit one is checked (``token_use=access``, ``client_id``, the same
    ``sub``) when there is no ID token, and always for an unsolicited redirect.
    An unsolicited redirect with nothing to verify is refused.
    """
    unsolicited = nonce is None
    if unsolicited and id_token is None and not (implicit and rules.cognito):
        raise StateMismatchError(
            "an unsolicited redirect is accepted only with an ID token to verify (or, "
            "for Cognito, its access token); this one has neither"
        )
    plan: list[Check] = []
    if id_token is not None:

        def id_rules(header: Mapping[str, Any], claims: Mapping[str, Any], now: float) -> None:
            check_id_claims(rules, header, claims, now, nonce=nonce, access_token=access_token)

        plan.append(Check(id_token, id_rules))
    if implicit and rules.cognito and (id_token is None or unsolicited):
        subject = unverified_claims(id_token).get("sub") if id_token is not None else None

        def access_rules(header: Mapping[str, Any], claims: Mapping[str, Any], now: float) -> None:
            check_cognito_access_claims(rules, claims)
            if subject is not None:
                check_same(claims, {"sub": subject}, ("sub",), "access token")

        plan.append(Check(access_token, access_rules, "access token"))
    return plan


def refresh_plan(
    rules: Rules,
    *,
    before_id: str | None,
    before_access: str,
    after_id: str | None,
    after_access: str,
    api_path: bool,
) -> list[Check]:
    """The checks for the tokens a refresh returned (OIDC Core 12.2).

    A new ID token passes the sign-in checks (without a nonce: none was sent)
    and its ``iss``, ``sub`` and ``aud`` equal the stored one's. On Cognito's
    API path (``api_path``) the new access token must verify too, for this app
    client, with the same ``sub``. An ID token carried over unchanged from the
    stored tokens is not checked again.
    """
    plan: list[Check] = []
    before_claims = unverified_claims(before_id) if before_id is not None else {}
    if not before_claims:
        before_claims = {"sub": unverified_claims(before_access).get("sub")}
        before_claims = {k: v for k, v in before_claims.items() if v is not None}
    if after_id is not None and after_id != before_id:

        def id_rules(header: Mapping[str, Any], claims: Mapping[str, Any], now: float) -> None:
            check_id_claims(rules, header, claims, now, nonce=None, access_token=after_access)
            check_same(claims, before_claims, SAME_SESSION_CLAIMS, "refreshed ID token")

        plan.append(Check(after_id, id_rules))
    if api_path and rules.cognito and after_access != before_access:

        def access_rules(header: Mapping[str, Any], claims: Mapping[str, Any], now: float) -> None:
            check_cognito_access_claims(rules, claims)
            check_same(claims, before_claims, ("sub",), "refreshed access token")

        plan.append(Check(after_access, access_rules, "access token"))
    return plan


# -- running a plan ------------------------------------------------------------------


def run(verifier: JwtVerifier, rules: Rules, plan: list[Check]) -> None:
    """Verify each token of ``plan`` (sync; may download the JWKS), then apply its rules."""
    for check in plan:
        header, claims, now = verifier.signed_claims(check.token, rules.clocks)
        check.apply(header, claims, now)


async def arun(verifier: JwtVerifier, rules: Rules, plan: list[Check]) -> None:
    """:func:`run` for asyncio."""
    for check in plan:
        header, claims, now = await verifier.asigned_claims(check.token, rules.clocks)
        check.apply(header, claims, now)


# -- the rules -------------------------------------------------------------------------


def check_id_claims(
    rules: Rules,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    now: float,
    *,
    nonce: str | None,
    access_token: str | None,
) -> None:
    """An ID token's claims, by authlib's OIDC classes plus Cognito's ``token_use``."""
    if nonce is not None:
        check_nonce(claims, nonce)  # constant time, and the error never shows it
    if rules.cognito:
        check_token_use(claims, "id")
    # ImplicitIDToken would require at_hash whenever an access token came along;
    # the rule here is "at_hash, when present, binds the access token" for every
    # flow, which is CodeIDToken's (the nonce is checked above when one was sent).
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": rules.issuer},
        "aud": {"essential": True, "value": rules.client_id},
    }
    params: dict[str, Any] = {"client_id": rules.client_id}
    if nonce is not None:
        params["nonce"] = nonce
    if access_token is not None:
        params["access_token"] = access_token
    id_claims = CodeIDToken(dict(claims), dict(header), options, params)
    failure: ClaimError | None = None
    try:
        id_claims.validate(now=now, leeway=LEEWAY)
    except ClaimError as exc:
        failure = exc
    if failure is not None:
        # Raised here, outside the except block: the typed error carries no
        # context (authlib's exception holds the claims and the access token).
        raise _translated(failure, claims, rules)


def check_cognito_access_claims(rules: Rules, claims: Mapping[str, Any]) -> None:
    """A Cognito access token: ``token_use=access`` and this app client's ``client_id``."""
    check_token_use(claims, "access")
    if claims.get("client_id") != rules.client_id:
        raise WrongAudienceError(
            f"wrong app client: client_id expected {rules.client_id!r}, "
            f"got {got(claims, 'client_id')}",
            claim="client_id",
            expected=rules.client_id,
            actual=claims.get("client_id"),
        )


def check_same(
    claims: Mapping[str, Any], before: Mapping[str, Any], names: tuple[str, ...], what: str
) -> None:
    """Each of ``names`` that the stored token has is the same in the new one."""
    for name in names:
        if name in before and claims.get(name) != before[name]:
            error = {"iss": WrongIssuerError, "aud": WrongAudienceError}.get(
                name, TokenInvalidError
            )
            raise error(
                f"the {what} is for another session: {name} expected {show(before[name])} "
                f"(as in the stored tokens), got {got(claims, name)}",
                claim=name,
                expected=before[name],
                actual=claims.get(name),
            )


_ERRORS: dict[str, type[TokenInvalidError]] = {
    "iss": WrongIssuerError,
    "aud": WrongAudienceError,
    "azp": WrongAudienceError,
    "nonce": NonceMismatchError,
    "iat": TokenNotYetValidError,
    "nbf": TokenNotYetValidError,
}


def _translated(exc: ClaimError, claims: Mapping[str, Any], rules: Rules) -> TokenInvalidError:
    """authlib's (joserfc's) claim error as keybearer's, naming no secret."""
    name = exc.claim
    if isinstance(exc, ExpiredTokenError):
        return TokenExpiredError(
            f"token expired: the ID token's exp {got(claims, 'exp')} has passed "
            f"(leeway {LEEWAY:g} s)",
            claim="exp",
            expected="a time in the future",
            actual=claims.get("exp"),
        )
    if name == "at_hash":
        missing = isinstance(exc, MissingClaimError)
        return TokenInvalidError(
            "the ID token does not bind the access token it came with: at_hash "
            + ("is missing" if missing else "does not match the access token"),
            claim="at_hash",
            expected="the access token's half SHA-256, base64url",
            actual="no such claim" if missing else "a different hash",
        )
    if name == "nonce":  # neither nonce is ever shown
        return NonceMismatchError(
            "nonce mismatch: expected the nonce sent with the login request, got "
            + ("no such claim" if isinstance(exc, MissingClaimError) else "a different nonce"),
            claim="nonce",
            expected="the nonce sent with the login request",
            actual="no such claim" if "nonce" not in claims else "a different nonce",
        )
    expected: object = {"iss": rules.issuer, "aud": rules.client_id, "azp": rules.client_id}.get(
        name, "a valid value"
    )
    error = _ERRORS.get(name, MalformedTokenError)
    state = "is missing" if isinstance(exc, MissingClaimError) else "is not valid"
    return error(
        f"the ID token's {name} {state}: expected {show(expected)}, got {got(claims, name)}",
        claim=name,
        expected=expected,
        actual=claims.get(name),
    )
