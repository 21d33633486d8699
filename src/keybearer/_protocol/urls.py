"""Which hosts count as this machine, and which URLs may carry secrets.

The one copy of the rule: configuration checks the URLs a user gives, the
protocol layer checks the ones a provider's discovery document names, and the
I/O layer uses the loopback test for its host allow-lists.
"""

from __future__ import annotations

import ipaddress

import httpx


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secure_url(url: str, *, what: str) -> str:
    """Return ``url`` if secrets may travel to it: https, or plain http to loopback.

    Raises ``ValueError`` (pydantic turns it into a validation error) otherwise.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"{what} is not a valid URL: {url!r}") from exc
    if not parsed.host:
        raise ValueError(f"{what} must be an absolute URL, got {url!r}")
    if parsed.port is not None and not 0 <= parsed.port <= 65535:
        raise ValueError(f"{what} has port {parsed.port}; a port is a number from 0 to 65535")
    if parsed.scheme == "https":
        return url
    if parsed.scheme == "http" and is_loopback_host(parsed.host):
        return url
    if parsed.scheme == "http":
        raise ValueError(
            f"{what} uses plain http to {parsed.host!r}; tokens and passwords only travel "
            "over https (plain http is allowed for 127.0.0.1 and localhost)"
        )
    raise ValueError(f"{what} must be an https URL, got scheme {parsed.scheme!r}")
