"""Which hosts count as this machine, and which URLs may carry secrets.

The one copy of the rule: configuration checks the URLs a user gives, the
protocol layer checks the ones a provider's discovery document names, the
I/O layer uses the loopback test for its host allow-lists, and every httpx
client keybearer builds keeps loopback destinations off proxies
(:func:`loopback_mounts`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.request import getproxies

import httpx


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``: the hosts plain http may carry secrets to.

    Only these. ``*.localhost`` names are not: RFC 6761 asks resolvers to keep
    them on this machine, but common systems send them to DNS like any name.
    """
    host = host.strip("[]").lower()
    if host == "localhost":
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


#: The loopback names every client keeps off proxies, whatever it is configured with.
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def loopback_mounts(destinations: Iterable[str] = ()) -> dict[str, None]:
    """httpx ``mounts`` that send loopback destinations direct, never through a proxy.

    httpx (``trust_env``, the default) routes requests through the proxy named
    by ``HTTP_PROXY``, ``HTTPS_PROXY`` or ``ALL_PROXY``; to a plain-http
    loopback API that hands the proxy the token (or the password) in clear
    text, and the proxy's idea of ``127.0.0.1`` is not this machine anyway. A
    mount of ``None`` means "this client's own transport, no proxy", and httpx
    prefers a host mount to the proxy's scheme-wide one. Mounts match hosts
    exactly, so besides ``localhost``, ``127.0.0.1`` and ``::1`` every loopback
    host among ``destinations`` (URLs or bare hosts) gets its own.
    """
    if not _environment_names_a_proxy():
        # Nothing to route around, and every mount costs httpx a pattern match per request.
        return {}
    hosts = set(_LOOPBACK)
    for destination in destinations:
        try:
            host = httpx.URL(destination if "://" in destination else f"http://{destination}").host
        except (httpx.InvalidURL, TypeError):
            continue
        if host and is_loopback_host(host):
            hosts.add(host)
    return {f"all://[{host}]" if ":" in host else f"all://{host}": None for host in sorted(hosts)}


def _environment_names_a_proxy() -> bool:
    """Whether httpx (``trust_env``) would route some request through a proxy now.

    httpx reads the same variables through ``urllib.request.getproxies`` when a
    client is built, which is also when :func:`loopback_mounts` is called.
    """
    return any(scheme in ("http", "https", "all") for scheme in getproxies())
