"""Figure 6: verifying a Cognito ID token with the JWKS already cached.

The tokens are RS256 with a 2048-bit key and Cognito's claims; 16 different
ones are cycled, so that a cache of results (if any contender had one) cannot
stand in for verification. The floor is one ``cryptography`` RSA verify of the
same signature over the same bytes, already decoded: no library can verify a
token for less. keybearer's
``CognitoVerifier.verify(token, token_use="id")`` checks the signature, ``iss``,
``exp``/``iat``, ``token_use`` and ``aud``; its JWKS comes from a
``MockTransport`` and is downloaded once before timing. The alternatives check
the same claims with the key already imported: PyJWT ``jwt.decode``,
joserfc ``jwt.decode`` plus a claims registry, Authlib's ``JsonWebToken``.
Bar: at most 1.5x the floor.
"""

from __future__ import annotations

import base64
import time
import warnings
from collections.abc import Callable

import httpx

from benchmarks._harness import Bar, Row, Settings, Timed, alternate, compared, unavailable
from benchmarks._tokens import CLIENT_ID, ISSUER, POOL_ID, b64url, make_tokens, signing_key

FIGURE = 6
BAR = Bar("ratio", 1.5)
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"

_NAMES = {
    "keybearer": "CognitoVerifier.verify (warm JWKS)",
    "pyjwt": "PyJWT jwt.decode",
    "joserfc": "joserfc jwt.decode + claims registry",
    "authlib": "Authlib JsonWebToken.decode + validate",
}


DISTINCT_TOKENS = 16

Check = Callable[[str], object]


def _loop(check: Check, tokens: list[str]) -> Timed:
    def run(n: int) -> int:
        items = (tokens * (n // len(tokens) + 1))[:n]
        started = time.perf_counter_ns()
        for token in items:
            check(token)
        return time.perf_counter_ns() - started

    return run


def _floor_loop(tokens: list[str]) -> Timed:
    """RSA verify alone: the signature decoded and the signing input encoded beforehand."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    pairs = []
    for token in tokens:
        header, payload, signature = token.split(".")
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        assert b64url(raw) == signature
        pairs.append((raw, f"{header}.{payload}".encode("ascii")))
    verify = signing_key().public.verify
    pad, sha = padding.PKCS1v15(), hashes.SHA256()

    def run(n: int) -> int:
        items = (pairs * (n // len(pairs) + 1))[:n]
        started = time.perf_counter_ns()
        for raw, signing_input in items:
            verify(raw, signing_input, pad, sha)
        return time.perf_counter_ns() - started

    return run


def _keybearer(token: str) -> Check | str:
    try:
        from keybearer.verify import CognitoVerifier
    except ImportError as exc:
        return f"keybearer.verify is not available yet ({exc})"
    jwks = signing_key().jwks

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=jwks)

    verifier = CognitoVerifier(
        POOL_ID,
        [CLIENT_ID],
        jwks_url=JWKS_URL,
        http=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    verify = verifier.verify
    claims = verify(token, token_use="id")
    assert claims["aud"] == CLIENT_ID

    def check(token: str) -> object:
        return verify(token, token_use="id")

    return check


def _pyjwt(token: str) -> Check | str:
    try:
        import jwt
    except ImportError:
        return "PyJWT is not installed"
    key = signing_key().public
    decode = jwt.decode

    def check(token: str) -> object:
        return decode(token, key, algorithms=["RS256"], audience=CLIENT_ID, issuer=ISSUER)

    check(token)
    return check


def _joserfc(token: str) -> Check | str:
    try:
        from joserfc import jwt
        from joserfc.jwk import RSAKey
    except ImportError:
        return "joserfc is not installed"
    key = RSAKey.import_key(dict(signing_key().jwk))
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": CLIENT_ID},
        token_use={"essential": True, "value": "id"},
    )

    def check(token: str) -> object:
        decoded = jwt.decode(token, key, algorithms=["RS256"])
        registry.validate(decoded.claims)
        return decoded.claims

    check(token)
    return check


def _authlib(token: str) -> Check | str:
    try:
        with warnings.catch_warnings():
            import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401  (installs an "always" filter; ours goes first)

            warnings.simplefilter("ignore")
            from authlib.jose import JsonWebKey, JsonWebToken  # type: ignore[import-untyped]
    except ImportError:
        return "Authlib is not installed"
    key = JsonWebKey.import_key(signing_key().jwk)
    jwt = JsonWebToken(["RS256"])
    options = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": CLIENT_ID},
        "token_use": {"essential": True, "value": "id"},
    }

    def check(token: str) -> object:
        claims = jwt.decode(token, key, claims_options=options)
        claims.validate()
        return claims

    check(token)
    return check


def run(settings: Settings) -> list[Row]:
    tokens = [make_tokens().id_token for _ in range(DISTINCT_TOKENS)]
    timers: dict[str, Timed] = {"floor": _floor_loop(tokens)}
    missing: list[Row] = []
    makers: dict[str, Callable[[str], Check | str]] = {
        "keybearer": _keybearer,
        "pyjwt": _pyjwt,
        "joserfc": _joserfc,
        "authlib": _authlib,
    }
    for name, make in makers.items():
        made = make(tokens[0])
        if isinstance(made, str):
            missing.append(unavailable(FIGURE, _NAMES[name], made))
        else:
            timers[name] = _loop(made, tokens)
    results = alternate(
        timers,
        rounds=settings.rounds(51, 15),
        n=settings.count(300, 150),
        warmup=100,
    )
    rows = compared(
        FIGURE,
        results,
        "floor",
        unit="us/token",
        scale=1000.0,
        bars={"keybearer": BAR},
        names=_NAMES,
    )
    for row in rows:
        row.baseline = "cryptography RSA verify (floor)"
    return rows + missing
