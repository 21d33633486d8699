"""The generic verifier behind :mod:`keybearer.verify`: ``JwtVerifier`` and ``Claims``.

It ties the pieces together: the segment decoder (``unverified``), the header
and claim rules (``rules``), the JWKS cache (``jwks``), joserfc's signature
check (``jws``, loaded on first use) and the memory of accepted tokens
(``accepted``). ``keybearer.verify`` re-exports both names and adds Cognito's
rules on top.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from keybearer._jose.accepted import Accepted, AcceptedTokens
from keybearer._jose.jwks import JwksCache, KeySet
from keybearer._jose.rules import (
    check_issuer_and_times,
    check_nonce,
    check_scopes,
    check_token_use,
    got,
    granted_scopes,
    read_header,
)
from keybearer._jose.unverified import (
    MAX_TOKEN_LENGTH,
    decode_json_object,
    is_canonical,
    json_value,
    show,
)
from keybearer.errors import (
    BadSignatureError,
    ConfigurationError,
    MalformedTokenError,
    TokenExpiredError,
    TokenInvalidError,
    TokenNotYetValidError,
    UnsupportedAlgorithmError,
    WrongAudienceError,
)

if TYPE_CHECKING:
    import httpx

    from keybearer._jose.jwks import ARunFlow, RunFlow
    from keybearer._jose.jws import SignatureCheck

#: Header segments whose signature once verified are remembered (up to this
#: many) with their kid and alg, so a known header is not decoded again. Only
#: headers of genuine tokens get in: an attacker cannot fill the table.
_MAX_KNOWN_HEADERS = 16
#: The algorithms a verifier may be told to allow (joserfc does the work).
SUPPORTED_ALGORITHMS = ("RS256", "ES256")


class Claims(dict[str, Any]):
    """The claims of a verified token: a plain ``dict``, with a few helpers."""

    __slots__ = ()

    @property
    def token_use(self) -> str | None:
        """``"id"`` or ``"access"`` for Cognito tokens (``token_use``)."""
        return self._first_string("token_use")

    @property
    def scopes(self) -> frozenset[str]:
        """The granted scopes: ``scope`` split on spaces (or an ``scp`` list or string)."""
        return granted_scopes(self)

    @property
    def username(self) -> str | None:
        """The Cognito user name: ``cognito:username`` (ID token) or ``username`` (access)."""
        return self._first_string("cognito:username", "username")

    def _first_string(self, *names: str) -> str | None:
        """The first of these claims that is a string, else ``None``."""
        for name in names:
            value = self.get(name)
            if isinstance(value, str):
                return value
        return None

    @property
    def subject(self) -> str | None:
        """``sub``: the user's stable id (in Cognito a UUID, not the user name)."""
        return self._first_string("sub")

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


class _Split:
    """A token that passed the shape and header checks: its segments, ``kid`` and ``alg``."""

    __slots__ = ("alg", "header", "kid", "payload", "token")

    def __init__(self, token: str, header: str, payload: str, kid: str, alg: str) -> None:
        self.token = token
        self.header = header
        self.payload = payload
        self.kid = kid
        self.alg = alg


def strings(values: Iterable[str] | str, what: str) -> tuple[str, ...]:
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


def scopes_argument(scopes: Iterable[str] | str | None, what: str) -> tuple[str, ...]:
    if scopes is None:
        return ()
    if isinstance(scopes, str):  # "a b" means two scopes, as in the scope claim
        return tuple(scopes.split())
    return strings(scopes, what)


def _check_number(name: str, value: float, minimum: float, maximum: float) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not minimum <= value <= maximum:
        raise ConfigurationError(f"{name} must be between {minimum} and {maximum}, got {value!r}")


