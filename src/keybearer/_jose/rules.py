"""keybearer's own token rules: the header, issuer, times, nonce and scopes.

joserfc checks signatures; these checks decide what a signed token may say,
and each refusal is a typed :class:`~keybearer.errors.TokenInvalidError` that
names the claim, what was expected and what the token had (never the token,
never a nonce). Nothing here imports joserfc or cryptography.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from hmac import compare_digest
from typing import Any, NoReturn

from keybearer._jose.unverified import decode_json_object, show
from keybearer.errors import (
    MalformedTokenError,
    MissingScopeError,
    NonceMismatchError,
    TokenExpiredError,
    TokenInvalidError,
    TokenNotYetValidError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    WrongIssuerError,
    WrongTokenUseError,
)

_BIG = 1e300  # larger "times" are refused; also rules out NaN and infinities
_NOT_BEFORE_CLAIMS = ("nbf", "iat")


def when(seconds: float) -> str:
    """A time for a message: ISO 8601 in UTC, or the raw number if it is none."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return repr(seconds)


def got(claims: Mapping[str, Any], name: str) -> str:
    """A claim's value for a message, cut short, or ``no such claim``."""
    return show(claims[name]) if name in claims else "no such claim"


def expected_text(algorithms: tuple[str, ...]) -> str:
    return repr(algorithms[0]) if len(algorithms) == 1 else f"one of {list(algorithms)!r}"


def read_header(segment: str, algorithms: tuple[str, ...]) -> tuple[str, str]:
    """Check a JWS protected header against the allow-list; return its ``kid`` and ``alg``."""
    header = decode_json_object(segment, "header")
    alg = header.get("alg")
    if alg not in algorithms:  # also None, "none", "HS256", any non-string
        raise UnsupportedAlgorithmError(
            f"unsupported alg: expected {expected_text(algorithms)}, got {show(alg)}; tokens "
            "are only accepted when signed with one of the issuer's keys",
            claim="alg",
            expected=algorithms[0] if len(algorithms) == 1 else algorithms,
            actual=alg,
        )
    if "crit" in header:
        # RFC 7515 §4.1.11: extensions we do not implement must make the token fail.
        raise MalformedTokenError(
            f"the JWT header marks extensions as critical ({show(header['crit'])}); "
            "none are supported",
            claim="crit",
            expected="absent",
            actual=header["crit"],
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise UnknownKeyError(
            f"the JWT header has no usable kid: expected a key id from the issuer's JWKS, "
            f"got {show(kid)}",
            claim="kid",
            expected="a key id from the issuer's JWKS",
            actual=kid,
        )
    return kid, alg


def _must_equal(
    claims: Mapping[str, Any],
    name: str,
    expected: str,
    error: type[TokenInvalidError],
    wrong: str,
) -> None:
    """Raise ``error`` unless claim ``name`` is ``expected``; ``wrong`` opens the message."""
    if claims.get(name) != expected:
        raise error(
            f"{wrong} expected {expected!r}, got {got(claims, name)}",
            claim=name,
            expected=expected,
            actual=claims.get(name),
        )


def _bad_time(claims: Mapping[str, Any], name: str) -> NoReturn:
    raise MalformedTokenError(
        f"malformed claim: {name} expected a number of seconds since 1970, got {got(claims, name)}",
        claim=name,
        expected="a number of seconds since 1970",
        actual=claims.get(name),
    )


def check_issuer_and_times(
    claims: Mapping[str, Any], issuer: str, now: float, leeway: float
) -> float:
    """``iss``, then ``exp`` (required), ``nbf`` and ``iat`` with the leeway; returns ``exp``."""
    _must_equal(claims, "iss", issuer, WrongIssuerError, "wrong issuer: iss")
    exp = claims.get("exp")
    # A bool is an int subclass but no time; NaN fails every comparison. A token
    # without exp never expires: refused.
    if (type(exp) is not int and type(exp) is not float) or not -_BIG < exp < _BIG:
        _bad_time(claims, "exp")
    if now >= exp + leeway:
        raise TokenExpiredError(
            f"token expired: exp expected after {when(now - leeway)}, got {when(exp)} "
            f"({now - exp:.0f} s ago; leeway {leeway:g} s)",
            claim="exp",
            expected=now - leeway,
            actual=exp,
        )
    latest = now + leeway
    for name in _NOT_BEFORE_CLAIMS:
        value = claims.get(name)
        if value is not None:
            if (type(value) is not int and type(value) is not float) or not (-_BIG < value < _BIG):
                _bad_time(claims, name)
            if value > latest:
                raise TokenNotYetValidError(
                    f"token not yet valid: {name} expected at most {when(latest)}, got "
                    f"{when(value)} ({value - now:.0f} s ahead; leeway {leeway:g} s)",
                    claim=name,
                    expected=latest,
                    actual=value,
                )
    return float(exp)


def check_token_use(claims: Mapping[str, Any], token_use: str) -> None:
    """The token's ``token_use`` claim is ``token_use`` (Cognito's ``"id"`` or ``"access"``)."""
    _must_equal(claims, "token_use", token_use, WrongTokenUseError, "wrong token_use:")


def check_nonce(claims: Mapping[str, Any], nonce: str) -> None:
    """The token's ``nonce`` equals the login's, compared in constant time, never shown."""
    value = claims.get("nonce")
    # surrogatepass: a JSON string may hold a lone surrogate (\ud800), which plain
    # UTF-8 refuses to encode; it must fail the comparison, not the verifier.
    if isinstance(value, str) and compare_digest(
        value.encode("utf-8", "surrogatepass"), nonce.encode("utf-8", "surrogatepass")
    ):
        return
    actual = "no such claim" if value is None else "a different nonce"
    raise NonceMismatchError(
        f"nonce mismatch: expected the nonce sent with the login request, got {actual}",
        claim="nonce",
        expected="the nonce sent with the login request",
        actual=actual,
    )


def granted_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """``scope`` split on spaces, else an ``scp`` list or string (Okta, Entra ID, RFC 9068)."""
    scope = claims.get("scope")
    if scope is None:
        scope = claims.get("scp")
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, list):
        return frozenset(item for item in scope if isinstance(item, str))
    return frozenset()


def check_scopes(claims: Mapping[str, Any], required: tuple[str, ...]) -> None:
    """Every scope in ``required`` is granted."""
    granted = granted_scopes(claims)
    missing = [scope for scope in required if scope not in granted]
    if missing:
        raise missing_scope(f"to include {show(missing, 300)}", required, granted)


def missing_scope(
    wanted: str, expected: tuple[str, ...], granted: frozenset[str]
) -> MissingScopeError:
    """The refusal of a token without the scopes asked for; ``wanted`` says which ones."""
    return MissingScopeError(
        f"missing scope: scope expected {wanted}, got {show(sorted(granted), 300)}",
        claim="scope",
        expected=expected,
        actual=tuple(sorted(granted)),
    )
