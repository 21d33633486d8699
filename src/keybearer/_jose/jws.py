"""Compact JWS with RS256 only: decode the parts, read the header, check the signature.

RFC 7515 (JWS) and RFC 7518 §3.3 (RS256 = RSASSA-PKCS1-v1_5 with SHA-256). The
header's ``alg`` must be ``RS256``: ``none``, the HMAC algorithms (the classic
"sign with the public key as the HMAC secret" confusion) and everything else
are refused before any key is looked at. Header parameters that name keys
(``jwk``, ``jku``, ``x5u``, ``x5c``) are ignored: keys only ever come from the
issuer's JWKS.

``cryptography`` is imported when the first key is built, not before.
"""

from __future__ import annotations

import binascii
import json
import sys
from collections.abc import Callable
from json.scanner import make_scanner
from typing import TYPE_CHECKING, Any

from keybearer.errors import MalformedTokenError, UnknownKeyError, UnsupportedAlgorithmError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.hashes import HashAlgorithm

#: Longer strings are refused before any decoding. Cognito's tokens are 1-4 KB;
#: an ID token with many custom attributes and groups stays well under this.
MAX_TOKEN_LENGTH = 16 * 1024

ALGORITHM = "RS256"

if sys.version_info >= (3, 11):
    # base64url -> base64 for binascii's strict mode, which then refuses any byte
    # outside the alphabet, stray padding and whitespace. '+', '/' and '=' are not
    # base64url, so they become '!' and fail too.
    _TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
    _PADDING = (b"", b"===", b"==", b"=")  # by length % 4; "===" makes % 4 == 1 fail

    def b64url_decode(segment: str) -> bytes:
        """Decode unpadded base64url; ``ValueError`` for any other character or length."""
        data = segment.encode("ascii").translate(_TO_STANDARD)
        return binascii.a2b_base64(data + _PADDING[len(data) & 3], strict_mode=True)

else:  # pragma: no cover - Python 3.10 has no strict mode; check the alphabet first
    import base64
    import re

    _BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

    def b64url_decode(segment: str) -> bytes:
        """Decode unpadded base64url; ``ValueError`` for any other character or length."""
        if _BASE64URL.fullmatch(segment) is None:
            raise ValueError("not base64url")
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


# json.loads() spends a third of its time in Python around the C scanner; call the
# scanner directly and let json.loads() judge only what it does not take whole.
_scan_json: Callable[[str, int], tuple[Any, int]] = make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]  # typeshed types the class, not the call
)


def json_segment(segment: str) -> Any:
    """The JSON value a base64url segment holds, or ``None`` if it holds none."""
    try:
        text = b64url_decode(segment).decode("utf-8")
        try:
            value, end = _scan_json(text, 0)
        except StopIteration:  # the scanner's "no JSON value starts here"
            return json.loads(text)
        return value if end == len(text) else json.loads(text)
    except (ValueError, RecursionError):  # bad base64url, UTF-8 or JSON
        return None


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_KINDS[type(None)] = "null"


def decode_json_object(segment: str, what: str) -> dict[str, Any]:
    """The JSON object a base64url segment holds, or ``MalformedTokenError``."""
    try:
        value = json.loads(b64url_decode(segment).decode("utf-8"))
    except (ValueError, RecursionError):
        # ValueError covers bad base64url, UTF-8 and JSON alike.
        raise MalformedTokenError(
            f"the JWT {what} is not base64url-encoded JSON",
            claim=what,
            expected="base64url-encoded JSON",
            actual="undecodable",
        ) from None
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), "value")
        raise MalformedTokenError(
            f"the JWT {what} is a JSON {kind}, not an object",
            claim=what,
            expected="a JSON object",
            actual=f"a JSON {kind}",
        )
    return value


def show(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: claim values are shown, never at length."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def header_kid(segment: str) -> str:
    """Check the protected header of an RS256 JWS and return its ``kid``."""
    header = decode_json_object(segment, "header")
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise UnsupportedAlgorithmError(
            f"unsupported alg: expected 'RS256', got {show(alg)}; tokens are only "
            "accepted when signed with the issuer's RSA keys",
            claim="alg",
            expected=ALGORITHM,
            actual=alg,
        )
    if "crit" in header:
        # RFC 7515 §4.1.11: extensions we do not implement must make the token fail.
        raise MalformedTokenError(
            f"the JWT header marks extensions as critical ({show(header['crit'])}); "
            "none are supported",
            claim="crit",
            expected="absent",
            actual=header["crit"],
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise UnknownKeyError(
            f"the JWT header has no usable kid: expected a key id from the issuer's JWKS, "
            f"got {show(kid)}",
            claim="kid",
            expected="a key id from the issuer's JWKS",
            actual=kid,
        )
    return kid


class _Rs256:
    """cryptography's pieces for RS256, built once on first use."""

    def __init__(self) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        self.padding: AsymmetricPadding = padding.PKCS1v15()
        self.hash: HashAlgorithm = hashes.SHA256()
        self.invalid: type[Exception] = InvalidSignature
        self.public_numbers = rsa.RSAPublicNumbers


_rs256: _Rs256 | None = None


def _crypto() -> _Rs256:
    global _rs256
    if _rs256 is None:
        _rs256 = _Rs256()
    return _rs256


class RsaKey:
    """One RS256 signing key from a JWKS, loaded once and reused for every token."""

    __slots__ = ("_hash", "_invalid", "_key", "_padding", "bits", "kid")

    def __init__(self, kid: str, n: int, e: int) -> None:
        crypto = _crypto()
        self.kid = kid
        # ValueError for numbers that are no RSA public key (cryptography checks them).
        self._key: RSAPublicKey = crypto.public_numbers(e, n).public_key()
        self.bits = self._key.key_size
        self._padding = crypto.padding
        self._hash = crypto.hash
        self._invalid = crypto.invalid

    def __repr__(self) -> str:
        return f"RsaKey(kid={self.kid!r}, bits={self.bits})"

    def verify(self, signature: bytes, signing_input: bytes) -> bool:
        """Whether ``signature`` is this key's RS256 signature of ``signing_input``."""
        try:
            self._key.verify(signature, signing_input, self._padding, self._hash)
        except self._invalid:
            return False
        except (ValueError, TypeError):  # defensive: odd lengths must not escape as-is
            return False
        return True
