"""Cognito's documented answers, for pytest-httpx replays of what moto cannot show."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

IDP = "https://cognito-idp.us-east-1.amazonaws.com/"
POOL = "us-east-1_AbCdEf123"
CLIENT = "1example23456789"
SECRET = "s3cr3t+client+secret+value0123456789abcdefghij"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"


def fake_jwt(claims: dict[str, Any]) -> str:
    """A JWT with the given claims, signed by :data:`SHAPES_KEY` (kid ``k1``).

    Signed for real, because refreshed tokens are verified (issue 11 #5): serve
    :func:`shapes_jwks` at :data:`JWKS_URL` where a test refreshes.
    """
    return _shapes_key().sign(claims)


def shapes_jwks() -> dict[str, Any]:
    """The JWKS that verifies :func:`fake_jwt`'s tokens."""
    return _shapes_key().jwks()


JWKS_URL = f"{ISSUER}/.well-known/jwks.json"


def auth_result(
    username: str = "7d8ca528-4931-4254-9273-ea5ee853f271",
    *,
    refresh: str | None = "opaque-refresh-token-" + "r" * 40,
    serial: int = 1,
) -> dict[str, Any]:
    now = int(time.time())
    common = {"sub": username, "iss": ISSUER, "iat": now, "exp": now + 3600, "jti": f"j{serial}"}
    result: dict[str, Any] = {
        "AccessToken": fake_jwt(
            {
                **common,
                "token_use": "access",
                "client_id": CLIENT,
                "username": username,
                "scope": "aws.cognito.signin.user.admin",
            }
        ),
        "IdToken": fake_jwt(
            {**common, "token_use": "id", "aud": CLIENT, "cognito:username": username}
        ),
        "ExpiresIn": 3600,
        "TokenType": "Bearer",
    }
    if refresh is not None:
        result["RefreshToken"] = refresh
    return {"AuthenticationResult": result, "ChallengeParameters": {}}


def error(error_type: str, message: str) -> dict[str, Any]:
    return {"__type": error_type, "message": message}


def target(operation: str) -> dict[str, str]:
    return {"X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}"}


class SigningKey:
    """An RS256 key pair for tests: signs JWTs and serves its JWKS."""

    def __init__(self, kid: str = "test-key-1") -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()

        def b64(n: int) -> str:
            raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": self.kid,
                    "alg": "RS256",
                    "use": "sig",
                    "n": b64(numbers.n),
                    "e": b64(numbers.e),
                }
            ]
        }

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def part(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        signing_input = f"{part({'kid': self.kid, 'alg': 'RS256'})}.{part(claims)}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


_SHAPES: list[SigningKey] = []


def _shapes_key() -> SigningKey:
    # One key for the whole run, made on first use (an RSA key takes a moment).
    if not _SHAPES:
        _SHAPES.append(SigningKey(kid="k1"))
    return _SHAPES[0]
