"""keybearer.verify: real Cognito-shaped tokens (moto), then every way a token can lie.

The hostile cases sign tokens with locally generated RSA keys whose JWKS is served
by pytest-httpx, so each refusal can be staged exactly. Time comes from an
injected clock; nothing here sleeps or measures time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import pickle
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pytest_httpx import HTTPXMock

from conftest import ADMIN_SCOPE, USER_ADMIN_SCOPE
from keybearer import errors
from keybearer.testing import AppClient, LocalCognito, Pool, User
from keybearer.verify import Authorization, Claims, CognitoVerifier, JwtVerifier
from support import FakeClock

POOL_ID = "us-east-1_TestPool1"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL_ID}"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
CLIENT = "client1abcdefghijklmnopqrs"
OTHER_CLIENT = "client2abcdefghijklmnopqrs"
READ = "https://api.example.test/pets.read"
WRITE = "https://api.example.test/pets.write"


# -- token factory ------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def uint(number: int) -> str:
    return b64(number.to_bytes((number.bit_length() + 7) // 8, "big"))


class Signer:
    """An RSA key pair that signs JWTs and publishes its public half as a JWK."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self, **extra: Any) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        jwk = {"kid": self.kid, "alg": "RS256", "kty": "RSA", "use": "sig"}
        jwk.update(e=uint(numbers.e), n=uint(numbers.n))
        jwk.update(extra)
        return jwk

    def pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(self, claims: dict[str, Any], **header: Any) -> str:
        full_header = {"kid": self.kid, "alg": "RS256", **header}
        signing_input = f"{b64json(full_header)}.{b64json(claims)}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(signature)}"


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def id_claims(clock: FakeClock, **changes: Any) -> dict[str, Any]:
    now = int(clock.now)
    claims: dict[str, Any] = {
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "iss": ISSUER,
        "cognito:username": "alice",
        "aud": CLIENT,
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": "11111111-2222-3333-4444-555555555555",
        "email": "alice@example.test",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def access_claims(clock: FakeClock, **changes: Any) -> dict[str, Any]:
    now = int(clock.now)
    claims: dict[str, Any] = {
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": f"openid {READ}",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": "66666666-2222-3333-4444-555555555555",
        "username": "alice",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


@pytest.fixture
def clock() -> FakeClock:
    """A clock on a whole second, so that claim arithmetic has no fractions."""
    fixed = FakeClock()
    fixed.now = 1_700_000_000.0
    return fixed


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer("kid-1")


@pytest.fixture(scope="module")
def rogue() -> Signer:
    """Someone else's key: never in the JWKS."""
    return Signer("kid-rogue")


class Jwks:
    """The JWKS pytest-httpx serves at JWKS_URL; change ``document`` or ``fail_with`` live."""

    def __init__(self, httpx_mock: HTTPXMock, document: dict[str, Any]) -> None:
        self.document = document
        self.fail_with: httpx.Response | Exception | None = None
        self._httpx_mock = httpx_mock
        httpx_mock.add_callback(self._answer, url=JWKS_URL, is_reusable=True, is_optional=True)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        failure = self.fail_with
        if isinstance(failure, Exception):
            raise failure
        return failure if failure is not None else httpx.Response(200, json=self.document)

    @property
    def downloads(self) -> int:
        return len(self._httpx_mock.get_requests(url=JWKS_URL))


@pytest.fixture
def jwks(httpx_mock: HTTPXMock, signer: Signer) -> Jwks:
    return Jwks(httpx_mock, {"keys": [signer.jwk()]})


@pytest.fixture
def verifier(jwks: Jwks, clock: FakeClock) -> CognitoVerifier:
    return CognitoVerifier(POOL_ID, [CLIENT], clock=clock)


def refused(
    verifier: JwtVerifier,
    token: str,
    error: type[errors.TokenInvalidError],
    claim: str,
    **options: Any,
) -> errors.TokenInvalidError:
    """Assert ``verify`` refuses ``token`` with ``error`` naming ``claim``, token kept out."""
    with pytest.raises(error) as caught:
        verifier.verify(token, **options)
    exc = caught.value
    assert type(exc) is error
    assert exc.claim == claim
    message = str(exc)
    assert claim in message
    for part in token.split("."):
        if len(part) >= 16:
            assert part not in message
            assert part not in repr(exc.expected) + repr(exc.actual)
    return exc


# -- real Cognito-shaped tokens from moto --------------------------------------------


def sign_in(cognito: LocalCognito, client: AppClient, user: User) -> dict[str, str]:
    """InitiateAuth USER_PASSWORD_AUTH with plain httpx, as any app could."""
    response = httpx.post(
        cognito.url,
        headers={
            "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
            "Content-Type": "application/x-amz-json-1.1",
        },
        content=json.dumps(
            {
                "AuthFlow": "USER_PASSWORD_AUTH",
                "ClientId": client.id,
                "AuthParameters": {"USERNAME": user.username, "PASSWORD": user.password},
            }
        ),
    )
    response.raise_for_status()
    result: dict[str, str] = response.json()["AuthenticationResult"]
    return result


@pytest.fixture(scope="module")
def alice_tokens(
    cognito: LocalCognito, public_client: AppClient, users: dict[str, User]
) -> dict[str, str]:
    return sign_in(cognito, public_client, users["alice"])


@pytest.fixture
def pool_verifier(cognito: LocalCognito, pool: Pool, public_client: AppClient) -> CognitoVerifier:
    return CognitoVerifier(pool.id, [public_client.id], issuer=pool.issuer, jwks_url=pool.jwks_url)


def test_cognito_id_and_access_tokens_verify_with_one_jwks_download(
    cognito: LocalCognito,
    pool_verifier: CognitoVerifier,
    alice_tokens: dict[str, str],
    users: dict[str, User],
) -> None:
    id_claims = pool_verifier.verify(alice_tokens["IdToken"])
    access = pool_verifier.verify(alice_tokens["AccessToken"], token_use="access")

    assert isinstance(id_claims, Claims)
    assert isinstance(id_claims, dict)
    assert id_claims.token_use == "id"
    assert id_claims.username == "alice"
    assert id_claims.subject == users["alice"].sub
    assert id_claims["email"] == "alice@example.test"
    assert access.token_use == "access"
    assert access.username == "alice"
    assert access.scopes == frozenset({USER_ADMIN_SCOPE})
    assert access.client_id == id_claims.client_id
    assert cognito.calls["JWKS"] == 1


def test_cognito_token_of_another_app_client_is_refused(
    cognito: LocalCognito, pool: Pool, secret_client: AppClient, alice_tokens: dict[str, str]
) -> None:
    only_other = CognitoVerifier(pool.id, [secret_client.id], jwks_url=pool.jwks_url)

    exc = refused(only_other, alice_tokens["IdToken"], errors.WrongAudienceError, "aud")
    assert exc.expected == (secret_client.id,)
    refused(only_other, alice_tokens["AccessToken"], errors.WrongAudienceError, "client_id")


def test_cognito_token_with_another_pools_issuer_is_refused(
    pool: Pool, public_client: AppClient, alice_tokens: dict[str, str]
) -> None:
    elsewhere = CognitoVerifier("eu-west-1_Elsewhere1", [public_client.id], jwks_url=pool.jwks_url)

    exc = refused(elsewhere, alice_tokens["IdToken"], errors.WrongIssuerError, "iss")
    assert exc.expected == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Elsewhere1"
    assert exc.actual == pool.issuer


async def test_cognito_tokens_verify_async(
    pool_verifier: CognitoVerifier, alice_tokens: dict[str, str]
) -> None:
    claims = await pool_verifier.averify(alice_tokens["AccessToken"])
    decision = await pool_verifier.aauthorize(alice_tokens["IdToken"])

    assert claims.token_use == "access"
    assert decision.rule == "no method scopes: ID token accepted"


# -- API Gateway COGNITO_USER_POOLS rules ---------------------------------------------


def test_method_without_scopes_accepts_an_id_token(
    pool_verifier: CognitoVerifier, alice_tokens: dict[str, str]
) -> None:
    decision = pool_verifier.authorize(alice_tokens["IdToken"])

    assert isinstance(decision, Authorization)
    assert decision.rule == "no method scopes: ID token accepted"
    assert decision.scope is None
    assert decision.claims.username == "alice"


def test_method_without_scopes_refuses_an_access_token(
    pool_verifier: CognitoVerifier, alice_tokens: dict[str, str]
) -> None:
    with pytest.raises(errors.WrongTokenUseError) as caught:
        pool_verifier.authorize(alice_tokens["AccessToken"], method_scopes=[])

    assert caught.value.expected == "id"
    assert caught.value.actual == "access"
    assert "without OAuth scopes accepts only ID tokens" in str(caught.value)


def test_method_with_scopes_accepts_an_access_token_carrying_one_of_them(
    pool_verifier: CognitoVerifier, alice_tokens: dict[str, str]
) -> None:
    decision = pool_verifier.authorize(
        "Bearer " + alice_tokens["AccessToken"], method_scopes=[ADMIN_SCOPE, USER_ADMIN_SCOPE]
    )

    assert decision.rule == f"method scopes: access token carries {USER_ADMIN_SCOPE!r}"
    assert decision.scope == USER_ADMIN_SCOPE


def test_method_with_scopes_refuses_an_id_token(
    pool_verifier: CognitoVerifier, alice_tokens: dict[str, str]
) -> None:
    with pytest.raises(errors.WrongTokenUseError) as caught:
        pool_verifier.authorize(alice_tokens["IdToken"], method_scopes=[USER_ADMIN_SCOPE])

    assert caught.value.actual == "id"
    assert "with OAuth scopes accepts only access tokens" in str(caught.value)


def test_method_with_scopes_refuses_an_access_token_without_them(
    pool_verifier: CognitoVerifier, alice_tokens: dict[str, str]
) -> None:
    with pytest.raises(errors.MissingScopeError) as caught:
        pool_verifier.authorize(alice_tokens["AccessToken"], method_scopes=[ADMIN_SCOPE])

    assert caught.value.claim == "scope"
    assert caught.value.expected == (ADMIN_SCOPE,)
    assert caught.value.actual == (USER_ADMIN_SCOPE,)


def test_authorize_takes_the_bare_jwt_or_a_bearer_header(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(id_claims(clock))

    for header in (token, f"Bearer {token}", f"bearer {token}", f"  Bearer   {token} "):
        assert verifier.authorize(header).rule == "no method scopes: ID token accepted"


# -- signatures and algorithms ---------------------------------------------------------


def test_valid_local_tokens_verify(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    claims = verifier.verify(signer.token(access_claims(clock)), required_scopes=[READ])

    assert claims.scopes == frozenset({"openid", READ})
    assert verifier.verify(signer.token(id_claims(clock)), token_use="id")["aud"] == CLIENT


def test_tampered_signature_is_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    header, payload, signature = signer.token(id_claims(clock)).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[17] ^= 0x01

    refused(
        verifier, f"{header}.{payload}.{b64(bytes(raw))}", errors.BadSignatureError, "signature"
    )


def test_tampered_payload_is_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    header, _, signature = signer.token(id_claims(clock)).split(".")
    forged = b64json(id_claims(clock, **{"cognito:username": "admin"}))

    refused(verifier, f"{header}.{forged}.{signature}", errors.BadSignatureError, "signature")


def test_token_signed_by_an_unknown_key_is_refused(
    verifier: CognitoVerifier, rogue: Signer, clock: FakeClock
) -> None:
    exc = refused(verifier, rogue.token(id_claims(clock)), errors.UnknownKeyError, "kid")

    assert exc.actual == "kid-rogue"
    assert exc.expected == ("kid-1",)


def test_rogue_key_claiming_a_known_kid_fails_the_signature(
    verifier: CognitoVerifier, rogue: Signer, clock: FakeClock
) -> None:
    token = rogue.token(id_claims(clock), kid="kid-1")

    refused(verifier, token, errors.BadSignatureError, "signature")


def test_a_key_embedded_in_the_header_is_never_used(
    verifier: CognitoVerifier, rogue: Signer, clock: FakeClock
) -> None:
    embedded = rogue.token(id_claims(clock), jwk=rogue.jwk(), jku="https://evil.test/jwks")

    refused(verifier, embedded, errors.UnknownKeyError, "kid")


@pytest.mark.parametrize("secret_form", ["pem", "jwk-json", "n-bytes"])
def test_hs256_signed_with_the_public_key_is_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock, secret_form: str
) -> None:
    secret = {
        "pem": signer.pem(),
        "jwk-json": json.dumps(signer.jwk()).encode(),
        "n-bytes": base64.urlsafe_b64decode(signer.jwk()["n"] + "=="),
    }[secret_form]
    token = hs256({"kid": "kid-1", "alg": "HS256"}, id_claims(clock), secret)

    exc = refused(verifier, token, errors.UnsupportedAlgorithmError, "alg")
    assert (exc.expected, exc.actual) == ("RS256", "HS256")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "", None, "RS512", "PS256", "ES256"])
def test_algorithms_other_than_rs256_are_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock, alg: str | None
) -> None:
    header = {"kid": "kid-1", "alg": alg} if alg is not None else {"kid": "kid-1"}
    for signature in ("", b64(b"x" * 256)):
        token = f"{b64json(header)}.{b64json(id_claims(clock))}.{signature}"
        exc = refused(verifier, token, errors.UnsupportedAlgorithmError, "alg")
        assert exc.actual == alg


