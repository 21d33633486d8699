"""Figure 1: what ``client.auth`` costs per request when the cached token is fresh.

Baseline: bare httpx with a static ``Authorization`` header, the floor any
auth can reach. Over ``httpx.MockTransport`` the difference is our code alone;
over a loopback server (a child process answering ``200 []``) it is what an
app sees. The alternatives, where installed, get the same token and the same
transport: httpx-auth's resource-owner-password grant (its token cache warm)
and Authlib's httpx ``OAuth2Client`` given a token dict.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections.abc import Callable
from typing import Any

import httpx

from benchmarks._children import Child
from benchmarks._harness import Bar, Row, Settings, Timed, alternate, compared, unavailable
from benchmarks._tokens import API_URL, make_tokens, signed_in_client

FIGURE = 1
BAR = Bar("ratio", 1.03)
_NAMES = {
    "keybearer": "client.auth",
    "httpx-auth": "httpx-auth OAuth2 (cached token)",
    "authlib": "Authlib OAuth2Client (token dict)",
}


def _api(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"[]")


def _token_endpoint(id_token: str) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"access_token": id_token, "token_type": "Bearer", "expires_in": 3600}
        )

    return answer


def _httpx_auth(id_token: str) -> httpx.Auth | None:
    try:
        import httpx_auth
    except ImportError:
        return None
    return httpx_auth.OAuth2ResourceOwnerPasswordCredentials(
        "https://auth.example.test/oauth2/token",
        "alice",
        "Correct-Horse-1",
        client=httpx.Client(transport=httpx.MockTransport(_token_endpoint(id_token))),
    )


def _authlib(asynchronous: bool) -> Any:
    try:
        with warnings.catch_warnings():
            # Its "use httpx2" notice: authlib.deprecate installs an "always"
            # filter on import, so ours goes in front of it afterwards.
            import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

            warnings.simplefilter("ignore")
            from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
                AsyncOAuth2Client,
                OAuth2Client,
            )
    except ImportError:
        return None
    return AsyncOAuth2Client if asynchronous else OAuth2Client


def _sync_timer(client: httpx.Client, url: str) -> Timed:
    def run(n: int) -> int:
        get = client.get
        started = time.perf_counter_ns()
        for _ in range(n):
            get(url)
        return time.perf_counter_ns() - started

    return run


def _async_timer(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, url: str) -> Timed:
    async def measure(n: int) -> int:
        get = client.get
        started = time.perf_counter_ns()
        for _ in range(n):
            await get(url)
        return time.perf_counter_ns() - started

    def run(n: int) -> int:
        return loop.run_until_complete(measure(n))

    return run


def _contenders(
    asynchronous: bool,
    transport_for: Callable[[], Any],
    url: str,
    api_host: str,
    loop: asyncio.AbstractEventLoop,
    stack: contextlib.ExitStack,
) -> tuple[dict[str, Timed], dict[str, str]]:
    """Clients for every contender, each with its own transport, all warm."""
    tokens = make_tokens()
    header = {"Authorization": f"Bearer {tokens.id_token}"}
    keybearer_client = signed_in_client(tokens, api_hosts=[api_host])
    stack.callback(keybearer_client.close)
    missing: dict[str, str] = {}
    clients: dict[str, Any] = {}
    cls: Any = httpx.AsyncClient if asynchronous else httpx.Client
    clients["bare"] = cls(transport=transport_for(), headers=header)
    clients["keybearer"] = cls(transport=transport_for(), auth=keybearer_client.auth)
    alt_auth = _httpx_auth(tokens.id_token)
    if alt_auth is None:
        missing["httpx-auth"] = "httpx-auth is not installed"
    else:
        clients["httpx-auth"] = cls(transport=transport_for(), auth=alt_auth)
    authlib_cls = _authlib(asynchronous)
    if authlib_cls is None:
        missing["authlib"] = "Authlib is not installed"
    else:
        token = {
            "access_token": tokens.id_token,
            "token_type": "Bearer",
            "expires_at": int(tokens.expires_at),
            "refresh_token": tokens.refresh_token,
        }
        clients["authlib"] = authlib_cls(client_id="bench", token=token, transport=transport_for())
    timers: dict[str, Timed] = {}
    for name, client in clients.items():
        if asynchronous:
            stack.callback(loop.run_until_complete, client.aclose())
            timers[name] = _async_timer(loop, client, url)
        else:
            stack.callback(client.close)
            timers[name] = _sync_timer(client, url)
    return timers, missing


def _measure(
    label: str,
    asynchronous: bool,
    transport_for: Callable[[], Any],
    url: str,
    api_host: str,
    settings: Settings,
    *,
    rounds: int,
    n: int,
) -> list[Row]:
    loop = asyncio.new_event_loop()
    try:
        with contextlib.ExitStack() as stack:
            timers, missing = _contenders(asynchronous, transport_for, url, api_host, loop, stack)
            results = alternate(timers, rounds=rounds, n=n, warmup=max(50, n // 10))
            kind = "async" if asynchronous else "sync"
            names = {k: f"{v}, {kind}, {label}" for k, v in _NAMES.items()}
            rows = compared(
                FIGURE,
                results,
                "bare",
                unit="us/req",
                scale=1000.0,
                bars={"keybearer": BAR},
                names=names,
            )
            for row in rows:
                row.baseline = f"bare httpx, {kind}, {label}"
            return rows + [unavailable(FIGURE, names[k], why) for k, why in missing.items()]
    finally:
        loop.close()


def run(settings: Settings) -> list[Row]:
    rows: list[Row] = []
    # Short rounds, many of them: each pair runs within milliseconds of each
    # other, so a burst of load from elsewhere hits one pair, not a trend.
    mock_rounds = settings.rounds(101, 21)
    mock_n = settings.count(250, 120)
    for asynchronous in (False, True):
        rows += _measure(
            "MockTransport",
            asynchronous,
            lambda: httpx.MockTransport(_api),
            API_URL,
            "api.example.test",
            settings,
            rounds=mock_rounds,
            n=mock_n,
        )
    with Child("benchmarks._ok_server") as server:
        url = f"{server.ready['url']}/prod/pets"
        loop_rounds = settings.rounds(61, 11)
        loop_n = settings.count(100, 40)
        for asynchronous in (False, True):
            rows += _measure(
                "loopback",
                asynchronous,
                (lambda: httpx.AsyncHTTPTransport())
                if asynchronous
                else (lambda: httpx.HTTPTransport()),
                url,
                "127.0.0.1",
                settings,
                rounds=loop_rounds,
                n=loop_n,
            )
    return rows
