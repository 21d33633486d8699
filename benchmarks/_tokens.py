"""An RSA key, Cognito-shaped JWTs signed with it, a TokenSet, a settable clock.

The tokens look like a real Cognito user pool's (header, claim names, sizes)
so that every contender handles the same bytes a production app would.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

REGION = "us-east-1"
POOL_ID = "us-east-1_Bench0001"
CLIENT_ID = "1benchmark23456789abcdefgh"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
KID = "bench-kid-0001"
API_HOST = "api.example.test"
API_URL = f"https://{API_HOST}/prod/pets"


class FakeClock:
    """A settable ``time.time``: expiry is reached by moving it, never by sleeping."""

    def __init__(self) -> None:
        self.now = time.time()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """A 2048-bit RSA key pair, as Cognito signs with."""

    private: Any
    public: Any

    @property
    def jwk(self) -> dict[str, str]:
        numbers = self.public.public_numbers()
        return {
            "alg": "RS256",
            "e": _uint(numbers.e),
            "kid": KID,
            "kty": "RSA",
            "n": _uint(numbers.n),
            "use": "sig",
        }

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = b64url(json.dumps({"kid": KID, "alg": "RS256"}).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{b64url(signature)}"


@cache
def signing_key() -> SigningKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(private, private.public_key())


def id_claims(now: float, lifetime: float = 3600.0) -> dict[str, Any]:
    """The claims of a Cognito ID token from a password sign-in."""
    issued = int(now)
    return {
        "sub": str(uuid.uuid4()),
        "email_verified": True,
        "iss": ISSUER,
        "cognito:username": "alice",
        "origin_jti": str(uuid.uuid4()),
        "aud": CLIENT_ID,
        "event_id": str(uuid.uuid4()),
        "token_use": "id",
        "auth_time": issued,
        "exp": issued + int(lifetime),
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "email": "alice@example.test",
    }


def access_claims(now: float, lifetime: float = 3600.0) -> dict[str, Any]:
    """The claims of a Cognito access token from a password sign-in."""
    issued = int(now)
    return {
        "sub": str(uuid.uuid4()),
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": issued,
        "exp": issued + int(lifetime),
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "username": "alice",
    }


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str
    expires_at: float

    def token_set_json(self) -> str:
        """The tokens as keybearer's stores keep them (``TokenSet.to_json()``)."""
        from keybearer import TokenSet

        return TokenSet(
            access_token=self.access_token,
            id_token=self.id_token,
            refresh_token=self.refresh_token,
            expires_at=self.expires_at,
            origin="password",
            username="alice",
        ).to_json()


def make_tokens(now: float | None = None, lifetime: float = 3600.0) -> Tokens:
    now = time.time() if now is None else now
    key = signing_key()
    return Tokens(
        id_token=key.sign(id_claims(now, lifetime)),
        access_token=key.sign(access_claims(now, lifetime)),
        # Cognito's refresh tokens are opaque JWEs of about 1.7 KB.
        refresh_token="eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ."
        + b64url(uuid.uuid4().bytes * 80),
        expires_at=now + lifetime,
    )


def signed_in_client(tokens: Tokens, **options: Any) -> Any:
    """An ``OAuthClient`` for the benchmark pool whose store already holds ``tokens``.

    The store is a fresh ``MemoryStore`` (its own token cache), so clients made
    here never share state with each other.
    """
    import keybearer

    store = keybearer.MemoryStore()
    options.setdefault("api_hosts", [API_HOST])
    client = keybearer.OAuthClient.cognito(POOL_ID, CLIENT_ID, store=store, **options)
    store.save(client.config.store_key, tokens.token_set_json())
    return client
