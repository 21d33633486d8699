"""TokenSet: the tokens of one signed-in session, with a redacted face."""

from __future__ import annotations

import datetime as _dt
import html
import json
import time
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from keybearer._chains import detached
from keybearer._jose.unverified import unverified_claims
from keybearer.errors import LoginRequiredError, StoreError

Origin = Literal["password", "hosted_ui", "implicit", "rotating", "client_credentials"]
"""How the session was obtained, which decides how it is refreshed:

- ``password``: cognito-idp ``InitiateAuth`` (refresh with ``REFRESH_TOKEN_AUTH``)
- ``rotating``: as ``password``, for an app client that rotates refresh tokens
  (refresh with ``GetTokensFromRefreshToken``)
- ``hosted_ui``: the OAuth token endpoint (refresh with ``grant_type=refresh_token``)
- ``implicit``: a browser redirect; there is no refresh token
- ``client_credentials``: the app client's own token; a new one replaces it
"""

_FORMAT_VERSION = 1

#: The longest lifetime a provider may give a token: ten years. (Cognito's
#: longest is one day for ID and access tokens.) More is a broken answer.
MAX_LIFETIME = 10 * 365 * 86400


def is_token_text(value: object) -> bool:
    """RFC 6749 (A.12-A.13): a token is one or more printable ASCII characters.

    Anything else cannot go into an ``Authorization`` header or a refresh form
    (httpx raises ``UnicodeEncodeError``), so it is refused on receipt.
    """
    return isinstance(value, str) and bool(value) and value.isascii() and value.isprintable()


