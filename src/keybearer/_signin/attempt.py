"""One browser sign-in attempt: PKCE (S256 only), state and nonce."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def code_challenge(verifier: str) -> str:
    """S256: unpadded base64url of SHA-256 of the verifier (RFC 7636)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True, repr=False)
class Attempt:
    """The secrets of one sign-in attempt; every attempt gets fresh ones.

    ``state`` ties the redirect to this attempt (CSRF), ``nonce`` ties the ID
    token to it (replay), ``verifier`` proves the code exchange comes from
    whoever started it (PKCE).
    """

    redirect_uri: str
    response_type: str = "code"
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(64))

    @property
    def challenge(self) -> str:
        return code_challenge(self.verifier)

    def __repr__(self) -> str:
        return f"Attempt(response_type={self.response_type!r}, redirect_uri={self.redirect_uri!r})"
