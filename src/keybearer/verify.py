"""Verify Cognito (or any OIDC provider's) JWTs in your own API or backend.

::

    from keybearer.verify import CognitoVerifier

    verifier = CognitoVerifier(user_pool_id="us-east-1_AbCdEf123",
                               client_ids=["1example23456789"])
    claims = verifier.verify(token)                       # ID or access token
    claims = verifier.verify(token, token_use="access",
                             required_scopes=["https://api.example.com/pets.read"])
    decision = verifier.authorize(token, method_scopes=[...])   # API Gateway's rules

Only RS256 signatures by a key in the issuer's JWKS are accepted. The JWKS is
downloaded on first use, kept for ``jwks_ttl`` seconds, and downloaded again
for an unknown ``kid`` at most once per ``refetch_interval``. Every refusal is a
:class:`~keybearer.errors.TokenInvalidError` subclass naming the claim, what was
expected and what the token had; a JWKS that cannot be downloaded is a
:class:`~keybearer.errors.TransientError` (or
:class:`~keybearer.errors.ProtocolError` when it is not a key set). Nothing
else escapes, whatever string is passed in. ``cryptography`` and ``httpx`` are
imported when first needed, not by ``import keybearer.verify``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from keybearer._jose.jwks import JwksCache
from keybearer._jose.jws import (
    MAX_TOKEN_LENGTH,
    b64url_decode,
    decode_json_object,
    header_kid,
    json_segment,
    show,
)
from keybearer.errors import (
    BadSignatureError,
    ConfigurationError,
    MalformedTokenError,
    MissingScopeError,
    NonceMismatchError,
    TokenExpiredError,
    TokenInvalidError,
    TokenNotYetValidError,
    WrongAudienceError,
    WrongIssuerError,
    WrongTokenUseError,
)

if TYPE_CHECKING:
    import httpx

    from keybearer._jose.jws import RsaKey

__all__ = ["Authorization", "Claims", "CognitoVerifier", "JwtVerifier"]

#: Header segments whose signature once verified are remembered (up to this
#: many) with their kid, so a known header is not decoded again. Only headers
#: of genuine tokens get in: an attacker cannot fill the table.
_MAX_KNOWN_HEADERS = 16
_BIG = 1e300  # larger "times" are refused; also rules out NaN and infinities
_NOT_BEFORE_CLAIMS = ("nbf", "iat")


class Claims(dict[str, Any]):
    """The claims of a verified token: a plain ``dict``, with a few helpers."""

    __slots__ = ()

    @property
    def token_use(self) -> str | None:
        """``"id"`` or ``"access"`` for Cognito tokens (``token_use``)."""
        value = self.get("token_use")
        return value if isinstance(value, str) else None

    @property
    def scopes(self) -> frozenset[str]:
        """The granted scopes: ``scope`` split on spaces (or an ``scp`` list or string)."""
        return _granted_scopes(self)

    @property
    def username(self) -> str | None:
        """The Cognito user name: ``cognito:username`` (ID token) or ``username`` (access)."""
        return self._first_string("cognito:username", "username")

    def _first_string(self, *names: str) -> str | None:
        for name in names:
            value = self.get(name)
            if isinstance(value, str):
                return value
        return None

    @property
    def subject(self) -> str | None:
        """``sub``: the user's stable id (in Cognito a UUID, not the user name)."""
        value = self.get("sub")
        return value if isinstance(value, str) else None

    @property
    def client_id(self) -> str | None:
        """The app client the token was issued to: ``client_id``, else a string ``aud``."""
        return self._first_string("client_id", "aud")

    @property
    def groups(self) -> tuple[str, ...]:
        """``cognito:groups``, the user's groups in the pool (empty if none)."""
        value = self.get("cognito:groups")
        if isinstance(value, list):
            return tuple(group for group in value if isinstance(group, str))
        return ()


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


def _when(seconds: float) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return repr(seconds)


def _got(claims: Mapping[str, Any], name: str) -> str:
    return show(claims[name]) if name in claims else "no such claim"


def _granted_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if scope is None:
        scope = claims.get("scp")  # Okta, Entra ID and RFC 9068-style tokens
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, list):
        return frozenset(item for item in scope if isinstance(item, str))
    return frozenset()


def _strings(values: Iterable[str] | str, what: str) -> tuple[str, ...]:
    """A tuple of non-empty strings; one string counts as one value."""
    if isinstance(values, str):
        values = [values]
    try:
        result = tuple(values)
    except TypeError:
        raise ConfigurationError(f"{what} must be a list of strings") from None
    if not all(isinstance(value, str) and value for value in result):
        raise ConfigurationError(f"{what} must be non-empty strings, got {show(result, 200)}")
    return result


