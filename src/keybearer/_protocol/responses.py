"""Reading a provider's answer: the rules every endpoint shares, written once.

Each flow (token endpoint, cognito-idp, JWKS, discovery) and the driver's
retry loop read the same few things from a response: how long the provider
asks us to wait, which AWS error type it names, whether it failed on its side
or is throttling, and whether the body is too large to be what we expect.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Iterable

import httpx

from keybearer._redact import provider_text
from keybearer.errors import ProtocolError, ServiceError, ThrottledError

__all__ = [
    "MAX_BODY",
    "aws_error_type",
    "check_size",
    "json_or_none",
    "retry_after",
    "server_error",
    "status_error",
]

#: The largest answer a flow parses. Every answer keybearer expects is a few KB.
MAX_BODY = 1 << 20


def retry_after(response: httpx.Response, *, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), if usable.

    A value in the past counts as 0; an infinite or NaN one as none at all.
    """
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def aws_error_type(
    response: httpx.Response, body: object, secrets: Iterable[str] = ()
) -> str | None:
    """The AWS error type (``NotAuthorizedException``), as AWS's own SDKs find it.

    The ``x-amzn-ErrorType`` header first, then the body's ``code``, then its
    ``__type``; stripped of a namespace (``...#``) and of the ``:``/``,`` tails.
    It is the provider's text: ``secrets`` are redacted from it before it is
    cut up (:func:`keybearer._redact.provider_text`).
    """
    raw: object = response.headers.get("x-amzn-errortype")
    if not raw and isinstance(body, dict):
        raw = body.get("code") or body.get("__type")
    text = provider_text(raw, secrets, limit=200)
    if not text:
        return None
    text = text.split(":", 1)[0].split(",", 1)[0]
    return text.rsplit("#", 1)[-1].strip() or None


def server_error(response: httpx.Response, what: str) -> ThrottledError | ServiceError | None:
    """The transient error for HTTP 429 or 5xx from ``what`` (e.g. "the token endpoint")."""
    return status_error(response, f"{what}: the provider")


def status_error(response: httpx.Response, who: str) -> ThrottledError | ServiceError | None:
    """The transient error for HTTP 429 or 5xx; ``who`` is the subject of its message.

    ``who="the JWKS endpoint <url>"`` gives "the JWKS endpoint <url> is
    throttling this client (HTTP 429)" or "... failed on its side (HTTP 503)".
    """
    status = response.status_code
    if status == 429:
        return ThrottledError(
            f"{who} is throttling this client (HTTP 429)",
            status_code=status,
            retry_after=retry_after(response),
        )
    if status >= 500:
        return ServiceError(f"{who} failed on its side (HTTP {status})", status_code=status)
    return None


def check_size(response: httpx.Response, what: str) -> None:
    """Refuse an answer larger than :data:`MAX_BODY` before parsing it."""
    if len(response.content) > MAX_BODY:
        raise ProtocolError(
            f"{what} was {len(response.content)} bytes, far larger than any answer it gives",
            status_code=response.status_code,
        )


def json_or_none(response: httpx.Response, what: str) -> object:
    """The JSON body (size-checked), or None if it is not JSON."""
    check_size(response, what)
    try:
        parsed: object = json.loads(response.content)
    except (ValueError, RecursionError):
        return None
    return parsed
