"""Refresh races and session bookkeeping, against a scripted rotating cognito-idp.

The provider here is an ``httpx.MockTransport`` behind the session's own HTTP
clients, so a test can hold a refresh answer back *after* the provider has
acted on it (the old refresh token is already spent) and do something else
meanwhile: sign out, cancel the caller, read the store.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import keybearer
from cognito_shapes import CLIENT, ISSUER, JWKS_URL, POOL, error, fake_jwt, shapes_jwks
from keybearer._io.drive import run_async as drive
from keybearer._protocol import Flow
from keybearer.errors import LoginRequiredError
from support import FakeClock

T = TypeVar("T")
WAIT = 5.0
"""Upper bound, in seconds, for any wait on another thread: a hang fails, never blocks."""

_SHAPED: dict[tuple[str, int], str] = {}


def shaped(kind: str, serial: int) -> str:
    """Cognito's access ("a") or ID ("i") token number ``serial``, signed, one per pair."""
    if (kind, serial) not in _SHAPED:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": ISSUER, "sub": "alice-sub", "iat": now, "exp": now + 3600}
        claims["jti"] = f"{kind}{serial}"
        if kind == "a":
            claims.update(token_use="access", client_id=CLIENT, username="alice")
        else:
            claims.update(token_use="id", aud=CLIENT, **{"cognito:username": "alice"})
        _SHAPED[kind, serial] = fake_jwt(claims)
    return _SHAPED[kind, serial]


class Provider:
    """cognito-idp with refresh-token rotation: only the newest refresh token works.

    ``hold()`` keeps refresh answers back until ``release()``; the provider has
    already rotated by then. ``acted`` is set once a refresh reached it.
    """

    def __init__(self) -> None:
        self.refresh_token: str | None = "r1"
        self.serial = 1
        self.targets: list[str] = []
        self.acted = threading.Event()
        self._released = threading.Event()
        self._released.set()

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def _act(self, request: httpx.Request) -> httpx.Response:
        if request.url == JWKS_URL:  # refreshed tokens are verified with the pool's keys
            return httpx.Response(200, json=shapes_jwks())
        target = request.headers["X-Amz-Target"].rsplit(".", 1)[-1]
        self.targets.append(target)
        if target == "RevokeToken":
            self.refresh_token = None
            return httpx.Response(200, json={})
        if target == "InitiateAuth":  # a rotating app client refuses REFRESH_TOKEN_AUTH
            return httpx.Response(
                400, json=error("NotAuthorizedException", "Refresh Token has been revoked")
            )
        if json.loads(request.content)["RefreshToken"] != self.refresh_token:
            return httpx.Response(
                400, json=error("RefreshTokenReuseException", "Invalid Refresh Token")
            )
        self.serial += 1
        self.refresh_token = f"r{self.serial}"
        result = {
            "AccessToken": shaped("a", self.serial),
            "IdToken": shaped("i", self.serial),
            "RefreshToken": self.refresh_token,
            "ExpiresIn": 3600,
        }
        return httpx.Response(200, json={"AuthenticationResult": result})

    def answer(self, request: httpx.Request) -> httpx.Response:
        response = self._act(request)
        if request.url == JWKS_URL:
            return response
        if "RevokeToken" not in request.headers["X-Amz-Target"]:
            self.acted.set()
            assert self._released.wait(WAIT), "the test never released the refresh answer"
        return response

    async def aanswer(self, request: httpx.Request) -> httpx.Response:
        response = self._act(request)
        if request.url == JWKS_URL:
            return response
        self.acted.set()
        assert await asyncio.to_thread(self._released.wait, WAIT), "answer never released"
        return response


class WatchedLock:
    """The session's refresh lock, reporting when a second caller starts to wait for it."""

    def __init__(self, waiting: threading.Event) -> None:
        self._lock = threading.Lock()
        self._waiting = waiting

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if blocking and self._lock.locked():
            self._waiting.set()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def store() -> keybearer.MemoryStore:
    return keybearer.MemoryStore()


def connect(
    monkeypatch: pytest.MonkeyPatch,
    provider: Provider,
    store: keybearer.TokenStore,
    clock: FakeClock,
    **options: Any,
) -> keybearer.OAuthClient:
    """A Cognito client whose sync and async calls reach ``provider``."""
    client = keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, clock=clock, **options)
    session = client._session
    monkeypatch.setattr(
        session, "_sync_http", httpx.Client(transport=httpx.MockTransport(provider.answer))
    )

    async def run_async(flow: Flow[T]) -> T:
        transport = httpx.MockTransport(provider.aanswer)
        async with httpx.AsyncClient(transport=transport) as http:
            return await drive(flow, http)

    monkeypatch.setattr(session, "run_async", run_async)
    return client


@pytest.fixture
def closing() -> Iterator[list[keybearer.OAuthClient]]:
    clients: list[keybearer.OAuthClient] = []
    yield clients
    for client in clients:
        client.close()


def session(
    clock: FakeClock,
    *,
    origin: str = "rotating",
    refresh_token: str | None = "r1",
    serial: int = 1,
    lifetime: float = 3600,
) -> keybearer.TokenSet:
    return keybearer.TokenSet.model_validate(
        {
            "access_token": shaped("a", serial),
            "id_token": shaped("i", serial),
            "refresh_token": refresh_token,
            "expires_at": clock() + lifetime,
            "obtained_at": clock(),
            "origin": origin,
            "username": "alice",
        }
    )