class JwtVerifier:
    """Verify JWTs from any OpenID Connect issuer against its JWKS.

    Checks, in this order: the token's shape and size, and that every segment
    is canonical base64url; ``alg`` is one of ``algorithms``; the ``kid`` is in
    the JWKS at ``jwks_url`` and its key fits ``alg``; the signature (joserfc);
    ``iss`` equals ``issuer``; ``exp`` (required), ``nbf`` and ``iat`` against
    ``clock()`` with ``leeway`` seconds of slack; then the token's kind and
    audience (here: ``aud`` is, or lists, one of ``audiences``; a token without
    ``aud`` needs a ``client_id`` in ``audiences``, as API Gateway's JWT
    authorizer does); then ``nonce`` and the required scopes, when asked for.

    ``algorithms``: the allow-list, a subset of RS256 and ES256 (both by
    default); keys in the JWKS for anything else are skipped. ``jwks_ttl``:
    seconds a downloaded JWKS is trusted before it is downloaded again (if that
    fails, the old copy stays in use). ``refetch_interval``: the least number of
    seconds between two downloads, whatever the reason (an unknown ``kid``, a
    failed download). ``timeout``: seconds per download when no ``http`` /
    ``async_http`` client is given (a given client's own timeout applies).
    ``cache_size``: how many accepted tokens are remembered (0: none); a repeat
    skips the signature check until the token's ``exp`` or until the JWKS is
    replaced. ``clock``: seconds since 1970; replace it in tests.
    """

    def __init__(
        self,
        issuer: str,
        jwks_url: str,
        *,
        audiences: Iterable[str] | str,
        algorithms: Iterable[str] | str = SUPPORTED_ALGORITHMS,
        leeway: float = 5.0,
        jwks_ttl: float = 3600.0,
        refetch_interval: float = 10.0,
        timeout: float = 10.0,
        cache_size: int = 1024,
        http: httpx.Client | None = None,
        async_http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The URL rules import httpx: loaded when a verifier is made, not on import.
        from keybearer._protocol.urls import check_secure_url

        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError(f"issuer must be the issuer URL, got {show(issuer)}")
        problem: str | None = None
        try:
            check_secure_url(jwks_url, what="jwks_url")
        except ValueError as exc:
            problem = str(exc)
        if problem is not None:
            raise ConfigurationError(problem)
        self.audiences: frozenset[str] = frozenset(strings(audiences, "audiences"))
        if not self.audiences:
            raise ConfigurationError("audiences must name at least one allowed audience")
        allowed = tuple(dict.fromkeys(strings(algorithms, "algorithms")))
        if not allowed or not set(allowed) <= set(SUPPORTED_ALGORITHMS):
            raise ConfigurationError(
                f"algorithms must be some of {list(SUPPORTED_ALGORITHMS)}, got {show(allowed)}"
            )
        _check_number("leeway", leeway, 0, 86400)
        _check_number("jwks_ttl", jwks_ttl, 1, 10 * 365 * 86400)
        _check_number("refetch_interval", refetch_interval, 0, 86400)
        _check_number("timeout", timeout, 0.001, 3600)
        _check_number("cache_size", cache_size, 0, 1_000_000)
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.algorithms: tuple[str, ...] = allowed
        self.leeway = float(leeway)
        self._clock = clock
        self._jwks = JwksCache(
            jwks_url,
            algorithms=allowed,
            ttl=jwks_ttl,
            refetch_interval=refetch_interval,
            clock=clock,
            timeout=timeout,
            http=http,
            async_http=async_http,
        )
        self._signature: SignatureCheck | None = None
        self._known_headers: dict[str, tuple[str, str]] = {}
        self._accepted = AcceptedTokens(int(cache_size))
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
        The claims are a fresh dict per call; nested values (lists) may be
        shared with other calls for the same token and must not be modified.
        """
        if token_use is not None:
            self._check_token_use_argument(token_use)
        now = self._clock()
        claims = self._remembered(token, now)
        if claims is None:
            split = self._split(token)
            keys = self._jwks.cached(split.kid, now) or self._jwks.key(split.kid, split.alg)
            claims = self._accept(split, keys, now)
        return self._finish(claims, token_use, required_scopes, nonce)

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
        now = self._clock()
        claims = self._remembered(token, now)
        if claims is None:
            split = self._split(token)
            keys = self._jwks.cached(split.kid, now) or await self._jwks.akey(split.kid, split.alg)
            claims = self._accept(split, keys, now)
        return self._finish(claims, token_use, required_scopes, nonce)

    def signed_claims(
        self, token: str, clocks: Sequence[Callable[[], float]] = ()
    ) -> tuple[dict[str, Any], dict[str, Any], float]:
        """The header, claims and "now" of ``token`` once its signature, issuer and times pass.

        For the ID-token rules in ``keybearer._jose.id_token``, which need the
        header's ``alg`` (for ``at_hash``). ``clocks``: the times are judged by
        the first of these by which they pass (default: this verifier's clock);
        the error is the first clock's. Never uses or fills the cache of
        accepted tokens; may download the JWKS (sync).
        """
        split = self._split(token)
        nows = [clock() for clock in clocks] or [self._clock()]
        keys = self._jwks.cached(split.kid, nows[0]) or self._jwks.key(split.kid, split.alg)
        return self._signed(split, keys, nows)

    async def asigned_claims(
        self, token: str, clocks: Sequence[Callable[[], float]] = ()
    ) -> tuple[dict[str, Any], dict[str, Any], float]:
        """:meth:`signed_claims` for asyncio."""
        split = self._split(token)
        nows = [clock() for clock in clocks] or [self._clock()]
        keys = self._jwks.cached(split.kid, nows[0]) or await self._jwks.akey(split.kid, split.alg)
        return self._signed(split, keys, nows)

    def _signed(
        self, split: _Split, keys: KeySet, nows: list[float]
    ) -> tuple[dict[str, Any], dict[str, Any], float]:
        claims = self._payload(split, keys)
        first: TokenInvalidError | None = None
        for now in nows:
            try:
                check_issuer_and_times(claims, self.issuer, now, self.leeway)
            except (TokenExpiredError, TokenNotYetValidError) as exc:
                first = first or exc
                continue
            return {"alg": split.alg, "kid": split.kid}, claims, now
        assert first is not None  # the loop ran at least once and never returned
        raise first

    # -- the steps -------------------------------------------------------------------

    def _remembered(self, token: str, now: float) -> dict[str, Any] | None:
        """The claims of ``token`` if it was accepted before and nothing has changed since."""
        if type(token) is not str:
            return None  # _split refuses it
        entry = self._accepted.get(token, now)
        if entry is None or self._jwks.cached(entry.kid, now) is not entry.keys:
            return None  # unknown, past exp, or the key set was replaced (or went stale)
        return entry.claims

    def _split(self, token: str) -> _Split:
        """The header and payload segments, the kid and the alg; every segment checked."""
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
        header, payload, _ = parts
        known = self._known_headers.get(header)
        kid, alg = known if known is not None else read_header(header, self.algorithms)
        # The payload and signature segments are decoded (strictly) by joserfc with
        # the signature; a failure there is told apart by _payload.
        return _Split(token, header, payload, kid, alg)

    def _payload(self, split: _Split, keys: KeySet) -> dict[str, Any]:
        """The claims once the signature (joserfc) checks out."""
        kid = split.kid
        alg = split.alg
        if alg not in keys.algorithms[kid]:
            raise UnsupportedAlgorithmError(
                f"unsupported alg: the token's alg {show(alg)} does not fit the JWKS key "
                f"{show(kid)}, which is for {sorted(keys.algorithms[kid])}",
                claim="alg",
                expected=f"an {alg} signing key",
                actual=alg,
            )
        check = self._signature
        if check is None:
            # joserfc and cryptography load with the first signature, not on import.
            from keybearer._jose.jws import SignatureCheck

            check = self._signature = SignatureCheck(self.algorithms)
        signed = check.verify(split.token, keys.keys[kid])
        if signed is None:
            if not all(map(is_canonical, split.token.split(".")[1:])):
                raise MalformedTokenError(
                    "malformed token: the payload or signature is not canonical base64url",
                    claim="token",
                    expected="base64url parts",
                    actual="other characters",
                )
            raise BadSignatureError(
                f"bad signature: expected an {alg} signature by key {kid!r}, got one "
                "that does not match the token",
                claim="signature",
                expected=f"{alg} by key {kid}",
                actual="no match",
            )
        known = self._known_headers
        if split.header not in known and len(known) < _MAX_KNOWN_HEADERS:
            known[split.header] = (kid, alg)
        decoded = json_value(signed)
        claims: dict[str, Any] = (
            decoded
            if type(decoded) is dict
            else decode_json_object(split.payload, "payload")  # raises the error that says why
        )
        return claims

    def _accept(self, split: _Split, keys: KeySet, now: float) -> dict[str, Any]:
        """Signature (joserfc), payload, issuer and times; then remember the claims until exp."""
        claims = self._payload(split, keys)
        exp = check_issuer_and_times(claims, self.issuer, now, self.leeway)
        self._accepted.put(split.token, Accepted(claims, exp, split.kid, keys))
        return claims

    def _finish(
        self,
        claims: dict[str, Any],
        token_use: str | None,
        required_scopes: Iterable[str] | str | None,
        nonce: str | None,
    ) -> Claims:
        """The per-call checks, on a copy of the claims."""
        result = Claims(claims)
        self._check_kind(result, token_use)
        if nonce is not None:
            check_nonce(result, nonce)
        if required_scopes:
            check_scopes(result, scopes_argument(required_scopes, "required_scopes"))
        return result

    def _check_token_use_argument(self, token_use: str) -> None:
        """Refuse a ``token_use`` argument that no token can match (subclasses)."""
        if not isinstance(token_use, str):
            raise ConfigurationError(f"token_use must be a string or None, got {show(token_use)}")

    def _check_kind(self, claims: Claims, token_use: str | None) -> None:
        """``token_use`` when asked for, then the audience (subclasses add their rules)."""
        if token_use is not None:
            check_token_use(claims, token_use)
        allowed = self.audiences
        aud = claims.get("aud")
        if aud is None:
            client_id = claims.get("client_id")
            if isinstance(client_id, str) and client_id in allowed:
                return
            raise WrongAudienceError(
                f"wrong audience: aud (or, without aud, client_id) expected one of "
                f"{self._allowed_text}, got {got(claims, 'client_id')}",
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

    def use_drivers(self, run: RunFlow, arun: ARunFlow) -> None:
        """Download the JWKS through these flow drivers (a session's, with its transport)."""
        self._jwks.use_drivers(run, arun)
