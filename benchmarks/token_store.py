"""Figure 7: getting the current token for a request, when it is fresh.

Baseline: the least any cache can do, a dict lookup and an expiry check
(``time.time() < expires_at - ahead``) in a function. Ours: what
``KeybearerAuth`` calls per request, ``Session.fresh()`` (the async flow) and
``Session.tokens_for_request()`` (the sync flow, the same as the public
``OAuthClient.valid_tokens()``). Bar: at most 3x. The alternative, MSAL's
``acquire_token_silent`` cache hit, runs against a ``PublicClientApplication``
whose authority metadata comes from a fake ``http_client`` (MSAL fetches it
once, at construction) and whose cache holds a token added beforehand.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks._harness import Bar, Row, Settings, Timed, alternate, compared, unavailable
from benchmarks._tokens import make_tokens, signed_in_client

FIGURE = 7
BAR = Bar("ratio", 3.0)
AHEAD = 120.0

_NAMES = {
    "fresh": "Session.fresh() (async flow, per request)",
    "valid": "OAuthClient.valid_tokens() (sync flow, per request)",
    "msal": "MSAL acquire_token_silent (cache hit)",
}


def _loop(call: Callable[[], object]) -> Timed:
    def run(n: int) -> int:
        started = time.perf_counter_ns()
        for _ in range(n):
            call()
        return time.perf_counter_ns() - started

    return run


def _baseline() -> Callable[[], object]:
    key = "cognito:us-east-1_Bench0001:client:default"
    cache: dict[str, dict[str, Any]] = {key: {"id_token": "x", "expires_at": time.time() + 3600}}
    clock = time.time

    def current() -> dict[str, Any] | None:
        entry = cache.get(key)
        if entry is not None and clock() < entry["expires_at"] - AHEAD:
            return entry
        return None

    return current


# -- MSAL, offline ------------------------------------------------------------------

_TENANT = "11111111-2222-3333-4444-555555555555"
_AUTHORITY = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
_ENDPOINT = f"https://login.microsoftonline.com/{_TENANT}/oauth2/v2.0"


class _Answer:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code = status
        self.text = json.dumps(body)
        self.headers: dict[str, str] = {}

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"offline MSAL: HTTP {self.status_code}")


class _OfflineHttp:
    """MSAL's ``http_client``: answers the discovery document, refuses the rest."""

    def get(self, url: str, **kwargs: Any) -> _Answer:
        if "openid-configuration" in url:
            return _Answer(
                200,
                {
                    "authorization_endpoint": f"{_ENDPOINT}/authorize",
                    "token_endpoint": f"{_ENDPOINT}/token",
                    "device_authorization_endpoint": f"{_ENDPOINT}/devicecode",
                    "issuer": f"https://login.microsoftonline.com/{_TENANT}/v2.0",
                },
            )
        return _Answer(404, {})

    def post(self, url: str, **kwargs: Any) -> _Answer:
        return _Answer(400, {"error": "invalid_request"})

    def close(self) -> None:
        pass


def _b64json(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _msal() -> Callable[[], object] | str:
    try:
        import msal  # type: ignore[import-untyped]
    except ImportError:
        return "MSAL is not installed"
    now = int(time.time())
    id_token = ".".join(
        [
            _b64json({"alg": "none"}),
            _b64json(
                {
                    "iss": f"https://login.microsoftonline.com/{_TENANT}/v2.0",
                    "aud": "bench-client",
                    "oid": "user-oid",
                    "tid": _TENANT,
                    "sub": "user-sub",
                    "preferred_username": "alice@contoso.example",
                    "iat": now,
                    "exp": now + 3600,
                }
            ),
            "",
        ]
    )
    app = msal.PublicClientApplication(
        "bench-client", authority=_AUTHORITY, http_client=_OfflineHttp(), instance_discovery=False
    )
    app.token_cache.add(
        {
            "client_id": "bench-client",
            "scope": ["User.Read"],
            "token_endpoint": f"{_ENDPOINT}/token",
            "response": {
                "access_token": make_tokens().access_token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": "refresh",
                "id_token": id_token,
                "client_info": _b64json({"uid": "user-oid", "utid": _TENANT}),
                "scope": "User.Read",
            },
        }
    )
    account = app.get_accounts()[0]
    scopes = ["User.Read"]

    def silent() -> dict[str, Any] | None:
        answer: dict[str, Any] | None = app.acquire_token_silent(scopes, account=account)
        return answer

    result = silent()
    if not result or result.get("token_source") != "cache":
        return f"MSAL did not answer from its cache ({result!r:.80})"
    return silent


def run(settings: Settings) -> list[Row]:
    client = signed_in_client(make_tokens())
    try:
        session = client._session  # what _auth.py holds; there is no public handle
        client.valid_tokens()  # the first read of the store
        assert session.fresh() is not None
        calls: dict[str, Callable[[], object]] = {
            "dict": _baseline(),
            "fresh": session.fresh,
            "valid": client.valid_tokens,
        }
        rows: list[Row] = []
        msal_call = _msal()
        if isinstance(msal_call, str):
            rows.append(unavailable(FIGURE, _NAMES["msal"], msal_call))
        else:
            calls["msal"] = msal_call
        n = settings.count(20_000, 5_000)
        results = alternate(
            {name: _loop(call) for name, call in calls.items()},
            rounds=settings.rounds(51, 21),
            n=n,
            warmup=1000,
        )
        # MSAL is ~100x slower: its rounds took longer, but the ratios pair the same way.
        compared_rows = compared(
            FIGURE,
            results,
            "dict",
            unit="ns/call",
            scale=1.0,
            bars={"fresh": BAR, "valid": BAR},
            names=_NAMES,
        )
        for row in compared_rows:
            row.baseline = "dict lookup + expiry check"
        return compared_rows + rows
    finally:
        client.close()