def stored(store: keybearer.TokenStore, client: keybearer.OAuthClient) -> str | None:
    return store.load(client.config.store_key)


def stored_refresh_token(store: keybearer.TokenStore, client: keybearer.OAuthClient) -> str:
    tokens = keybearer.TokenSet.from_json(stored(store, client) or "")
    assert tokens.refresh_token is not None
    return tokens.refresh_token.get_secret_value()


def test_rotating_session_stays_rotating_when_refreshed_by_a_client_without_the_flag(
    monkeypatch: pytest.MonkeyPatch,
    provider: Provider,
    store: keybearer.MemoryStore,
    clock: FakeClock,
    closing: list[keybearer.OAuthClient],
) -> None:
    client = connect(monkeypatch, provider, store, clock)  # rotate_refresh_tokens left off
    closing.append(client)
    client._session.cache.put(session(clock, origin="rotating"))

    first = client.refresh()
    second = client.refresh()

    assert first.origin == second.origin == "rotating"
    assert second.access_token.get_secret_value() == shaped("a", 3)
    assert provider.targets == ["GetTokensFromRefreshToken"] * 2


def test_logout_during_a_refresh_in_flight_stays_signed_out(
    monkeypatch: pytest.MonkeyPatch,
    provider: Provider,
    store: keybearer.MemoryStore,
    clock: FakeClock,
    closing: list[keybearer.OAuthClient],
) -> None:
    client = connect(monkeypatch, provider, store, clock)
    closing.append(client)
    client._session.cache.put(session(clock, origin="rotating"))
    # Logout has got as far as forgetting the tokens: it deletes them, or waits to.
    forgetting = threading.Event()
    monkeypatch.setattr(client._session.cache, "refresh_lock", WatchedLock(forgetting))
    delete = store.delete

    def watched_delete(key: str) -> None:
        forgetting.set()
        delete(key)

    monkeypatch.setattr(store, "delete", watched_delete)
    provider.hold()

    with ThreadPoolExecutor(max_workers=2) as pool:
        refreshing = pool.submit(client.refresh)
        assert provider.acted.wait(WAIT)
        logging_out = pool.submit(client.logout)
        assert forgetting.wait(WAIT)
        provider.release()  # the refresh answer arrives after logout began to forget
        refreshing.result(timeout=WAIT)
        assert logging_out.result(timeout=WAIT) is True

    assert stored(store, client) is None
    assert client.tokens is None


def test_session_another_process_stored_after_a_refused_refresh_is_picked_up(
    monkeypatch: pytest.MonkeyPatch,
    provider: Provider,
    clock: FakeClock,
    tmp_path: Path,
    closing: list[keybearer.OAuthClient],
) -> None:
    path = tmp_path / "tokens.json"
    client = connect(
        monkeypatch, provider, keybearer.FileStore(path), clock, rotate_refresh_tokens=True
    )
    closing.append(client)
    client._session.cache.put(session(clock, refresh_token="r-spent"))
    clock.advance(3600)
    with pytest.raises(LoginRequiredError):
        client.valid_tokens()  # the provider refuses r-spent: the session has ended
    calls = len(provider.targets)

    # `keybearer login` in another terminal stores a fresh session.
    other_process = keybearer.FileStore(path)
    other_process.save(client.config.store_key, session(clock, serial=7).to_json())

    tokens = client.valid_tokens()

    assert tokens.access_token.get_secret_value() == shaped("a", 7)
    assert len(provider.targets) == calls  # adopted from the store, not refreshed


async def test_cancelled_async_refresh_still_stores_the_rotated_refresh_token(
    monkeypatch: pytest.MonkeyPatch,
    provider: Provider,
    store: keybearer.MemoryStore,
    clock: FakeClock,
    closing: list[keybearer.OAuthClient],
) -> None:
    client = connect(monkeypatch, provider, store, clock, rotate_refresh_tokens=True)
    closing.append(client)
    client._session.cache.put(session(clock))
    provider.hold()

    refreshing = asyncio.create_task(client.arefresh())
    assert await asyncio.to_thread(provider.acted.wait, WAIT)
    refreshing.cancel()  # as asyncio.timeout() around an API call does; r1 is already spent
    provider.release()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(refreshing, WAIT)

    assert stored_refresh_token(store, client) == provider.refresh_token == "r2"
    renewed = await client.arefresh()
    assert renewed.access_token.get_secret_value() == shaped("a", 3)
    assert stored_refresh_token(store, client) == "r3"


def test_refused_explicit_refresh_of_an_implicit_session_keeps_its_valid_token(
    store: keybearer.MemoryStore, clock: FakeClock
) -> None:
    with keybearer.OAuthClient.cognito(POOL, CLIENT, store=store, clock=clock) as client:
        implicit = session(clock, origin="implicit", refresh_token=None, lifetime=3600)
        client._session.cache.put(implicit)
        with pytest.raises(LoginRequiredError):
            client.refresh()  # nothing to refresh with: sign in again, eventually
        clock.advance(3600 - 100)  # due for a refresh, still valid for 100 s

        assert client.valid_tokens() == implicit