def _scopes_argument(scopes: Iterable[str] | str | None, what: str) -> tuple[str, ...]:
    if scopes is None:
        return ()
    if isinstance(scopes, str):  # "a b" means two scopes, as in the scope claim
        return tuple(scopes.split())
    return _strings(scopes, what)


def _bad_time(claims: Mapping[str, Any], name: str) -> NoReturn:
    raise MalformedTokenError(
        f"malformed claim: {name} expected a number of seconds since 1970, "
        f"got {_got(claims, name)}",
        claim=name,
        expected="a number of seconds since 1970",
        actual=claims.get(name),
    )


def _check_number(name: str, value: float, minimum: float, maximum: float) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not minimum <= value <= maximum:
        raise ConfigurationError(f"{name} must be between {minimum} and {maximum}, got {value!r}")


class JwtVerifier:
    """Verify RS256 JWTs from any OpenID Connect issuer against its JWKS.

    Checks, in this order: the token's shape and size; ``alg`` is RS256; the
    ``kid`` is in the JWKS at ``jwks_url``; the signature; ``iss`` equals
    ``issuer``; ``exp`` (required), ``nbf`` and ``iat`` against ``clock()``
    with ``leeway`` seconds of slack; then the token's kind and audience (here:
    ``aud`` is, or lists, one of ``audiences``; a token without ``aud`` needs a
    ``client_id`` in ``audiences``, as API Gateway's JWT authorizer does); then
    ``nonce`` and the required scopes, when asked for.

    ``jwks_ttl``: seconds a downloaded JWKS is trusted before it is downloaded
    again (if that fails, the old copy stays in use). ``refetch_interval``: the
    least number of seconds between two downloads, whatever the reason (an
    unknown ``kid``, a failed download). ``timeout``: seconds per download when
    no ``http`` / ``async_http`` client is given (a given client's own timeout
    applies). ``clock``: seconds since 1970; replace it in tests.
    """

    def __init__(
        self,
        issuer: str,
        jwks_url: str,
        *,
        audiences: Iterable[str] | str,
        leeway: float = 5.0,
        jwks_ttl: float = 3600.0,
        refetch_interval: float = 10.0,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        async_http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from keybearer._io.urls import (
            check_secure_url,  # imports httpx: only when a verifier is made
        )

        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError(f"issuer must be the issuer URL, got {show(issuer)}")
        try:
            check_secure_url(jwks_url, what="jwks_url")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self.audiences: frozenset[str] = frozenset(_strings(audiences, "audiences"))
        if not self.audiences:
            raise ConfigurationError("audiences must name at least one allowed audience")
        _check_number("leeway", leeway, 0, 86400)
        _check_number("jwks_ttl", jwks_ttl, 1, 10 * 365 * 86400)
        _check_number("refetch_interval", refetch_interval, 0, 86400)
        _check_number("timeout", timeout, 0.001, 3600)
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.leeway = float(leeway)
        self._clock = clock
        self._jwks = JwksCache(
            jwks_url,
            ttl=jwks_ttl,
            refetch_interval=refetch_interval,
            clock=clock,
            timeout=timeout,
            http=http,
            async_http=async_http,
        )
        self._known_headers: dict[str, str] = {}
        self._allowed_text = show(sorted(self.audiences), 300)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(issuer={self.issuer!r}, jwks_url={self.jwks_url!r}, "
            f"audiences={sorted(self.audiences)!r})"
        )

    # -- public faces --------------------------------------------------------------

    def verify(
        self,
        token: str,
        *,
        token_use: str | None = None,
        required_scopes: Iterable[str] | str | None = None,
        nonce: str | None = None,
    ) -> Claims:
        """Check ``token`` and return its claims, or raise a ``TokenInvalidError``.

        ``token_use``: the token must carry this ``token_use`` claim.
        ``required_scopes``: the token must carry every one of them (a string is
        split on spaces). ``nonce``: the token's ``nonce`` must equal it (pass
        the nonce sent with the login request when checking an ID token).
        May download the JWKS (see the class docstring); that is the only I/O.
        """
        if token_use is not None:
            self._check_token_use_argument(token_use)
        header, payload, signing_input, signature, kid = self._split(token)
        now = self._clock()
        key = self._jwks.cached(kid, now) or self._jwks.key(kid)
        return self._finish(
            key, header, payload, signing_input, signature, now, token_use, required_scopes, nonce
        )

    async def averify(
        self,
        token: str,
        *,
        token_use: str | None = None,
        required_scopes: Iterable[str] | str | None = None,
        nonce: str | None = None,
    ) -> Claims:
        """:meth:`verify` for asyncio: a JWKS download does not block the event loop."""
        if token_use is not None:
            self._check_token_use_argument(token_use)
        header, payload, signing_input, signature, kid = self._split(token)
        now = self._clock()
        key = self._jwks.cached(kid, now) or await self._jwks.akey(kid)
        return self._finish(
            key, header, payload, signing_input, signature, now, token_use, required_scopes, nonce
        )

    # -- the steps -------------------------------------------------------------------

    def _split(self, token: str) -> tuple[str, str, bytes, bytes, str]:
        """Header and payload segments, signing input, signature bytes and kid."""
        if type(token) is not str:
            raise MalformedTokenError(
                f"malformed token: expected a str, got {type(token).__name__}",
                claim="token",
                expected="str",
                actual=type(token).__name__,
            )
        if len(token) > MAX_TOKEN_LENGTH:
            raise MalformedTokenError(
                f"malformed token: expected at most {MAX_TOKEN_LENGTH} characters, "
                f"got {len(token)}",
                claim="token",
                expected=f"at most {MAX_TOKEN_LENGTH} characters",
                actual=f"{len(token)} characters",
            )
        parts = token.split(".")
        if len(parts) != 3:
            raise MalformedTokenError(
                f"malformed token: expected a JWT (3 dot-separated parts), got {len(parts)} "
                f"part{'s' if len(parts) != 1 else ''}",
                claim="token",
                expected="3 dot-separated parts",
                actual=f"{len(parts)} parts",
            )
        header, payload, signature_segment = parts
        kid = self._known_headers.get(header)
        if kid is None:
            kid = header_kid(header)
        try:
            signing_input = token[: len(header) + len(payload) + 1].encode("ascii")
            signature = b64url_decode(signature_segment)
        except ValueError:
            raise MalformedTokenError(
                "malformed token: the payload or signature is not base64url",
                claim="token",
                expected="base64url parts",
                actual="other characters",
            ) from None
        return header, payload, signing_input, signature, kid

    def _finish(
        self,
        key: RsaKey,
        header: str,
        payload: str,
        signing_input: bytes,
        signature: bytes,
        now: float,
        token_use: str | None,
        required_scopes: Iterable[str] | str | None,
        nonce: str | None,
    ) -> Claims:
        if not key.verify(signature, signing_input):
            raise BadSignatureError(
                f"bad signature: expected an RS256 signature by key {key.kid!r}, got one "
                "that does not match the token",
                claim="signature",
                expected=f"RS256 by key {key.kid}",
                actual="no match",
            )
        known = self._known_headers
        if header not in known and len(known) < _MAX_KNOWN_HEADERS:
            known[header] = key.kid
        decoded = json_segment(payload)
        if type(decoded) is not dict:
            decoded = decode_json_object(payload, "payload")  # raises the error that says why
        claims = Claims(decoded)
        self._check_issuer_and_times(claims, now)
        self._check_kind(claims, token_use)
        if nonce is not None:
            _check_nonce(claims, nonce)
        if required_scopes:
            _check_scopes(claims, _scopes_argument(required_scopes, "required_scopes"))
        return claims

    def _check_issuer_and_times(self, claims: Claims, now: float) -> None:
        """``iss``, then ``exp`` (required), ``nbf`` and ``iat`` with the leeway."""
        if claims.get("iss") != self.issuer:
            raise WrongIssuerError(
                f"wrong issuer: iss expected {self.issuer!r}, got {_got(claims, 'iss')}",
                claim="iss",
                expected=self.issuer,
                actual=claims.get("iss"),
            )
        leeway = self.leeway
        exp = claims.get("exp")
        # A bool is an int subclass but no time; NaN fails every comparison. A token
        # without exp never expires: refused.
        if (type(exp) is not int and type(exp) is not float) or not -_BIG < exp < _BIG:
            _bad_time(claims, "exp")
        if now >= exp + leeway:
            raise TokenExpiredError(
                f"token expired: exp expected after {_when(now - leeway)}, got {_when(exp)} "
                f"({now - exp:.0f} s ago; leeway {leeway:g} s)",
                claim="exp",
                expected=now - leeway,
                actual=exp,
            )
        latest = now + leeway
        for name in _NOT_BEFORE_CLAIMS:
            value = claims.get(name)
            if value is not None:
                if (type(value) is not int and type(value) is not float) or not (
                    -_BIG < value < _BIG
                ):
                    _bad_time(claims, name)
                if value > latest:
                    raise TokenNotYetValidError(
                        f"token not yet valid: {name} expected at most {_when(latest)}, got "
                        f"{_when(value)} ({value - now:.0f} s ahead; leeway {leeway:g} s)",
                        claim=name,
                        expected=latest,
                        actual=value,
                    )

    def _check_token_use_argument(self, token_use: str) -> None:
        """Refuse a ``token_use`` argument that no token can match (subclasses)."""
        if not isinstance(token_use, str):
            raise ConfigurationError(f"token_use must be a string or None, got {show(token_use)}")

    def _check_kind(self, claims: Claims, token_use: str | None) -> None:
        """``token_use`` when asked for, then the audience (subclasses add their rules)."""
        if token_use is not None and claims.get("token_use") != token_use:
            raise WrongTokenUseError(
                f"wrong token_use: expected {token_use!r}, got {_got(claims, 'token_use')}",
                claim="token_use",
                expected=token_use,
                actual=claims.get("token_use"),
            )
        allowed = self.audiences
        aud = claims.get("aud")
        if aud is None:
            client_id = claims.get("client_id")
            if isinstance(client_id, str) and client_id in allowed:
                return
            raise WrongAudienceError(
                f"wrong audience: aud (or, without aud, client_id) expected one of "
                f"{self._allowed_text}, got {_got(claims, 'client_id')}",
                claim="client_id",
                expected=tuple(sorted(allowed)),
                actual=client_id,
            )
        if isinstance(aud, str):
            if aud in allowed:
                return
        elif isinstance(aud, list) and any(isinstance(a, str) and a in allowed for a in aud):
            return
        raise WrongAudienceError(
            f"wrong audience: aud expected one of {self._allowed_text}, got {show(aud)}",
            claim="aud",
            expected=tuple(sorted(allowed)),
            actual=aud,
        )


def _check_nonce(claims: Claims, nonce: str) -> None:
    import hmac

    value = claims.get("nonce")
    # surrogatepass: a JSON string may hold a lone surrogate (\ud800), which plain
    # UTF-8 refuses to encode; it must fail the comparison, not the verifier.
    if isinstance(value, str) and hmac.compare_digest(
        value.encode("utf-8", "surrogatepass"), nonce.encode("utf-8", "surrogatepass")
    ):
        return
    actual = "no such claim" if value is None else "a different nonce"
    # Neither nonce is shown: it stays private to the login that sent it.
    raise NonceMismatchError(
        f"nonce mismatch: expected the nonce sent with the login request, got {actual}",
        claim="nonce",
        expected="the nonce sent with the login request",
        actual=actual,
    )


def _check_scopes(claims: Claims, required: tuple[str, ...]) -> None:
    granted = _granted_scopes(claims)
    missing = [scope for scope in required if scope not in granted]
    if missing:
        raise MissingScopeError(
            f"missing scope: scope expected to include {show(missing, 300)}, got "
            f"{show(sorted(granted), 300)}",
            claim="scope",
            expected=required,
            actual=tuple(sorted(granted)),
        )


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

    On top of :class:`JwtVerifier`'s checks: ``token_use`` must be ``id`` or
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
        http: httpx.Client | None = None,
        async_http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        region = _region_of(user_pool_id)
        issuer = issuer or f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        super().__init__(
            issuer,
            jwks_url or f"{issuer}/.well-known/jwks.json",
            audiences=_strings(client_ids, "client_ids"),
            leeway=leeway,
            jwks_ttl=jwks_ttl,
            refetch_interval=refetch_interval,
            timeout=timeout,
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
        scopes = _scopes_argument(method_scopes, "method_scopes")
        try:
            claims = self.verify(_bare_token(token), token_use="access" if scopes else "id")
        except WrongTokenUseError as exc:
            raise _explained(exc, scopes) from None
        return _decide(claims, scopes)

    async def aauthorize(
        self, token: str, method_scopes: Iterable[str] | str = ()
    ) -> Authorization:
        """:meth:`authorize` for asyncio."""
        scopes = _scopes_argument(method_scopes, "method_scopes")
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
                f"wrong token_use: expected {wanted}, got {_got(claims, 'token_use')}",
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
            f"got {_got(claims, name)}",
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
    raise MissingScopeError(
        f"missing scope: scope expected one of the method's {show(list(scopes), 300)}, got "
        f"{show(sorted(granted), 300)}",
        claim="scope",
        expected=scopes,
        actual=tuple(sorted(granted)),
    )
