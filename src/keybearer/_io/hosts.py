"""Which hosts may receive the token."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from keybearer._io.urls import is_loopback_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_host(host: str) -> str:
    """``host`` in the one form both sides of a comparison use: lower-case IDNA (punycode).

    ``bücher.example``, ``BÜCHER.example`` and ``xn--bcher-kva.example`` are one
    host; IP literals stay as they are (IPv6 without brackets). ``ValueError`` if
    it is not a host httpx can send to.
    """
    bare = host.strip("[]")
    literal = f"[{bare}]" if ":" in bare else bare
    try:
        url = httpx.URL(f"https://{literal}/")
    except httpx.InvalidURL as exc:
        raise ValueError(str(exc)) from None
    return url.raw_host.decode("ascii").lower()


def parse_entry(entry: str) -> tuple[str, int | None]:
    """``(host, port or None)`` for an allow-list entry; ``ValueError`` if it is none.

    The host is in :func:`canonical_host` form.
    """
    text = entry.strip()
    if "://" in text:
        # A URL names one origin: its port is pinned, defaulting by scheme.
        try:
            url = httpx.URL(text)
        except httpx.InvalidURL as exc:
            raise ValueError(str(exc)) from None
        if not url.host:
            raise ValueError("the URL names no host")
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
    else:
        host, sep, digits = text.rpartition(":")
        if sep and digits.isascii() and digits.isdigit() and "]" not in digits:
            text, port = host, int(digits)
        else:
            port = None
        url = None
    if port is not None and not 0 < port <= 65535:
        raise ValueError(f"port {port} is not a port")
    host = url.host if url is not None else text.strip("[]")
    if not host or any(ch.isspace() or ch in "/?#@" for ch in host):
        raise ValueError("it names no host")
    return canonical_host(host), port


class HostAllowList:
    """Hosts (``api.example.com``, ``api.example.com:8443`` or a URL) a token may go to.

    A token only travels over https, or plain http to this machine. An entry
    without a port allows any port of that host.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self._entries = frozenset(parse_entry(entry) for entry in entries if entry.strip())
        self._decided: dict[tuple[str, bytes, int | None], bool] = {}

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __repr__(self) -> str:
        shown = sorted(f"{host}:{port}" if port else host for host, port in self._entries)
        return f"HostAllowList({shown})"

    def permits(self, url: httpx.URL) -> bool:
        # raw_host is the IDNA (punycode) form httpx sends: the entries' form too.
        key = (url.scheme, url.raw_host, url.port)
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decide(url.scheme, url.raw_host.decode("ascii").lower(), url.port)
            if len(self._decided) < 256:
                self._decided[key] = decided
        return decided

    def _decide(self, scheme: str, host: str, port: int | None) -> bool:
        if scheme != "https" and not (scheme == "http" and is_loopback_host(host)):
            return False
        effective = port if port is not None else _DEFAULT_PORTS.get(scheme)
        return (host, None) in self._entries or (host, effective) in self._entries
