"""Single-flight refresh: many threads or tasks, one refresh, counted at the server."""

from __future__ import annotations

import asyncio
import threading

import pytest

import keybearer
from keybearer.testing import LocalCognito, ProtectedApi
from support import FakeClock, MakeClient, Person, id_token_of

REFRESHES = "InitiateAuth:REFRESH_TOKEN_AUTH"
THREADS = 50
REQUESTS_PER_THREAD = 4
TASKS = 200


@pytest.fixture
def signed_in(
    make_client: MakeClient, person: Person, cognito: LocalCognito
) -> keybearer.OAuthClient:
    client = make_client()
    client.login_password(person.username, person.password)
    cognito.reset_counts()
    return client


def _hammer(client: keybearer.OAuthClient, url: str) -> list[int]:
    """THREADS threads, each with its own httpx client, released together."""
    statuses: list[int] = []
    failures: list[BaseException] = []
    gate = threading.Barrier(THREADS, timeout=30)
    lock = threading.Lock()

    def worker() -> None:
        try:
            with client.http(base_url=url, timeout=30) as http:
                gate.wait()
                for _ in range(REQUESTS_PER_THREAD):
                    status = http.get("/pets").status_code
                    with lock:
                        statuses.append(status)
        except BaseException as exc:
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    return statuses


def test_expired_token_refreshes_once_under_50_threads(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, clock: FakeClock, cognito: LocalCognito
) -> None:
    clock.advance(3600)

    statuses = _hammer(signed_in, api.url)

    assert statuses == [200] * THREADS * REQUESTS_PER_THREAD
    assert cognito.calls[REFRESHES] == 1


def test_rejected_token_refreshes_once_under_50_threads(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, cognito: LocalCognito
) -> None:
    api.revoke(id_token_of(signed_in))

    statuses = _hammer(signed_in, api.url)

    assert statuses == [200] * THREADS * REQUESTS_PER_THREAD
    assert cognito.calls[REFRESHES] == 1


async def _swarm(client: keybearer.OAuthClient, url: str) -> list[int]:
    async with client.async_http(base_url=url, timeout=30) as http:
        responses = await asyncio.gather(*(http.get("/pets") for _ in range(TASKS)))
    return [response.status_code for response in responses]


async def test_expired_token_refreshes_once_under_200_tasks(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, clock: FakeClock, cognito: LocalCognito
) -> None:
    clock.advance(3600)

    statuses = await _swarm(signed_in, api.url)

    assert statuses == [200] * TASKS
    assert cognito.calls[REFRESHES] == 1


async def test_rejected_token_refreshes_once_under_200_tasks(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, cognito: LocalCognito
) -> None:
    api.revoke(id_token_of(signed_in))

    statuses = await _swarm(signed_in, api.url)

    assert statuses == [200] * TASKS
    assert cognito.calls[REFRESHES] == 1


def test_threads_and_event_loops_together_refresh_once(
    signed_in: keybearer.OAuthClient, api: ProtectedApi, clock: FakeClock, cognito: LocalCognito
) -> None:
    clock.advance(3600)
    results: list[list[int]] = []

    def loop_in_thread() -> None:
        results.append(asyncio.run(_swarm(signed_in, api.url)))

    threads = [threading.Thread(target=loop_in_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    statuses = _hammer(signed_in, api.url)
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * THREADS * REQUESTS_PER_THREAD
    assert results == [[200] * TASKS] * 4
    assert cognito.calls[REFRESHES] == 1