def is_text(value: str) -> bool:
    """Encodable as UTF-8: no lone surrogates (what undecodable input bytes become)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lifetime(value: object) -> float | None:
    """``expires_in`` as seconds, or None unless it is a number in [1, MAX_LIFETIME].

    Digits in a string are accepted (some providers send ``"3600"``), ASCII only:
    ``"²".isdigit()`` is true but ``int("²")`` fails. NaN, infinities and numbers
    too large for a float are refused, never turned into an expiry.
    """
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 12:
            return None
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and value > MAX_LIFETIME:
        return None
    seconds = float(value)
    # Under a second is no lifetime either: it would mean a refresh per request.
    return seconds if 1 <= seconds <= MAX_LIFETIME else None  # NaN fails both


def _tail(secret: SecretStr | None) -> str:
    if secret is None:
        return "none"
    value = secret.get_secret_value()
    # Four characters of a JWT signature identify a token in logs without
    # making it usable; shorter values are shown as fully hidden.
    return f"…{value[-4:]}" if len(value) >= 32 else "…"


#: How each way of signing in is named to a person.
ORIGIN_LABELS: dict[str, str] = {
    "password": "password sign-in",
    "rotating": "password sign-in (rotating refresh tokens)",
    "hosted_ui": "browser sign-in",
    "implicit": "browser sign-in (implicit grant, no refresh token)",
}


def span(seconds: float) -> str:
    """A length of time as a person says it: "45 s", "12 min", "3 h", "2 days"."""
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


class TokenSet(BaseModel):
    """ID, access and refresh tokens, their absolute expiry and where they came from.

    ``repr()``/``str()`` never show a token: only its last four characters and
    the expiry. The claims (``sub``, ``username``, ``scope``...) are read from the
    tokens *without* verifying them; they describe, they do not authorize.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    access_token: SecretStr
    id_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    expires_at: float
    """Seconds since the epoch, by the local clock at the time the tokens arrived."""
    obtained_at: float | None = None
    """When the tokens arrived (same clock), so short-lived tokens refresh in proportion."""
    token_type: str = "Bearer"
    origin: Origin = "password"
    username: str | None = None
    """The provider's own username (for Cognito the ``cognito:username`` claim),
    which Cognito's ``SECRET_HASH`` on refresh must be computed from."""
    ended: bool = False
    """The provider refused the refresh token: the session is over until a new sign-in.

    Kept with the tokens (not deleted: a refused refresh never wipes them), so
    that every process, and ``keybearer whoami``, sees the end too."""

    @cached_property
    def id_claims(self) -> dict[str, Any]:
        """Unverified claims of the ID token (``{}`` when there is none)."""
        return unverified_claims(self.id_token.get_secret_value()) if self.id_token else {}

    @cached_property
    def access_claims(self) -> dict[str, Any]:
        """Unverified claims of the access token (``{}`` when it is opaque)."""
        return unverified_claims(self.access_token.get_secret_value())

    @property
    def sub(self) -> str | None:
        value = self.id_claims.get("sub") or self.access_claims.get("sub")
        return str(value) if value is not None else None

    @property
    def claimed_username(self) -> str | None:
        """The provider's username as the tokens state it (unverified).

        Cognito's ``cognito:username`` (ID token) or ``username`` (access
        token); another provider's ``sub`` when it names no username.
        """
        for claims, name in (
            (self.id_claims, "cognito:username"),
            (self.access_claims, "username"),
            (self.id_claims, "sub"),
            (self.access_claims, "sub"),
        ):
            value = claims.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    @property
    def scopes(self) -> tuple[str, ...]:
        """The access token's ``scope`` claim, split on spaces."""
        scope = self.access_claims.get("scope")
        return tuple(scope.split()) if isinstance(scope, str) else ()

    @property
    def expires_at_datetime(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.expires_at, tz=_dt.timezone.utc)

    def expires_in(self, now: float) -> float:
        """Seconds left at ``now`` (negative once expired)."""
        return self.expires_at - now

    def token(self, kind: Literal["id", "access"]) -> str:
        """The raw ID or access token. Handle with care: this is the secret."""
        if kind == "access":
            return self.access_token.get_secret_value()
        if self.id_token is None:
            raise LoginRequiredError(
                "this session has no ID token (was the 'openid' scope requested?); "
                "send the access token instead with send='access'"
            )
        return self.id_token.get_secret_value()

    def __repr__(self) -> str:
        expiry = self.expires_at_datetime.strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"TokenSet(origin={self.origin!r}, username={self.username!r}, "
            f"id_token={_tail(self.id_token)!r}, access_token={_tail(self.access_token)!r}, "
            f"refresh_token={'set' if self.refresh_token else 'none'}, expires_at={expiry})"
        )

    __str__ = __repr__

    def _repr_html_(self) -> str:
        """How a notebook shows the session: who, how, until when. Never a token."""
        rows = {
            "user": self.username or self.sub or "unknown",
            "signed in by": ORIGIN_LABELS.get(self.origin, self.origin),
            "scopes": " ".join(self.scopes) or "(none in the access token)",
            "session": self.status(time.time()),
            "refresh token": "yes" if self.refresh_token else "no",
        }
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows.items()
        )
        return f"<table>{cells}</table>"

    def status(self, now: float) -> str:
        """The session in a few words: "expires in 12 min", "expired 3 min ago", "ended"."""
        if self.ended:
            return "ended: sign in again"
        left = self.expires_at - now
        if left >= 0:
            return f"expires in {span(left)}"
        if self.refresh_token is not None:
            return f"expired {span(-left)} ago; refreshed on next use"
        return f"expired {span(-left)} ago"

    def to_json(self) -> str:
        """Serialize *with* the secrets, for a token store. Never log the result."""
        data: dict[str, Any] = {
            "v": _FORMAT_VERSION,
            "access_token": self.access_token.get_secret_value(),
            "id_token": self.id_token.get_secret_value() if self.id_token else None,
            "refresh_token": self.refresh_token.get_secret_value() if self.refresh_token else None,
            "expires_at": self.expires_at,
            "obtained_at": self.obtained_at,
            "token_type": self.token_type,
            "origin": self.origin,
            "username": self.username,
            "ended": self.ended,
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    @detached()  # the decode or validation error holds the stored text: the tokens
    def from_json(cls, text: str) -> TokenSet:
        """Parse what :meth:`to_json` wrote; a damaged value raises ``StoreError``."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != _FORMAT_VERSION:
                raise ValueError("unknown format")
            return cls.model_validate(data)
        except (ValueError, ValidationError, RecursionError) as exc:
            # The message names the problem, never the stored text (it holds tokens).
            raise StoreError(
                f"the stored token set is damaged or from an unknown version ({type(exc).__name__})"
            ) from None
