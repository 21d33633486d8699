"""Soak: one client, thousands of requests, a token that keeps expiring.

Two runs, both on an injected clock that advances with every request:

- **Replay** (the figures): the provider is an ``httpx.MockTransport`` that
  issues tokens living 4 s; the clock advances 10 ms per request, so each token
  reaches its refresh point (half its life, since it lives less than twice
  ``refresh_ahead``) every 200 requests. Memory is traced (tracemalloc) over
  the whole run; nothing else runs in the process meanwhile.
- **Cognito stand-in**: a real password sign-in at moto, whose tokens live
  3,600 s; the clock advances 12 s per request, so a refresh point
  (``refresh_ahead``, 120 s before expiry) comes every 290 requests. Sync, then
  asyncio with 4 tasks sharing the client.

The API (a ``MockTransport``) refuses a token older than its lifetime by the
client's clock. Checked: every request succeeds; refreshes equal refresh points
crossed (one refresh per token, never two); memory is flat. The figures are
printed.

``KEYBEARER_SOAK_REQUESTS`` sets the number of requests per run: 2,000 by
default (the normal suite), 20,000 in CI's soak step::

    KEYBEARER_SOAK_REQUESTS=20000 pytest -m soak
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import threading
import time
import tracemalloc
from dataclasses import dataclass, field

import httpx
import pytest

import keybearer
from cognito_shapes import CLIENT, ISSUER, POOL, fake_jwt
from keybearer.testing import AppClient, LocalCognito, Pool
from support import Person

pytestmark = pytest.mark.soak

REQUESTS = int(os.environ.get("KEYBEARER_SOAK_REQUESTS", "2000"))
API = "https://api.example.test"


class StepClock:
    """``time.time`` for the client: advances ``step`` seconds per tick, without drift."""

    def __init__(self, step: float) -> None:
        self.start = time.time()
        self.step = step
        self.ticks = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.start + self.ticks * self.step

    def tick(self) -> None:
        with self._lock:
            self.ticks += 1


@dataclass
class Api:
    """200 for a token younger than ``lifetime`` by the client's clock; 401 otherwise.

    Tokens are remembered by hash, so the API's own memory stays out of the figures.
    """

    clock: StepClock
    lifetime: float
    first_seen: dict[int, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    oldest_use: float = 0.0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        now = self.clock()
        age = now - self.first_seen.setdefault(hash(token), now)
        self.oldest_use = max(self.oldest_use, age)
        status = 200 if token and age < self.lifetime else 401
        self.statuses[status] = self.statuses.get(status, 0) + 1
        return httpx.Response(status, content=b'{"ok":true}')


def report(capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest, text: str) -> None:
    request.node.user_properties.append(("soak", text))
    with capsys.disabled():
        print(f"\n[soak] {text}")


# -- replay: short-lived tokens, traced memory -------------------------------------------------

SHORT = 4.0  # seconds a replayed token lives
TICK = 0.01  # clock seconds per request
PER_SHORT_TOKEN = round(SHORT / 2 / TICK)  # requests between refresh points: 200


@dataclass
class Provider:
    """cognito-idp, replayed: every answer is a new token set living SHORT seconds."""

    issued: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.issued += 1
        body = {
            "AuthenticationResult": {
                # The configured pool's issuer: a sign-in from any other is refused.
                "AccessToken": fake_jwt(
                    {"iss": ISSUER, "jti": f"a{self.issued}", "username": "alice"}
                ),
                "IdToken": fake_jwt(
                    {"iss": ISSUER, "jti": f"i{self.issued}", "cognito:username": "alice"}
                ),
                "ExpiresIn": SHORT,
                "TokenType": "Bearer",
                **({"RefreshToken": "r" * 40} if self.issued == 1 else {}),
            }
        }
        return httpx.Response(200, content=json.dumps(body).encode())


def test_soak_many_requests_over_a_token_that_expires_every_few_seconds(
    capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    clock = StepClock(TICK)
    provider = Provider()
    client = keybearer.OAuthClient.cognito(POOL, CLIENT, store=keybearer.MemoryStore(), clock=clock)
    client._session._sync_http = httpx.Client(transport=httpx.MockTransport(provider))
    client.login_password("alice", "Correct-Horse-1")
    api = Api(clock, SHORT)
    warm_up = max(REQUESTS // 10, PER_SHORT_TOKEN + 1)
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with client.http(base_url=API, transport=httpx.MockTransport(api)) as http:
            for index in range(REQUESTS):
                if index == warm_up:
                    gc.collect()
                    warm = tracemalloc.get_traced_memory()[0]
                assert http.get("/pets").status_code == 200, f"request {index} failed"
                clock.tick()
        elapsed = time.perf_counter() - started
        gc.collect()
        end, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        client.close()

    refreshes = provider.issued - 1
    crossed = (REQUESTS - 1) // PER_SHORT_TOKEN
    growth = end - warm
    report(
        capsys,
        request,
        f"replay: {REQUESTS} requests in {elapsed:.1f} s ({REQUESTS / elapsed:.0f}/s under "
        f"tracemalloc), {refreshes} refreshes for {crossed} refresh points, 0 failed; "
        f"memory {warm / 1024:.0f} KiB after warm-up, {end / 1024:.0f} KiB at the end "
        f"({growth / 1024:+.1f} KiB over {REQUESTS - warm_up} requests), "
        f"peak {peak / 1024:.0f} KiB",
    )
    assert api.statuses == {200: REQUESTS}  # zero failed requests
    assert refreshes == crossed  # one refresh per token, never two
    assert len(api.first_seen) == crossed + 1
    assert api.oldest_use < SHORT
    # Flat: what the client holds does not grow with the number of requests.
    assert growth < 64 * 1024


# -- the Cognito stand-in: real tokens, sync and async ---------------------------------------

LIFETIME = 3600  # moto's token lifetime, seconds
STEP = 12  # clock seconds per request
PER_TOKEN = (LIFETIME - 120) // STEP  # requests between refresh points: 290


@pytest.fixture
def session(
    cognito: LocalCognito, pool: Pool, public_client: AppClient, person: Person
) -> tuple[keybearer.OAuthClient, StepClock]:
    clock = StepClock(STEP)
    client = keybearer.OAuthClient.cognito(
        pool.id,
        public_client.id,
        idp_url=cognito.url,
        store=keybearer.MemoryStore(),
        clock=clock,
    )
    client.login_password(person.username, person.password)
    cognito.reset_counts()
    return client, clock


def test_soak_against_the_cognito_stand_in(
    session: tuple[keybearer.OAuthClient, StepClock],
    cognito: LocalCognito,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    client, clock = session
    api = Api(clock, LIFETIME)
    started = time.perf_counter()
    with client.http(base_url=API, transport=httpx.MockTransport(api)) as http:
        for index in range(REQUESTS):
            assert http.get("/pets").status_code == 200, f"request {index} failed"
            clock.tick()
    elapsed = time.perf_counter() - started
    client.close()

    refreshes = cognito.calls["InitiateAuth:REFRESH_TOKEN_AUTH"]
    crossed = (REQUESTS - 1) // PER_TOKEN
    report(
        capsys,
        request,
        f"Cognito stand-in: {REQUESTS} requests in {elapsed:.1f} s, {refreshes} refreshes for "
        f"{crossed} refresh points, 0 failed",
    )
    assert api.statuses == {200: REQUESTS}
    assert refreshes == crossed
    assert len(api.first_seen) == crossed + 1
    assert api.oldest_use < LIFETIME


def test_soak_async_tasks_against_the_cognito_stand_in(
    session: tuple[keybearer.OAuthClient, StepClock],
    cognito: LocalCognito,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    """4 tasks share the client; the clock still ticks once per request."""
    client, clock = session
    api = Api(clock, LIFETIME)
    tasks = 4
    per_task = max(REQUESTS, PER_TOKEN * 3) // tasks

    async def run() -> None:
        async with client.async_http(base_url=API, transport=httpx.MockTransport(api)) as http:

            async def worker() -> None:
                for _ in range(per_task):
                    assert (await http.get("/pets")).status_code == 200
                    clock.tick()

            await asyncio.gather(*(worker() for _ in range(tasks)))

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    client.close()

    sent = per_task * tasks
    refreshes = cognito.calls["InitiateAuth:REFRESH_TOKEN_AUTH"]
    report(
        capsys,
        request,
        f"Cognito stand-in, asyncio: {sent} requests from {tasks} tasks in {elapsed:.1f} s, "
        f"{refreshes} refreshes, 0 failed",
    )
    assert api.statuses == {200: sent}
    assert refreshes == len(api.first_seen) - 1  # one refresh per token
    # Tasks interleave, so a refresh point may be crossed a request or two late.
    assert abs(refreshes - (sent - 1) // PER_TOKEN) <= 1
    assert api.oldest_use < LIFETIME
