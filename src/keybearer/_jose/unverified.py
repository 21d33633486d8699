"""Read a JWT's claims without verifying it (for expiry and usernames only).

Nothing here decides whether a token is trustworthy; the API does that, and
``keybearer.verify`` will. Opaque or malformed tokens give an empty mapping,
never an exception, because a provider may hand out non-JWT access tokens.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, or ``{}`` when ``token`` is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}