def test_a_jwks_key_for_another_algorithm_is_refused(
    httpx_mock: HTTPXMock, signer: Signer, clock: FakeClock
) -> None:
    curve = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    Jwks(
        httpx_mock,
        {
            "keys": [
                signer.jwk(alg="RS512"),
                {
                    "kid": "ec-1",
                    "kty": "EC",
                    "crv": "P-256",
                    "x": uint(curve.x),
                    "y": uint(curve.y),
                },
                signer.jwk(kid="enc-1", use="enc"),
            ]
        },
    )
    verifier = CognitoVerifier(POOL_ID, [CLIENT], clock=clock)

    for kid in ("kid-1", "ec-1", "enc-1"):
        token = signer.token(id_claims(clock), kid=kid)
        exc = refused(verifier, token, errors.UnsupportedAlgorithmError, "alg")
        assert exc.expected == "an RS256 signing key"


def test_critical_header_extensions_are_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(id_claims(clock), crit=["b64"], b64=False)

    refused(verifier, token, errors.MalformedTokenError, "crit")


# -- time ------------------------------------------------------------------------------


def test_expired_token_is_refused_after_the_leeway(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(id_claims(clock, exp=int(clock.now) + 60))

    clock.advance(64)  # 4 s past exp: within the default 5 s leeway
    assert verifier.verify(token)["exp"] == int(clock.now) - 4
    clock.advance(2)
    exc = refused(verifier, token, errors.TokenExpiredError, "exp")
    assert exc.actual == int(clock.now) - 6
    assert exc.expected == clock.now - 5


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_token_from_the_future_is_refused_beyond_the_leeway(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock, claim: str
) -> None:
    now = int(clock.now)
    assert verifier.verify(signer.token(id_claims(clock, **{claim: now + 4})))

    exc = refused(
        verifier,
        signer.token(id_claims(clock, **{claim: now + 30})),
        errors.TokenNotYetValidError,
        claim,
    )
    assert exc.actual == now + 30


def test_leeway_is_configurable(jwks: Jwks, signer: Signer, clock: FakeClock) -> None:
    strict = CognitoVerifier(POOL_ID, [CLIENT], leeway=0, clock=clock)
    lenient = CognitoVerifier(POOL_ID, [CLIENT], leeway=120, clock=clock)
    token = signer.token(id_claims(clock, iat=int(clock.now) + 1))

    refused(strict, token, errors.TokenNotYetValidError, "iat")
    assert lenient.verify(token)
    clock.advance(3600 + 60)
    assert lenient.verify(token)
    refused(strict, token, errors.TokenExpiredError, "exp")


@pytest.mark.parametrize("exp", ["1999999999", True, None, 1e309, [1], {"t": 1}], ids=repr)
def test_exp_must_be_a_number(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock, exp: object
) -> None:
    claims = id_claims(clock)
    claims["exp"] = exp
    if exp is None:
        del claims["exp"]

    refused(verifier, signer.token(claims), errors.MalformedTokenError, "exp")


def test_exp_nan_is_refused(verifier: CognitoVerifier, signer: Signer, clock: FakeClock) -> None:
    token = signer.token(id_claims(clock, exp=float("nan")))  # json.dumps writes NaN

    refused(verifier, token, errors.MalformedTokenError, "exp")


def test_iat_must_be_a_number_when_present(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    refused(verifier, signer.token(id_claims(clock, iat="now")), errors.MalformedTokenError, "iat")


# -- issuer, audience, kind, scopes, nonce ---------------------------------------------


def test_wrong_issuer_is_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    evil = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Attacker1"
    exc = refused(
        verifier, signer.token(id_claims(clock, iss=evil)), errors.WrongIssuerError, "iss"
    )

    assert (exc.expected, exc.actual) == (ISSUER, evil)
    assert evil in str(exc)
    assert "no such claim" in str(
        refused(verifier, signer.token(id_claims(clock, iss=None)), errors.WrongIssuerError, "iss")
    )


def test_issuer_is_configurable(jwks: Jwks, signer: Signer, clock: FakeClock) -> None:
    updated = f"https://issuer-cognito-idp.us-east-1.amazonaws.com/{POOL_ID}"
    verifier = CognitoVerifier(POOL_ID, [CLIENT], issuer=updated, jwks_url=JWKS_URL, clock=clock)

    assert verifier.verify(signer.token(id_claims(clock, iss=updated)))
    refused(verifier, signer.token(id_claims(clock)), errors.WrongIssuerError, "iss")


def test_id_token_for_another_client_is_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    exc = refused(
        verifier, signer.token(id_claims(clock, aud=OTHER_CLIENT)), errors.WrongAudienceError, "aud"
    )

    assert (exc.expected, exc.actual) == ((CLIENT,), OTHER_CLIENT)
    # An ID token's client_id claim does not count: Cognito puts the client in aud.
    token = signer.token(id_claims(clock, aud=None, client_id=CLIENT))
    refused(verifier, token, errors.WrongAudienceError, "aud")


def test_access_token_for_another_client_is_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(access_claims(clock, client_id=OTHER_CLIENT))

    exc = refused(verifier, token, errors.WrongAudienceError, "client_id")
    assert exc.actual == OTHER_CLIENT


def test_every_allowed_client_is_accepted(jwks: Jwks, signer: Signer, clock: FakeClock) -> None:
    verifier = CognitoVerifier(POOL_ID, [CLIENT, OTHER_CLIENT], clock=clock)

    assert verifier.verify(signer.token(id_claims(clock, aud=OTHER_CLIENT)))
    assert verifier.verify(signer.token(access_claims(clock, client_id=OTHER_CLIENT)))


@pytest.mark.parametrize("token_use", ["refresh", None, "", ["id"]])
def test_cognito_tokens_must_be_id_or_access_tokens(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock, token_use: object
) -> None:
    claims = id_claims(clock)
    claims["token_use"] = token_use
    if token_use is None:
        del claims["token_use"]

    exc = refused(verifier, signer.token(claims), errors.WrongTokenUseError, "token_use")
    assert exc.expected == ("id", "access")


def test_wrong_token_use_is_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    exc = refused(
        verifier,
        signer.token(id_claims(clock)),
        errors.WrongTokenUseError,
        "token_use",
        token_use="access",
    )

    assert (exc.expected, exc.actual) == ("access", "id")
    refused(
        verifier,
        signer.token(access_claims(clock)),
        errors.WrongTokenUseError,
        "token_use",
        token_use="id",
    )


def test_missing_scope_is_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(access_claims(clock))

    exc = refused(verifier, token, errors.MissingScopeError, "scope", required_scopes=[READ, WRITE])
    assert exc.expected == (READ, WRITE)
    assert exc.actual == tuple(sorted(["openid", READ]))
    assert WRITE in str(exc)
    assert verifier.verify(token, required_scopes=f"openid {READ}")
    refused(verifier, signer.token(id_claims(clock)), errors.MissingScopeError, "scope",
            required_scopes=[READ])  # fmt: skip


def test_nonce_must_match_and_is_never_shown(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    sent = "n-0S6_WzA2Mj-the-sent-nonce"
    token = signer.token(id_claims(clock, nonce=sent))

    assert verifier.verify(token, nonce=sent)["nonce"] == sent
    exc = refused(verifier, token, errors.NonceMismatchError, "nonce", nonce="a-different-nonce")
    shown = str(exc) + repr(exc.expected) + repr(exc.actual)
    assert sent not in shown
    assert "a-different-nonce" not in shown
    no_nonce = signer.token(id_claims(clock))
    refused(verifier, no_nonce, errors.NonceMismatchError, "nonce", nonce=sent)
    refused(verifier, signer.token(id_claims(clock, nonce=["x"])), errors.NonceMismatchError,
            "nonce", nonce="x")  # fmt: skip
    refused(verifier, signer.token(id_claims(clock, nonce="é")), errors.NonceMismatchError,
            "nonce", nonce="e")  # fmt: skip


# -- malformed input --------------------------------------------------------------------


GARBAGE = [
    "",
    "a",
    "a.b",
    "a.b.c.d",
    "....",
    "..",
    "é.é.é",
    "eyJ\x00.eyJ.sig",
    "Bearer abc.def.ghi",
    "abc.def.ghi",
    "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln",
    " eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
    "x" * 20000,
    "." * 20000,
    b64json([1, 2]) + ".e30.c2ln",
    b64json("RS256") + ".e30.c2ln",
    b64(b"\xff\xfe{") + ".e30.c2ln",
    b64(b"[" * 3000) + ".e30.c2ln",
]


@pytest.mark.parametrize("token", GARBAGE, ids=lambda t: repr(t[:24]))
def test_garbage_is_refused_with_a_token_error_and_no_download(
    verifier: CognitoVerifier, jwks: Jwks, token: str
) -> None:
    with pytest.raises(errors.TokenInvalidError):
        verifier.verify(token)

    assert jwks.downloads == 0


@pytest.mark.parametrize("token", [None, b"a.b.c", 42, ["a", "b", "c"]], ids=repr)
def test_non_strings_are_refused_with_a_token_error(verifier: CognitoVerifier, token: Any) -> None:
    with pytest.raises(errors.MalformedTokenError) as caught:
        verifier.verify(token)

    assert (caught.value.claim, caught.value.expected) == ("token", "str")


def test_oversized_token_is_refused_before_decoding(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock, jwks: Jwks
) -> None:
    token = signer.token(id_claims(clock, padding="x" * 17000))

    exc = refused(verifier, token, errors.MalformedTokenError, "token")
    assert exc.expected == "at most 16384 characters"
    assert jwks.downloads == 0


@pytest.mark.parametrize("payload", [[1, 2], "text", 7, None], ids=repr)
def test_signed_payload_that_is_no_json_object_is_refused(
    verifier: CognitoVerifier, signer: Signer, payload: object
) -> None:
    header = b64json({"kid": "kid-1", "alg": "RS256"})
    signing_input = f"{header}.{b64json(payload)}"
    signature = signer.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

    refused(verifier, f"{signing_input}.{b64(signature)}", errors.MalformedTokenError, "payload")


def test_non_canonical_base64_characters_are_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(id_claims(clock))
    header, payload, signature = token.split(".")

    for bad in (f"{signature}=", f"{signature[:10]}+{signature[10:]}", f"{signature} "):
        refused(verifier, f"{header}.{payload}.{bad}", errors.MalformedTokenError, "token")


def test_non_zero_trailing_bits_in_any_segment_are_refused(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(id_claims(clock))
    assert verifier.verify(token)
    segments = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, segment in enumerate(segments):
        if len(segment) % 4 == 0:
            continue  # no unused bits to set
        # The last character's unused low bits set: the same bytes, another spelling.
        last = alphabet.index(segment[-1])
        spare = 0b1111 if len(segment) % 4 == 2 else 0b11
        respelled = segment[:-1] + alphabet[last | spare]
        assert base64.urlsafe_b64decode(respelled + "==") == base64.urlsafe_b64decode(
            segment + "=="
        )
        forged = ".".join(respelled if i == index else s for i, s in enumerate(segments))
        claim = "header" if index == 0 else "token"
        refused(verifier, forged, errors.MalformedTokenError, claim)


def test_refusals_carry_no_exception_context(
    verifier: CognitoVerifier, signer: Signer, rogue: Signer, clock: FakeClock
) -> None:
    good = signer.token(id_claims(clock))
    header, payload, signature = good.split(".")
    for token in (
        f"{header}.{payload}.{signature[:-8]}AAAAAAAA",  # bad signature
        rogue.token(id_claims(clock), kid="kid-1"),  # another key
        f"{header}.{payload}!.{signature}",  # not base64url
        f"{b64(b'not json')}.{payload}.{signature}",
        signer.token(id_claims(clock, exp="soon")),
    ):
        with pytest.raises(errors.TokenInvalidError) as caught:
            verifier.verify(token)
        assert caught.value.__context__ is None
        assert caught.value.__cause__ is None


def test_mutated_tokens_only_ever_raise_token_errors(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(access_claims(clock))
    alphabet = "AZaz09-_.=+/ \x00é{}\"'"
    rng = random.Random(20240601)  # noqa: S311  # reproducible, not secret
    for _ in range(3000):
        chars = list(token)
        for _ in range(rng.randint(1, 4)):
            if not chars:
                break
            where = rng.randrange(len(chars))
            action = rng.random()
            if action < 0.5:
                chars[where] = rng.choice(alphabet)
            elif action < 0.75:
                del chars[where:]
            else:
                chars.insert(where, rng.choice(alphabet))
        mutated = "".join(chars)
        with contextlib.suppress(errors.TokenInvalidError):  # anything else fails the test
            verifier.verify(mutated)


def test_errors_survive_pickling(
    verifier: CognitoVerifier, rogue: Signer, clock: FakeClock
) -> None:
    with pytest.raises(errors.UnknownKeyError) as caught:
        verifier.verify(rogue.token(id_claims(clock)))

    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301  # our own bytes
    assert type(copy) is errors.UnknownKeyError
    assert (copy.claim, copy.expected, copy.actual) == ("kid", ("kid-1",), "kid-rogue")
    assert str(copy) == str(caught.value)


# -- tokens already accepted -------------------------------------------------------------


def test_an_accepted_token_is_remembered_but_per_call_checks_still_run(
    verifier: CognitoVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(access_claims(clock))
    first = verifier.verify(token)
    first["scope"] = "mutated by the caller"

    again = verifier.verify(token, token_use="access", required_scopes=[READ])

    assert again["scope"] == f"openid {READ}"
    refused(verifier, token, errors.WrongTokenUseError, "token_use", token_use="id")
    refused(verifier, token, errors.MissingScopeError, "scope", required_scopes=[WRITE])


def test_a_remembered_token_is_never_used_past_its_exp(
    jwks: Jwks, signer: Signer, clock: FakeClock
) -> None:
    verifier = CognitoVerifier(POOL_ID, [CLIENT], clock=clock, leeway=0)
    token = signer.token(id_claims(clock, exp=int(clock.now) + 60))
    assert verifier.verify(token)

    clock.advance(60)

    refused(verifier, token, errors.TokenExpiredError, "exp")


def test_a_remembered_token_stops_working_when_its_key_leaves_the_jwks(
    jwks: Jwks, signer: Signer, rogue: Signer, clock: FakeClock
) -> None:
    verifier = CognitoVerifier(POOL_ID, [CLIENT], clock=clock, jwks_ttl=60)
    token = signer.token(id_claims(clock, exp=int(clock.now) + 86400))
    assert verifier.verify(token)
    jwks.document = {"keys": [rogue.jwk()]}

    clock.advance(61)

    refused(verifier, token, errors.UnknownKeyError, "kid")


def test_the_memory_of_accepted_tokens_is_bounded(
    jwks: Jwks, signer: Signer, clock: FakeClock
) -> None:
    verifier = CognitoVerifier(POOL_ID, [CLIENT], clock=clock, cache_size=3)
    tokens = [signer.token(id_claims(clock, jti=str(n))) for n in range(10)]
    for token in tokens:
        verifier.verify(token)

    assert len(verifier._accepted) == 3
    assert "eyJ" not in repr(verifier._accepted)
    for token in tokens:  # the forgotten ones verify again from scratch
        assert verifier.verify(token)["jti"] in {str(n) for n in range(10)}


# -- ES256 for generic issuers ------------------------------------------------------------


class EcSigner:
    """A P-256 key that signs ES256 JWTs (raw r||s signatures, RFC 7518 §3.4)."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP256R1())

    def jwk(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        point = {"x": b64(numbers.x.to_bytes(32, "big")), "y": b64(numbers.y.to_bytes(32, "big"))}
        return {"kid": self.kid, "kty": "EC", "crv": "P-256", "use": "sig", **point}

    def token(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        signing_input = f"{b64json({'kid': self.kid, 'alg': 'ES256'})}.{b64json(claims)}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def test_generic_verifier_takes_es256_and_rs256_unless_told_otherwise(
    httpx_mock: HTTPXMock, signer: Signer, clock: FakeClock
) -> None:
    ec_signer = EcSigner("ec-1")
    Jwks(httpx_mock, {"keys": [signer.jwk(), ec_signer.jwk()]})
    both = JwtVerifier(ISSUER, JWKS_URL, audiences=[CLIENT], clock=clock)
    rsa_only = JwtVerifier(ISSUER, JWKS_URL, audiences=[CLIENT], algorithms=["RS256"], clock=clock)
    es_token = ec_signer.token(id_claims(clock))

    assert both.verify(es_token)["sub"] == id_claims(clock)["sub"]
    assert both.verify(signer.token(id_claims(clock)))
    exc = refused(rsa_only, es_token, errors.UnsupportedAlgorithmError, "alg")
    assert exc.actual == "ES256"
    tampered = es_token[:-6] + ("AAAAAA" if not es_token.endswith("AAAAAA") else "BBBBBA")
    refused(both, tampered, errors.BadSignatureError, "signature")


def test_an_rsa_key_cannot_verify_an_es256_token(
    httpx_mock: HTTPXMock, signer: Signer, clock: FakeClock
) -> None:
    Jwks(httpx_mock, {"keys": [signer.jwk(alg=None)]})
    verifier = JwtVerifier(ISSUER, JWKS_URL, audiences=[CLIENT], clock=clock)
    header = b64json({"kid": "kid-1", "alg": "ES256"})
    token = f"{header}.{b64json(id_claims(clock))}.{b64(b'x' * 64)}"

    exc = refused(verifier, token, errors.UnsupportedAlgorithmError, "alg")
    assert exc.expected == "an ES256 signing key"


@pytest.mark.parametrize("algorithms", [[], ["HS256"], ["none"], ["RS256", "RS512"]])
def test_only_rs256_and_es256_can_be_allowed(algorithms: list[str]) -> None:
    with pytest.raises(errors.ConfigurationError):
        JwtVerifier(ISSUER, JWKS_URL, audiences=[CLIENT], algorithms=algorithms)


# -- the JWKS cache ---------------------------------------------------------------------


def test_jwks_is_downloaded_once_and_reused(
    verifier: CognitoVerifier, jwks: Jwks, signer: Signer, clock: FakeClock
) -> None:
    for _ in range(50):
        verifier.verify(signer.token(id_claims(clock)))
        clock.advance(30)

    assert jwks.downloads == 1


def test_flood_of_unknown_kids_downloads_at_most_once_per_interval(
    verifier: CognitoVerifier, jwks: Jwks, signer: Signer, rogue: Signer, clock: FakeClock
) -> None:
    verifier.verify(signer.token(id_claims(clock)))
    forged = [rogue.token(id_claims(clock), kid=f"made-up-{i}") for i in range(1000)]
    clock.advance(10)  # one refetch_interval after the first download

    for token in forged:
        with pytest.raises(errors.UnknownKeyError):
            verifier.verify(token)
    assert jwks.downloads == 2

    clock.advance(9.9)
    for token in forged:
        with pytest.raises(errors.UnknownKeyError):
            verifier.verify(token)
    assert jwks.downloads == 2

    clock.advance(0.2)
    for token in forged:
        with pytest.raises(errors.UnknownKeyError):
            verifier.verify(token)
    assert jwks.downloads == 3


def test_unknown_kid_right_after_a_download_does_not_download_again(
    verifier: CognitoVerifier, jwks: Jwks, rogue: Signer, clock: FakeClock
) -> None:
    for _ in range(100):
        with pytest.raises(errors.UnknownKeyError):
            verifier.verify(rogue.token(id_claims(clock)))

    assert jwks.downloads == 1


def test_rotated_key_is_picked_up_by_a_refetch(
    verifier: CognitoVerifier, jwks: Jwks, signer: Signer, clock: FakeClock
) -> None:
    verifier.verify(signer.token(id_claims(clock)))
    new = Signer("kid-2")
    jwks.document = {"keys": [signer.jwk(), new.jwk()]}
    clock.advance(10)

    assert verifier.verify(new.token(id_claims(clock)))["aud"] == CLIENT
    assert jwks.downloads == 2


def test_jwks_is_refreshed_after_its_ttl_and_a_dropped_key_stops_working(
    jwks: Jwks, signer: Signer, clock: FakeClock
) -> None:
    verifier = CognitoVerifier(POOL_ID, [CLIENT], jwks_ttl=600, clock=clock)
    token = signer.token(id_claims(clock))
    verifier.verify(token)
    jwks.document = {"keys": [Signer("kid-2").jwk()]}
    clock.advance(599)
    assert verifier.verify(token)
    assert jwks.downloads == 1

    clock.advance(1)
    refused(verifier, token, errors.UnknownKeyError, "kid")
    assert jwks.downloads == 2


def test_stale_jwks_stays_in_use_when_the_refresh_fails(
    jwks: Jwks, signer: Signer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = CognitoVerifier(POOL_ID, [CLIENT], jwks_ttl=600, clock=clock)
    verifier.verify(signer.token(id_claims(clock)))
    jwks.fail_with = httpx.Response(503)
    clock.advance(601)

    for _ in range(20):
        assert verifier.verify(signer.token(id_claims(clock)))
    assert jwks.downloads == 2
    assert "could not refresh the JWKS" in caplog.text

    jwks.fail_with = None
    clock.advance(10)
    assert verifier.verify(signer.token(id_claims(clock)))
    assert jwks.downloads == 3


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.ConnectError("connection refused"), errors.NetworkError),
        (httpx.ReadTimeout("timed out"), errors.RequestTimeoutError),
        (httpx.Response(503), errors.ServiceError),
        (httpx.Response(429, headers={"Retry-After": "7"}), errors.ThrottledError),
        (httpx.Response(404), errors.ProtocolError),
        (httpx.Response(200, text="<html>"), errors.ProtocolError),
        (httpx.Response(200, json={"keys": "none"}), errors.ProtocolError),
        (httpx.Response(200, json=[1]), errors.ProtocolError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_jwks_download_failures_are_typed_and_rate_limited(
    verifier: CognitoVerifier,
    jwks: Jwks,
    signer: Signer,
    clock: FakeClock,
    failure: httpx.Response | Exception,
    error: type[errors.KeybearerError],
) -> None:
    jwks.fail_with = failure
    token = signer.token(id_claims(clock))

    for _ in range(5):
        with pytest.raises(error) as caught:
            verifier.verify(token)
        assert not isinstance(caught.value, errors.TokenInvalidError)
    assert jwks.downloads == 1
    if isinstance(caught.value, errors.ThrottledError):
        assert caught.value.retry_after == 7

    jwks.fail_with = None
    clock.advance(10)
    assert verifier.verify(token)
    assert jwks.downloads == 2


def test_jwks_entries_that_cannot_be_keys_are_skipped(
    httpx_mock: HTTPXMock, signer: Signer, clock: FakeClock
) -> None:
    Jwks(
        httpx_mock,
        {
            "keys": [
                "junk",
                {"kty": "RSA"},
                {"kid": "bad-n", "kty": "RSA", "n": "!!", "e": "AQAB"},
                {"kid": "even-e", "kty": "RSA", "n": signer.jwk()["n"], "e": "Ag"},
                signer.jwk(),
            ]
        },
    )
    verifier = CognitoVerifier(POOL_ID, [CLIENT], clock=clock)

    assert verifier.verify(signer.token(id_claims(clock)))
    for kid in ("bad-n", "even-e"):
        refused(verifier, signer.token(id_claims(clock), kid=kid),
                errors.UnsupportedAlgorithmError, "alg")  # fmt: skip


class ArrivalCountingLock:
    """A lock that counts the threads that reached it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.arrived = 0

    def __enter__(self) -> None:
        with self._count_lock:
            self.arrived += 1
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_twenty_threads_on_a_cold_cache_download_once(
    httpx_mock: HTTPXMock, signer: Signer, clock: FakeClock
) -> None:
    verifier = CognitoVerifier(POOL_ID, [CLIENT], clock=clock)
    lock = ArrivalCountingLock()
    verifier._jwks._sync_download = lock  # type: ignore[assignment]
    everyone_waits = threading.Event()

    def answer(request: httpx.Request) -> httpx.Response:
        # Hold the one download until all 20 threads are at the download lock.
        for _ in range(500):
            if lock.arrived == 20:
                break
            everyone_waits.wait(0.01)
        return httpx.Response(200, json={"keys": [signer.jwk()]})

    httpx_mock.add_callback(answer, url=JWKS_URL, is_reusable=True)
    tokens = [signer.token(id_claims(clock, jti=str(i))) for i in range(20)]
    results: list[object] = [None] * 20
    start = threading.Barrier(20)

    def work(i: int) -> None:
        start.wait()
        try:
            results[i] = verifier.verify(tokens[i])["jti"]
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [str(i) for i in range(20)]
    assert lock.arrived == 20
    assert len(httpx_mock.get_requests(url=JWKS_URL)) == 1


async def test_twenty_tasks_on_a_cold_cache_download_once(
    httpx_mock: HTTPXMock, signer: Signer, clock: FakeClock
) -> None:
    verifier = CognitoVerifier(POOL_ID, [CLIENT], clock=clock)

    async def answer(request: httpx.Request) -> httpx.Response:
        for _ in range(50):  # let every other task reach the download lock
            await asyncio.sleep(0)
        return httpx.Response(200, json={"keys": [signer.jwk()]})

    httpx_mock.add_callback(answer, url=JWKS_URL, is_reusable=True)
    tokens = [signer.token(access_claims(clock, jti=str(i))) for i in range(20)]

    claims = await asyncio.gather(*(verifier.averify(token) for token in tokens))

    assert [c["jti"] for c in claims] == [str(i) for i in range(20)]
    assert len(httpx_mock.get_requests(url=JWKS_URL)) == 1


async def test_async_refusals_match_sync_ones(
    verifier: CognitoVerifier, jwks: Jwks, signer: Signer, rogue: Signer, clock: FakeClock
) -> None:
    with pytest.raises(errors.UnknownKeyError):
        await verifier.averify(rogue.token(id_claims(clock)))
    with pytest.raises(errors.MissingScopeError):
        await verifier.averify(signer.token(access_claims(clock)), required_scopes=[WRITE])
    with pytest.raises(errors.MissingScopeError):
        await verifier.aauthorize(signer.token(access_claims(clock)), method_scopes=[WRITE])
    decision = await verifier.aauthorize(signer.token(access_claims(clock)), [WRITE, READ])
    assert decision.scope == READ
    assert jwks.downloads == 1


async def test_async_download_failure_is_typed(
    verifier: CognitoVerifier, jwks: Jwks, signer: Signer, clock: FakeClock
) -> None:
    jwks.fail_with = httpx.ConnectError("connection refused")

    with pytest.raises(errors.NetworkError):
        await verifier.averify(signer.token(id_claims(clock)))


def test_given_http_clients_are_used(signer: Signer, clock: FakeClock) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"keys": [signer.jwk()]})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        verifier = CognitoVerifier(POOL_ID, [CLIENT], http=http, clock=clock)
        assert verifier.verify(signer.token(id_claims(clock)))

    assert [str(r.url) for r in seen] == [JWKS_URL]


# -- the generic OIDC verifier ----------------------------------------------------------


@pytest.fixture
def oidc(jwks: Jwks, clock: FakeClock) -> JwtVerifier:
    return JwtVerifier(ISSUER, JWKS_URL, audiences=[CLIENT], clock=clock)


def test_generic_verifier_checks_aud_strings_and_lists(
    oidc: JwtVerifier, signer: Signer, clock: FakeClock
) -> None:
    assert oidc.verify(signer.token(id_claims(clock, token_use=None)))
    assert oidc.verify(signer.token(id_claims(clock, aud=[OTHER_CLIENT, CLIENT])))
    refused(oidc, signer.token(id_claims(clock, aud=[OTHER_CLIENT])), errors.WrongAudienceError,
            "aud")  # fmt: skip
    refused(oidc, signer.token(id_claims(clock, aud=[{"x": 1}])), errors.WrongAudienceError, "aud")


def test_generic_verifier_falls_back_to_client_id_without_aud(
    oidc: JwtVerifier, signer: Signer, clock: FakeClock
) -> None:
    assert oidc.verify(signer.token(access_claims(clock)))
    refused(oidc, signer.token(access_claims(clock, client_id=OTHER_CLIENT)),
            errors.WrongAudienceError, "client_id")  # fmt: skip


def test_generic_verifier_checks_nonce_token_use_and_scp(
    oidc: JwtVerifier, signer: Signer, clock: FakeClock
) -> None:
    token = signer.token(id_claims(clock, nonce="abc", token_use=None, scp=[READ]))

    claims = oidc.verify(token, nonce="abc", required_scopes=[READ])
    assert claims.scopes == frozenset({READ})
    refused(oidc, token, errors.WrongTokenUseError, "token_use", token_use="id")
    refused(oidc, token, errors.NonceMismatchError, "nonce", nonce="abd")


# -- configuration and imports ------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: CognitoVerifier("not-a-pool", [CLIENT]),
        lambda: CognitoVerifier(POOL_ID, []),
        lambda: CognitoVerifier(POOL_ID, [""]),
        lambda: CognitoVerifier(POOL_ID, [CLIENT], jwks_url="http://example.test/jwks.json"),
        lambda: CognitoVerifier(POOL_ID, [CLIENT], leeway=-1),
        lambda: CognitoVerifier(POOL_ID, [CLIENT], jwks_ttl=0),
        lambda: CognitoVerifier(POOL_ID, [CLIENT], leeway="5"),
        lambda: CognitoVerifier(POOL_ID, [CLIENT], refetch_interval=float("nan")),
        lambda: CognitoVerifier(POOL_ID, 42),
        lambda: JwtVerifier("", JWKS_URL, audiences=[CLIENT]),
        lambda: JwtVerifier(ISSUER, "ftp://x/jwks", audiences=[CLIENT]),
    ],
)
def test_bad_settings_are_configuration_errors(make: Callable[[], object]) -> None:
    with pytest.raises(errors.ConfigurationError):
        make()


def test_a_single_client_id_string_counts_as_one_client() -> None:
    verifier = CognitoVerifier(POOL_ID, CLIENT)

    assert verifier.client_ids == frozenset({CLIENT})
    assert verifier.issuer == ISSUER
    assert verifier.jwks_url == JWKS_URL
    assert "CognitoVerifier" in repr(verifier)


def test_token_use_argument_must_be_id_or_access(verifier: CognitoVerifier) -> None:
    with pytest.raises(errors.ConfigurationError):
        verifier.verify("a.b.c", token_use="refresh")


def test_import_loads_neither_cryptography_nor_httpx() -> None:
    code = (
        "import sys, keybearer.verify; "
        "print(sorted(m for m in ('cryptography', 'httpx', 'asyncio', 'pydantic', 'joserfc', "
        "'authlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert out.strip() == "[]"


def test_token_errors_are_keybearer_errors_in_the_tree() -> None:
    for name in (
        "MalformedTokenError",
        "UnsupportedAlgorithmError",
        "UnknownKeyError",
        "BadSignatureError",
        "TokenExpiredError",
        "TokenNotYetValidError",
        "WrongIssuerError",
        "WrongAudienceError",
        "WrongTokenUseError",
        "MissingScopeError",
        "NonceMismatchError",
    ):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.TokenInvalidError)
        assert name in errors.__all__
        assert name in (errors.__doc__ or "")
    assert issubclass(errors.TokenInvalidError, errors.KeybearerError)
