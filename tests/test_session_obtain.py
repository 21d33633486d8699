"""The session's ``obtain`` seam: tokens got with no session (a client-credentials grant).

With ``Session(obtain=...)``, "not signed in" and "no refresh token" mean
"obtain a token set", single-flight exactly like a refresh: many threads or
tasks that find no tokens make one request between them.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

import keybearer
from cognito_shapes import CLIENT, POOL
from keybearer._protocol import Flow
from keybearer._session import Session
from keybearer._token_cache import TokenCache
from support import FakeClock

WAIT = 5.0


class Grant:
    """A token endpoint that hands out a new access token per request, after a gate opens."""

    def __init__(self) -> None:
        self.requests = 0
        self.gate = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert self.gate.wait(WAIT)
        self.requests += 1
        return httpx.Response(200, json={"access_token": f"m2m-{self.requests}"})

    def flow(self, clock: FakeClock) -> Flow[keybearer.TokenSet]:
        response = yield httpx.Request("POST", "https://auth.example.com/oauth2/token")
        now = clock()
        return keybearer.TokenSet.model_validate(
            {
                "access_token": response.json()["access_token"],
                "expires_at": now + 3600,
                "obtained_at": now,
                "origin": "password",  # F adds a client-credentials origin
            }
        )


def session_for(grant: Grant, clock: FakeClock) -> Session:
    config = keybearer.OAuthClient.cognito(POOL, CLIENT, store=keybearer.MemoryStore()).config
    cache = TokenCache(keybearer.MemoryStore(), config.store_key)
    return Session(
        config,
        cache,
        clock,
        transport=httpx.MockTransport(grant),
        async_transport=httpx.MockTransport(grant),
        obtain=lambda: grant.flow(clock),
    )


def test_threads_that_find_no_tokens_obtain_them_once() -> None:
    grant, clock = Grant(), FakeClock()
    session = session_for(grant, clock)
    with ThreadPoolExecutor(8) as pool:
        calls = [pool.submit(session.tokens_for_request) for _ in range(8)]
        grant.gate.set()
        tokens = {call.result(WAIT).access_token.get_secret_value() for call in calls}
    assert tokens == {"m2m-1"}
    assert grant.requests == 1
    session.close()


async def test_tasks_that_find_no_tokens_obtain_them_once_and_again_when_due() -> None:
    grant, clock = Grant(), FakeClock()
    grant.gate.set()
    session = session_for(grant, clock)
    first = await asyncio.gather(*(session.atokens_for_request() for _ in range(20)))
    assert {t.access_token.get_secret_value() for t in first} == {"m2m-1"}

    clock.advance(3600 - 60)  # inside the refresh window; there is no refresh token
    again = await asyncio.gather(*(session.atokens_for_request() for _ in range(20)))

    assert {t.access_token.get_secret_value() for t in again} == {"m2m-2"}
    assert grant.requests == 2
    session.close()
