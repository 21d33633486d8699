"""Keeping secrets out of what keybearer says: one redaction step.

**Redaction.** A provider may quote in its error message what the request sent
(some stand-ins quote the refresh token; a hostile one quotes anything). Every
provider message, on every endpoint, goes through :func:`provider_text` before
it reaches an exception or a log: it removes every secret the request carried,
*then* clips the text, so no clipped remnant of a long token survives.

The secrets are read from the request itself (:func:`request_secrets`), so a
flow cannot forget one: the credentials of its ``Authorization`` header, and
every value of its form or JSON body except the fields known to be public
(``client_id``, ``grant_type``, ``USERNAME``, ...). A field not listed as public
counts as secret: a new grant's new field is redacted until someone decides
otherwise.

Errors made from foreign exceptions that hold secrets are the other half of
the rule; see :mod:`keybearer._chains`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

import httpx

if TYPE_CHECKING:
    from keybearer.errors import KeybearerError

REDACTED = "[redacted]"

#: Body fields that never hold a secret. Everything else a request carries does.
PUBLIC_FIELDS = frozenset(
    {
        # OAuth 2.0 forms (RFC 6749, RFC 7009)
        "grant_type",
        "client_id",
        "redirect_uri",
        "scope",
        "scopes",
        "response_type",
        "token_type_hint",
        # cognito-idp JSON
        "AuthFlow",
        "ClientId",
        "ChallengeName",
        "Scopes",
        "USERNAME",
        "Username",
        "USER_ID_FOR_SRP",
        "TIMESTAMP",
        "PREFERRED_CHALLENGE",
        "FriendlyDeviceName",
        "DeviceName",
    }
)

#: Shorter "secrets" are not looked for: a one-letter code would shred every
#: message it appears in, and no real credential is that short (Cognito's
#: passwords have at least 6 characters, its codes 6 digits).
SHORTEST = 4

#: A run this long that also occurs inside a secret is part of that secret: a
#: provider that quotes half a token (or splits it over two fields) leaks it too.
#: Sixteen characters of a random token cannot occur in a message by chance.
FRAGMENT = 16

_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


#: A request extension: secrets behind the request that it does not carry as such
#: (the client secret behind a SECRET_HASH), to be redacted all the same.
SECRETS_EXTENSION = "keybearer.secrets"


def request_secrets(request: httpx.Request) -> frozenset[str]:
    """Every secret ``request`` carries: header credentials and non-public body values.

    Plus what its builder declared under :data:`SECRETS_EXTENSION`.
    """
    declared = request.extensions.get(SECRETS_EXTENSION, ())
    found: set[str] = {secret for secret in declared if isinstance(secret, str)}
    for name in _CREDENTIAL_HEADERS:
        for value in request.headers.get_list(name):
            found.update(_header_secrets(value))
    with contextlib.suppress(httpx.RequestNotRead):
        found.update(_body_secrets(request))
    found.discard("")
    return frozenset(found)


def response_secrets(response: httpx.Response) -> frozenset[str]:
    """The secrets of the request ``response`` answers (none if it names no request)."""
    try:
        request = response.request
    except RuntimeError:  # a Response built without one: nothing was sent
        return frozenset()
    return request_secrets(request)


def _header_secrets(value: str) -> Iterator[str]:
    yield value
    scheme, _, credentials = value.partition(" ")
    credentials = credentials.strip()
    if not credentials:
        return
    yield credentials
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return
        # RFC 6749 §2.3.1: the id and secret are form-encoded before Base64.
        _, _, secret = pair.partition(":")
        yield secret
        yield unquote(secret)


def _body_secrets(request: httpx.Request) -> Iterator[str]:
    content = request.content
    if not content:
        return
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(content.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return
        yield from (value for name, value in pairs if name not in PUBLIC_FIELDS)
    elif kind.startswith("application/") and "json" in kind:  # cognito-idp: x-amz-json-1.1
        try:
            body = json.loads(content)
        except (ValueError, RecursionError):
            return
        yield from _json_secrets(body)


def _json_secrets(value: object, public: bool = False) -> Iterator[str]:
    if isinstance(value, str):
        if not public:
            yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_secrets(item, public=key in PUBLIC_FIELDS)
    elif isinstance(value, list):
        for item in value:
            yield from _json_secrets(item, public=public)


def _spellings(secret: str) -> set[str]:
    # How a provider might quote it: as sent, URL-encoded, or escaped inside JSON.
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret, in any of its spellings, and every fragment of one gone.

    A fragment is a run of :data:`FRAGMENT` or more characters that occurs in a
    secret at least that long. Secrets shorter than :data:`SHORTEST` are left alone.
    """
    spelled: set[str] = set()
    grams: set[str] = set()
    for secret in secrets:
        if len(secret) < SHORTEST:
            continue
        spelled |= {spelling for spelling in _spellings(secret) if spelling in text}
        if len(secret) >= FRAGMENT:
            grams.update(secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1))
    if spelled:
        # One pass, longest first: a secret that contains another goes whole, and
        # a marker already written is never searched again.
        pattern = "|".join(re.escape(s) for s in sorted(spelled, key=len, reverse=True))
        text = re.sub(pattern, REDACTED, text)
    if not grams or len(text) < FRAGMENT:
        return text
    spans: list[list[int]] = []
    for start in range(len(text) - FRAGMENT + 1):
        if text[start : start + FRAGMENT] in grams:
            end = start + FRAGMENT
            if spans and start <= spans[-1][1]:
                spans[-1][1] = end
            else:
                spans.append([start, end])
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text


