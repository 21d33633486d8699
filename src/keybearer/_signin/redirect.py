"""Read whatever a user pastes back after signing in in a browser.

One parser for every form: a redirect URL with ``?code=&state=``, one with an
implicit-grant ``#id_token=...&access_token=...`` fragment, an error redirect
(``error=`` in the query or the fragment), or just the query/fragment part.
Anything else is a clear ``RedirectParseError``, never a parser's traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from keybearer._redact import detached
from keybearer.errors import LoginError, RedirectParseError

__all__ = ["Redirect", "RedirectParseError", "parse_redirect"]

# A real redirect is a few KB; far more is not one, and is not worth parsing.
_MAX_LENGTH = 64 * 1024


@dataclass(frozen=True, repr=False)
class Redirect:
    """The parts of a sign-in redirect that matter. Holds secrets: not shown."""

    state: str | None
    code: str | None = None
    id_token: str | None = None
    access_token: str | None = None
    token_type: str | None = None
    expires_in: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_implicit(self) -> bool:
        return self.access_token is not None or self.id_token is not None

    def __repr__(self) -> str:
        kind = "code" if self.code else "implicit" if self.is_implicit else "empty"
        return f"Redirect(kind={kind!r})"


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        # Two codes or two states is a tampered or confused redirect.
        raise RedirectParseError(f"the redirect carries {name!r} more than once")
    return values[0]


def _params(text: str) -> dict[str, list[str]]:
    try:
        return parse_qs(text, keep_blank_values=False, strict_parsing=False, max_num_fields=64)
    except ValueError as exc:
        raise RedirectParseError(f"the redirect's parameters cannot be read ({exc})") from None


@detached()  # a UnicodeEncodeError keeps the pasted text: the code
def parse_redirect(pasted: str) -> Redirect:
    """Parse a pasted redirect URL (or its query/fragment part)."""
    if not isinstance(pasted, str):
        raise RedirectParseError("expected the redirect URL as a string")
    text = pasted.strip().strip("'\"<>")
    if not text:
        raise RedirectParseError("nothing was pasted: paste the whole URL the browser shows")
    if len(text) > _MAX_LENGTH:
        raise RedirectParseError("what was pasted is far too long to be a sign-in redirect")
    if any(ord(ch) < 32 for ch in text):
        raise RedirectParseError("what was pasted contains control characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates (undecodable bytes read with surrogateescape) cannot
            # be sent on to the token endpoint.
            raise RedirectParseError(
                "what was pasted contains characters that are not text"
            ) from None
    try:
        parts = urlsplit(text if "://" in text or text[0] in "?#" else "?" + text)
    except ValueError:
        raise RedirectParseError("what was pasted is not a URL") from None
    query = _params(parts.query)
    fragment = _params(parts.fragment)

    for params in (query, fragment):
        error = _single(params, "error")
        if error is not None:
            description = _single(params, "error_description")
            said = f": {description[:300]}" if description else ""
            raise LoginError(
                f"the provider refused the sign-in ({error[:100]}){said}",
                code=error[:100],
                provider_message=description[:300] if description else None,
            )

    if _single(fragment, "access_token") or _single(fragment, "id_token"):
        expires = _single(fragment, "expires_in")
        try:
            expires_in = float(expires) if expires is not None else None
        except ValueError:
            raise RedirectParseError("the redirect's expires_in is not a number") from None
        if expires_in is not None and not 0 < expires_in < 10**8:
            raise RedirectParseError("the redirect's expires_in is out of range")
        for name in ("access_token", "id_token"):
            value = _single(fragment, name)
            if value and not (value.isascii() and value.isprintable()):
                raise RedirectParseError(f"the redirect's {name} is not a token")
        return Redirect(
            state=_single(fragment, "state"),
            id_token=_single(fragment, "id_token"),
            access_token=_single(fragment, "access_token"),
            token_type=_single(fragment, "token_type"),
            expires_in=expires_in,
        )
    code = _single(query, "code")
    if code:
        extra = {k: v[0] for k, v in query.items() if k == "iss" and v}
        return Redirect(state=_single(query, "state"), code=code, extra=extra)
    raise RedirectParseError(
        "no authorization code or tokens found in what was pasted: paste the whole URL "
        "the browser shows after signing in (it starts with your redirect URI)"
    )
