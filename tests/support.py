"""Fixtures and helpers for the SDK's own tests (the peers live in conftest.py)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import keybearer
from keybearer.testing import AppClient, LocalCognito, Pool

_names = itertools.count(1)
PASSWORD = "Correct-Horse-1"


class FakeClock:
    """A settable ``time.time``: expiry is tested by moving it, never by sleeping."""

    def __init__(self) -> None:
        self.now = time.time()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@dataclass
class Person:
    username: str
    password: str


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def person(cognito: LocalCognito, pool: Pool) -> Person:
    """A fresh confirmed user with a permanent password."""
    name = f"user{next(_names)}"
    cognito.create_user(pool, name, PASSWORD)
    return Person(name, PASSWORD)


@pytest.fixture
def new_person(cognito: LocalCognito, pool: Pool) -> Person:
    """A fresh user with a temporary password (first sign-in asks for a new one)."""
    name = f"newuser{next(_names)}"
    cognito.create_user(pool, name, "Temporary-Pass-1!", temporary=True)
    return Person(name, "Temporary-Pass-1!")


MakeClient = Callable[..., keybearer.OAuthClient]


@pytest.fixture
def make_client(
    cognito: LocalCognito, pool: Pool, public_client: AppClient, clock: FakeClock
) -> Iterator[MakeClient]:
    """Build OAuthClients against the local stand-in, as a user would.

    Every client of one test shares one MemoryStore unless ``store=`` is given,
    so they share a token cache the way clients of one process do.
    """
    made: list[keybearer.OAuthClient] = []
    store = keybearer.MemoryStore()

    def make(app: AppClient | None = None, **overrides: Any) -> keybearer.OAuthClient:
        app = app or public_client
        options: dict[str, Any] = {
            "client_secret": app.secret,
            "idp_url": cognito.url,
            "jwks_url": pool.jwks_url,  # refreshed tokens are verified (issue 11 #5)
            "store": store,
            "clock": clock,
        }
        options.update(overrides)
        client = keybearer.OAuthClient.cognito(pool.id, app.id, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def id_token_of(client: keybearer.OAuthClient) -> str:
    """The raw ID token a signed-in client currently sends."""
    tokens = client.tokens
    assert tokens is not None
    return tokens.token("id")
