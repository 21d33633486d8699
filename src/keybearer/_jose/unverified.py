"""The package's one JWT segment decoder: base64url and JSON, nothing verified.

Used on the hot path (a token's expiry, its username) and by the verifier to
read a header before any key is looked at. It imports neither joserfc nor
cryptography, so it stays cheap.

Base64url is decoded strictly (RFC 7515 §2, RFC 4648 §3.5): only the URL-safe
alphabet, no padding, no whitespace, and the unused bits of the last character
must be zero. Without that last rule sixteen spellings of one signature would
decode to the same bytes; with it each byte string has exactly one spelling.
"""

from __future__ import annotations

import binascii
import json
import sys
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any

from keybearer.errors import MalformedTokenError

#: Longer strings are refused before any decoding. Cognito's tokens are 1-4 KB;
#: an ID token with many custom attributes and groups stays well under this.
MAX_TOKEN_LENGTH = 16 * 1024

# The last character of a segment whose length is 2 or 3 (mod 4) carries 4 or 2
# bits that encode nothing; they must be zero. These are the characters that
# leave them zero.
_CANONICAL_LAST = ("", "", "AQgw", "AEIMQUYcgkosw048")

if sys.version_info >= (3, 11):
    # base64url -> base64 for binascii's strict mode, which then refuses any byte
    # outside the alphabet, stray padding and whitespace. '+', '/' and '=' are not
    # base64url, so they become '!' and fail too.
    _TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
    _PADDING = (b"", b"===", b"==", b"=")  # by length % 4; "===" makes % 4 == 1 fail

    def _decode(segment: str) -> bytes:
        data = segment.encode("ascii").translate(_TO_STANDARD)
        return binascii.a2b_base64(data + _PADDING[len(data) & 3], strict_mode=True)

else:  # pragma: no cover - Python 3.10 has no strict mode; check the alphabet first
    import base64
    import re

    _BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

    def _decode(segment: str) -> bytes:
        if _BASE64URL.fullmatch(segment) is None or len(segment) % 4 == 1:
            raise ValueError("not base64url")
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64url_decode(segment: str) -> bytes:
    """Decode canonical unpadded base64url; ``ValueError`` for anything else.

    Anything else: a character outside the URL-safe alphabet, padding,
    whitespace, an impossible length, or non-zero unused trailing bits.
    """
    tail = len(segment) & 3
    if tail and segment[-1] not in _CANONICAL_LAST[tail]:
        raise ValueError("not canonical base64url")
    return _decode(segment)


def is_canonical(segment: str) -> bool:
    """Whether ``segment`` is canonical unpadded base64url (see :func:`b64url_decode`)."""
    try:
        b64url_decode(segment)
    except ValueError:
        return False
    return True


# json.loads() spends a third of its time in Python around the C scanner; call the
# scanner directly and let json.loads() judge only what it does not take whole.
_scan_json: Callable[[str, int], tuple[Any, int]] = make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]  # typeshed types the class, not the call
)


def json_segment(segment: str) -> Any:
    """The JSON value a base64url segment holds, or ``None`` if it holds none."""
    try:
        raw = b64url_decode(segment)
    except ValueError:
        return None
    return json_value(raw)


def json_value(raw: bytes) -> Any:
    """The JSON value UTF-8 ``raw`` holds, or ``None`` if it holds none."""
    try:
        text = raw.decode("utf-8")
        try:
            value, end = _scan_json(text, 0)
        except StopIteration:  # the scanner's "no JSON value starts here"
            return json.loads(text)
        return value if end == len(text) else json.loads(text)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON
        return None


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_KINDS[type(None)] = "null"


def decode_json_object(segment: str, what: str) -> dict[str, Any]:
    """The JSON object a base64url segment holds, or ``MalformedTokenError`` saying why."""
    value = _json_or_undecodable(segment)
    if value is _UNDECODABLE:
        raise MalformedTokenError(
            f"the JWT {what} is not base64url-encoded JSON",
            claim=what,
            expected="base64url-encoded JSON",
            actual="undecodable",
        )
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), "value")
        raise MalformedTokenError(
            f"the JWT {what} is a JSON {kind}, not an object",
            claim=what,
            expected="a JSON object",
            actual=f"a JSON {kind}",
        )
    return value


_UNDECODABLE = object()


def _json_or_undecodable(segment: str) -> Any:
    # Returns a marker instead of raising, so the caller's error has no
    # __context__ (the decoder's exception could quote the decoded text).
    try:
        return json.loads(b64url_decode(segment).decode("utf-8"))
    except (ValueError, RecursionError):
        return _UNDECODABLE


def show(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: claim values are shown, never at length."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, or ``{}`` when ``token`` is not one.

    Nothing here decides whether a token is trustworthy; the API does that,
    and ``keybearer.verify``. Opaque or malformed tokens give an empty mapping,
    never an exception, because a provider may hand out non-JWT access tokens.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    claims = json_segment(parts[1])
    return claims if type(claims) is dict else {}
