"""One browser sign-in attempt: PKCE (S256 only), state and nonce."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True, repr=False)
class Attempt:
    """The secrets of one sign-in attempt; every attempt gets fresh ones.

    ``state`` ties the redirect to this attempt (CSRF), ``nonce`` ties the ID
    token to it (replay), ``verifier`` proves the code exchange comes from
    whoever started it (PKCE). The verifier is 86 characters of the unreserved
    set, inside RFC 7636's 43-128.
    """

    redirect_uri: str
    response_type: str = "code"
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(64))

    @property
    def challenge(self) -> str:
        """The S256 code challenge for :attr:`verifier` (RFC 7636 §4.2); never ``plain``."""
        # Lazy: authlib loads only when a sign-in starts.
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        return str(create_s256_code_challenge(self.verifier))

    def __repr__(self) -> str:
        return f"Attempt(response_type={self.response_type!r}, redirect_uri={self.redirect_uri!r})"
