"""Read whatever a user pastes back after signing in in a browser.

One parser for every form: a redirect URL with ``?code=&state=``, one with an
implicit-grant ``#id_token=...&access_token=...`` fragment, an error redirect
(``error=`` in the query or the fragment), or just the query/fragment part.
Anything else is a clear ``RedirectParseError``, never a parser's traceback.

authlib's ``parse_authorization_code_response`` and ``parse_implicit_response``
read the redirect. They are lenient where a pasted URL must not be: a repeated
``state`` or ``code`` silently keeps the last one, a blank ``access_token``
passes, an ``error=`` redirect is not looked at, and they raise authlib's own
exceptions. So the text is screened first (:func:`redirect_params`), error
redirects become a ``LoginError``, and authlib's exceptions become
``RedirectParseError``. Whether ``state`` belongs to a sign-in started here is
the caller's check: it knows the attempts; this module does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from keybearer._chains import detached
from keybearer.errors import LoginError, RedirectParseError

__all__ = ["Redirect", "RedirectParseError", "parse_redirect", "redirect_params"]

# A real redirect is a few KB; far more is not one, and is not worth parsing.
_MAX_LENGTH = 64 * 1024
# A redirect carries a handful of parameters; thousands are an attack on the parser.
_MAX_FIELDS = 64
# The parameters keybearer reads: each may appear once. Two codes or two states
# is a tampered or confused redirect.
_READ = (
    "code",
    "state",
    "error",
    "error_description",
    "access_token",
    "id_token",
    "token_type",
    "expires_in",
)
# authlib's exception codes (their ``error``), said the way a person can act on.
_MISSING = {
    "missing_code": (
        "no authorization code or tokens found in what was pasted: paste the whole URL "
        "the browser shows after signing in (it starts with your redirect URI)"
    ),
    "missing_token": "the redirect's #fragment has tokens but no access_token",
    "missing_token_type": "the redirect's #fragment has no token_type",
}


@dataclass(frozen=True, repr=False)
class Redirect:
    """The parts of a sign-in redirect that matter. Holds secrets: not shown."""

    state: str | None
    code: str | None = None
    id_token: str | None = None
    access_token: str | None = None
    token_type: str | None = None
    expires_in: float | None = None

    @property
    def is_implicit(self) -> bool:
        return self.access_token is not None or self.id_token is not None

    def __repr__(self) -> str:
        kind = "code" if self.code else "implicit" if self.is_implicit else "empty"
        return f"Redirect(kind={kind!r})"


def redirect_params(part: str) -> dict[str, str]:
    """The parameters of a redirect's query or fragment, blank ones as ``""``.

    Raises ``RedirectParseError`` when there are far too many, or when one that
    keybearer reads (``code``, ``state``, ``error``, the tokens...) repeats.
    The loopback receiver reads its ``state`` with this too.
    """
    try:
        params = parse_qs(part, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        raise RedirectParseError("the redirect has far too many parameters to be one") from None
    for name in _READ:
        if len(params.get(name, ())) > 1:
            raise RedirectParseError(f"the redirect carries {name!r} more than once")
    return {name: values[0] for name, values in params.items()}


def _screened(pasted: str) -> str:
    """The pasted text as a URL authlib can read, or a ``RedirectParseError``."""
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
    # A bare "code=...&state=..." is the query of a redirect.
    return text if "://" in text or text[0] in "?#" else "?" + text


def _refusal(params: dict[str, str]) -> LoginError:
    error = params["error"][:100]
    description = params.get("error_description", "")[:300] or None
    said = f": {description}" if description else ""
    return LoginError(
        f"the provider refused the sign-in ({error}){said}",
        code=error,
        provider_message=description,
    )


def _expires_in(value: str) -> float | None:
    if not value:
        return None
    try:
        expires_in = float(value)
    except ValueError:
        raise RedirectParseError("the redirect's expires_in is not a number") from None
    if not 0 < expires_in < 10**8:  # NaN fails too
        raise RedirectParseError("the redirect's expires_in is out of range")
    return expires_in


def _implicit(params: dict[str, str]) -> Redirect:
    """An implicit-grant fragment that authlib found ``access_token`` and ``token_type`` in."""
    for name in ("access_token", "token_type"):
        if not params.get(name):
            raise RedirectParseError(f"the redirect's {name} is empty")
    for name in ("access_token", "id_token"):
        value = params.get(name)
        if value and not (value.isascii() and value.isprintable()):
            raise RedirectParseError(f"the redirect's {name} is not a token")
    return Redirect(
        state=params.get("state") or None,
        id_token=params.get("id_token") or None,
        access_token=params["access_token"],
        token_type=params["token_type"],
        expires_in=_expires_in(params.get("expires_in", "")),
    )


@detached()  # a UnicodeEncodeError keeps the pasted text: the code
def parse_redirect(pasted: str) -> Redirect:
    """Parse a pasted redirect URL (or its query/fragment part).

    Returns a :class:`Redirect` with a code (from the query) or with tokens
    (from the fragment; these win when both are there, so that a code sign-in
    can refuse them). An error redirect raises ``LoginError`` with the
    provider's ``code`` and ``provider_message``; anything unreadable raises
    ``RedirectParseError``. No message quotes a code or a token.
    """
    url = _screened(pasted)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise RedirectParseError("what was pasted is not a URL") from None
    query = redirect_params(parts.query)
    fragment = redirect_params(parts.fragment)
    for params in (query, fragment):
        if params.get("error"):
            raise _refusal(params)

    # Lazy: authlib loads only when a sign-in finishes.
    from authlib.oauth2.rfc6749.errors import OAuth2Error
    from authlib.oauth2.rfc6749.parameters import (
        parse_authorization_code_response,
        parse_implicit_response,
    )

    try:
        if fragment.get("access_token") or fragment.get("id_token"):
            return _implicit(parse_implicit_response(url))
        answer: dict[str, str] = parse_authorization_code_response(url)
    except OAuth2Error as exc:
        raise RedirectParseError(
            _MISSING.get(str(exc.error), "what was pasted is not a sign-in redirect")
        ) from None
    except ValueError:  # urllib's, for a URL that urlsplit read but urlparse does not
        raise RedirectParseError("what was pasted is not a URL") from None
    return Redirect(state=answer.get("state") or None, code=answer["code"])
