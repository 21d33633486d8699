"""Figures 6 and 13: verifying Cognito ID tokens with the JWKS already cached.

Figure 6: keybearer's verifier is a wrapper over joserfc, so it is measured
against joserfc's own ``jwt.decode`` plus a claims registry checking the same
claims, in the same run. The tokens are RS256 with a 2048-bit key and
Cognito's claims; 16 different ones are cycled, and keybearer's memory of
accepted tokens is switched off (``cache_size=0``), so every call decodes and
verifies. ``CognitoVerifier.verify(token, token_use="id")`` checks the
segments, ``alg``, the signature (joserfc, key picked by ``kid`` from the
JWKS), ``iss``, ``exp``/``iat``, ``token_use`` and ``aud``; its JWKS comes
from a ``MockTransport`` and is downloaded once before timing. For scale, also
shown: one ``cryptography`` RSA verify of the same signature (the floor no
library can beat), PyJWT ``jwt.decode`` and Authlib's ``JsonWebToken``.
Bar: at most 1.10x joserfc.

Figure 13: a token the verifier has already accepted (the common case for an
API: one token per session, sent with every request). The verifier remembers
the claims of accepted tokens by the exact token string until ``exp``; a
repeat skips decoding and the signature, and still checks ``token_use`` and
the audience. Bar: at most 3 us per call. The baseline, for scale, is a dict
lookup of the token string.
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
BAR = Bar("ratio", 1.10)
ACCEPTED_FIGURE = 13
ACCEPTED_BAR = Bar("value", 3.0)
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"

_NAMES = {
    "keybearer": "CognitoVerifier.verify (warm JWKS, cache_size=0)",
    "floor": "cryptography RSA verify (floor)",
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


def _verifier(cache_size: int) -> object:
    from keybearer.verify import CognitoVerifier

    jwks = signing_key().jwks

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=jwks)

    return CognitoVerifier(
        POOL_ID,
        [CLIENT_ID],
        jwks_url=JWKS_URL,
        cache_size=cache_size,
        http=httpx.Client(transport=httpx.MockTransport(answer)),
    )


def _keybearer(token: str, cache_size: int = 0) -> Check | str:
    from keybearer.verify import CognitoVerifier

    verifier = _verifier(cache_size)
    assert isinstance(verifier, CognitoVerifier)
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
    made = _joserfc(tokens[0])
    if isinstance(made, str):
        return [unavailable(FIGURE, _NAMES["joserfc"], made)]
    timers["joserfc"] = _loop(made, tokens)
    makers: dict[str, Callable[[str], Check | str]] = {
        "keybearer": _keybearer,
        "pyjwt": _pyjwt,
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
        "joserfc",
        unit="us/token",
        scale=1000.0,
        bars={"keybearer": BAR},
        names=_NAMES,
    )
    for row in rows:
        row.baseline = _NAMES["joserfc"]
    return rows + missing


def run_accepted(settings: Settings) -> list[Row]:
    """Figure 13: the same accepted tokens again (the verifier's memory of them)."""
    tokens = [make_tokens().id_token for _ in range(DISTINCT_TOKENS)]
    made = _keybearer(tokens[0], cache_size=1024)
    assert not isinstance(made, str)
    for token in tokens:
        made(token)  # accepted once: every timed call is a repeat
    table = {token: token for token in tokens}
    lookup = table.get
    timers: dict[str, Timed] = {"dict": _loop(lookup, tokens), "keybearer": _loop(made, tokens)}
    results = alternate(
        timers,
        rounds=settings.rounds(51, 15),
        n=settings.count(3000, 1500),
        warmup=1000,
    )
    names = {
        "keybearer": "CognitoVerifier.verify, token accepted before",
        "dict": "dict lookup of the token string",
    }
    rows = compared(
        ACCEPTED_FIGURE,
        results,
        "dict",
        unit="us/token",
        scale=1000.0,
        bars={"keybearer": ACCEPTED_BAR},
        names=names,
    )
    for row in rows:
        row.baseline = names["dict"]
    return rows
