"""Verify Cognito (or any OIDC provider's) JWTs in your own API or backend.

::

    from keybearer.verify import CognitoVerifier

    verifier = CognitoVerifier(user_pool_id="us-east-1_AbCdEf123",
                               client_ids=["1example23456789"])
    claims = verifier.verify(token)                       # ID or access token
    claims = verifier.verify(token, token_use="access",
                             required_scopes=["https://api.example.com/pets.read"])
    decision = verifier.authorize(token, method_scopes=[...])   # API Gateway's rules

Signatures are checked by joserfc against the issuer's JWKS, with an explicit
allow-list of algorithms per verifier: RS256 only for Cognito, RS256 and ES256
by default for other issuers. The JWKS is downloaded on first use, kept for
``jwks_ttl`` seconds, and downloaded again for an unknown ``kid`` at most once
per ``refetch_interval``. A token that verified is remembered (keyed by the
exact string, at most ``cache_size`` of them, never past its ``exp``), so a
repeat of it skips the signature. Every refusal is a
:class:`~keybearer.errors.TokenInvalidError` subclass naming the claim, what was
expected and what the token had; a JWKS that cannot be downloaded is a
:class:`~keybearer.errors.TransientError` (or
:class:`~keybearer.errors.ProtocolError` when it is not a key set). Nothing
else escapes, whatever string is passed in. joserfc, ``cryptography`` and
``httpx`` are imported when first needed, not by ``import keybearer.verify``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from keybearer._jose.rules import got, missing_scope
from keybearer._jose.unverified import show
from keybearer._jose.verifier import Claims, JwtVerifier, scopes_argument, strings
from keybearer.errors import (
    ConfigurationError,
    TokenInvalidError,
    WrongAudienceError,
    WrongTokenUseError,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["Authorization", "Claims", "CognitoVerifier", "JwtVerifier"]

#: Cognito user pools sign with RS256 and nothing else.
COGNITO_ALGORITHMS = ("RS256",)


class Authorization:
    """What :meth:`CognitoVerifier.authorize` decided: the caller is let in.

    ``rule`` says which API Gateway rule let the token in, e.g. ``"no method
    scopes: ID token accepted"`` or ``"method scopes: access token carries
    'https://api.example.com/pets.read'"``; ``scope`` is that scope (or ``None``).
    """

    __slots__ = ("claims", "rule", "scope")

    def __init__(self, claims: Claims, rule: str, scope: str | None = None) -> None:
        self.claims = claims
        self.rule = rule
        self.scope = scope

    def __repr__(self) -> str:
        return f"Authorization(rule={self.rule!r}, username={self.claims.username!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Authorization):
            return NotImplemented
        return (self.claims, self.rule, self.scope) == (other.claims, other.rule, other.scope)

    __hash__ = None  # type: ignore[assignment]  # holds a dict


_TOKEN_USES = ("id", "access")
_NO_SCOPES_RULE = "no method scopes: ID token accepted"


def _region_of(user_pool_id: object) -> str:
    # A region ("us-east-1", "us-gov-west-1") and an id part: keybearer._config's
    # rule, repeated so that this module does not import pydantic.
    import re

    if isinstance(user_pool_id, str):
        match = re.fullmatch(r"([a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+", user_pool_id)
        if match:
            return match[1]
    raise ConfigurationError(
        "user_pool_id must look like '<region>_<id>', e.g. 'us-east-1_AbCdEf123'; "
        f"got {show(user_pool_id)}"
    )


def _bare_token(value: str) -> str:
    """API Gateway takes the bare JWT or ``Bearer <jwt>`` in the header; so do we."""
    if type(value) is not str:
        return value
    value = value.strip()
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return value


class CognitoVerifier(JwtVerifier):
    """Verify ID and access tokens of a Cognito user pool, as your API's backend would.

    On top of :class:`JwtVerifier`'s checks: ``alg`` must be RS256 (Cognito's
    only algorithm); ``token_use`` must be ``id`` or
    ``access``; an ID token's ``aud``, or an access token's ``client_id``, must be
    one of ``client_ids`` (pass every app client whose tokens you accept).

    ``issuer`` defaults to ``https://cognito-idp.<region>.amazonaws.com/<pool id>``
    and ``jwks_url`` to ``<issuer>/.well-known/jwks.json``; override them for a
    stand-in in tests (``iss`` still has to match ``issuer``). The other options
    are :class:`JwtVerifier`'s.
    """

    def __init__(
        self,
        user_pool_id: str,
        client_ids: Iterable[str] | str,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        leeway: float = 5.0,
        jwks_ttl: float = 3600.0,
        refetch_interval: float = 10.0,
        timeout: float = 10.0,
        cache_size: int = 1024,
        http: httpx.Client | None = None,
        async_http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        region = _region_of(user_pool_id)
        issuer = issuer or f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        super().__init__(
            issuer,
            jwks_url or f"{issuer}/.well-known/jwks.json",
            audiences=strings(client_ids, "client_ids"),
            algorithms=COGNITO_ALGORITHMS,
            leeway=leeway,
            jwks_ttl=jwks_ttl,
            refetch_interval=refetch_interval,
            timeout=timeout,
            cache_size=cache_size,
            http=http,
            async_http=async_http,
            clock=clock,
        )
        self.user_pool_id = user_pool_id
        self.client_ids = self.audiences

    def __repr__(self) -> str:
        return (
            f"CognitoVerifier(user_pool_id={self.user_pool_id!r}, "
            f"client_ids={sorted(self.client_ids)!r}, issuer={self.issuer!r})"
        )

    def authorize(self, token: str, method_scopes: Iterable[str] | str = ()) -> Authorization:
        """Decide like API Gateway's ``COGNITO_USER_POOLS`` authorizer for one method.

        ``token`` is the ``Authorization`` header's value: the bare JWT or
        ``Bearer <jwt>``. A method without OAuth scopes accepts a valid **ID
        token** (an access token is refused); a method with scopes wants an
        **access token** carrying at least one of them (an ID token is refused).
        Unlike API Gateway, the app client must also be one of ``client_ids``.
        """
        scopes = scopes_argument(method_scopes, "method_scopes")
        try:
            claims = self.verify(_bare_token(token), token_use="access" if scopes else "id")
        except WrongTokenUseError as exc:
            raise _explained(exc, scopes) from None
        return _decide(claims, scopes)

    async def aauthorize(
        self, token: str, method_scopes: Iterable[str] | str = ()
    ) -> Authorization:
        """:meth:`authorize` for asyncio."""
        scopes = scopes_argument(method_scopes, "method_scopes")
        try:
            claims = await self.averify(_bare_token(token), token_use="access" if scopes else "id")
        except WrongTokenUseError as exc:
            raise _explained(exc, scopes) from None
        return _decide(claims, scopes)

    def _check_token_use_argument(self, token_use: str) -> None:
        if token_use not in _TOKEN_USES:
            raise ConfigurationError(
                f"token_use must be 'id', 'access' or None, got {show(token_use)}"
            )

    def _check_kind(self, claims: Claims, token_use: str | None) -> None:
        use = claims.get("token_use")
        if use not in _TOKEN_USES or (token_use is not None and use != token_use):
            wanted = repr(token_use) if token_use else "'id' or 'access'"
            raise WrongTokenUseError(
                f"wrong token_use: expected {wanted}, got {got(claims, 'token_use')}",
                claim="token_use",
                expected=token_use or _TOKEN_USES,
                actual=use,
            )
        # Cognito puts the app client in aud (ID tokens) or client_id (access tokens).
        name = "aud" if use == "id" else "client_id"
        value = claims.get(name)
        if isinstance(value, str) and value in self.audiences:
            return
        raise WrongAudienceError(
            f"wrong app client: {name} expected one of {self._allowed_text}, "
            f"got {got(claims, name)}",
            claim=name,
            expected=tuple(sorted(self.audiences)),
            actual=value,
        )


def _explained(exc: WrongTokenUseError, scopes: tuple[str, ...]) -> TokenInvalidError:
    why = (
        "a method with OAuth scopes accepts only access tokens"
        if scopes
        else "a method without OAuth scopes accepts only ID tokens"
    )
    return WrongTokenUseError(
        f"{exc.message} ({why})", claim=exc.claim, expected=exc.expected, actual=exc.actual
    )


def _decide(claims: Claims, scopes: tuple[str, ...]) -> Authorization:
    if not scopes:
        return Authorization(claims, _NO_SCOPES_RULE)
    granted = claims.scopes
    for scope in scopes:
        if scope in granted:
            return Authorization(claims, f"method scopes: access token carries {scope!r}", scope)
    raise missing_scope(f"one of the method's {show(list(scopes), 300)}", scopes, granted)