def provider_text(value: object, secrets: Iterable[str], *, limit: int) -> str | None:
    """The one step every provider-supplied string takes before keybearer shows it.

    Not a string: ``None``. Otherwise the secrets are redacted first, and only
    then is the text clipped to ``limit`` characters.
    """
    if not isinstance(value, str):
        return None
    return redact(value, secrets)[:limit]


def scrub(error: KeybearerError, secrets: Iterable[str]) -> KeybearerError:
    """Redact ``secrets`` from everything ``error`` says (message, args, code, provider message).

    The drivers apply it to every error a flow raises, with the secrets of the
    request it answered: a backstop for a message built without
    :func:`provider_text`.
    """
    secrets = frozenset(secrets)
    if not secrets:
        return error
    error.message = redact(error.message, secrets)
    error.args = tuple(redact(a, secrets) if isinstance(a, str) else a for a in error.args)
    if error.code is not None:
        error.code = redact(error.code, secrets)
    if error.provider_message is not None:
        error.provider_message = redact(error.provider_message, secrets)
    return error


def scrubbed_response(response: object) -> Any:
    """A copy of ``response`` to keep in an exception: no credential of its request in it.

    The request's ``Authorization`` (and cookie) headers become ``[redacted]``,
    and the token is redacted wherever the answer quotes it back (API Gateway
    echoes the header in some 403 messages). Anything but an ``httpx.Response``
    is returned as it is.
    """
    if not isinstance(response, httpx.Response):
        return response
    try:
        request = response.request
    except RuntimeError:
        return response
    secrets = request_secrets(request)
    headers = [
        (name, REDACTED if name.lower() in _CREDENTIAL_HEADERS else value)
        for name, value in request.headers.multi_items()
    ]
    clean_request = httpx.Request(request.method, request.url, headers=headers)
    try:
        content = response.content
    except httpx.ResponseNotRead:
        content = b""
    for secret in sorted(secrets, key=len, reverse=True):
        content = content.replace(secret.encode("utf-8", "surrogatepass"), REDACTED.encode())
    answer_headers = [
        (name, redact(value, secrets))
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    extensions = {k: v for k, v in response.extensions.items() if k != "network_stream"}
    return httpx.Response(
        response.status_code,
        headers=answer_headers,
        content=content,
        request=clean_request,
        extensions=extensions,
    )
