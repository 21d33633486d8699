"""Figure 2: how many refreshes a crowd makes when the token goes stale at once.

50 threads (each with its own httpx client, 4 requests each, released by a
barrier) and 200 asyncio tasks (one ``AsyncClient``) call ProtectedApi after
either the client's clock has moved past the token's expiry, or the API has
revoked the token every one of them is about to send (so each gets a 401).
LocalCognito counts ``InitiateAuth:REFRESH_TOKEN_AUTH`` calls. Bar: exactly one
refresh in every run, and every request ends ``200``.

No alternative is measured here: Authlib and httpx-auth refresh at an OAuth
token endpoint, which moto's Cognito does not serve.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import _peers
from benchmarks._children import Child
from benchmarks._harness import Bar, Row, Settings
from benchmarks._tokens import FakeClock

FIGURE = 2
THREADS = 50
REQUESTS_PER_THREAD = 4
TASKS = 200
#: No run may take longer than this (a hung refresh would otherwise hang the runner).
RUN_TIMEOUT = 60.0
BAR = Bar("exact", 1)


@dataclass
class Outcome:
    refreshes: int = 0
    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.errors) + sum(1 for s in self.statuses if s != 200)


def hammer_threads(client: Any, url: str) -> Outcome:
    """THREADS threads, each with its own httpx client, released together."""
    outcome = Outcome()
    lock = threading.Lock()
    gate = threading.Barrier(THREADS, timeout=RUN_TIMEOUT)

    def worker() -> None:
        try:
            with client.http(base_url=url, timeout=RUN_TIMEOUT) as http:
                gate.wait()
                for _ in range(REQUESTS_PER_THREAD):
                    status = http.get("/pets").status_code
                    with lock:
                        outcome.statuses.append(status)
        except Exception as exc:
            with lock:
                outcome.errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = started + RUN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.perf_counter()))
    outcome.seconds = time.perf_counter() - started
    if any(thread.is_alive() for thread in threads):
        outcome.errors.append("threads still running after the run timeout")
    return outcome


async def swarm_tasks(client: Any, url: str) -> Outcome:
    """TASKS tasks sharing one AsyncClient."""
    outcome = Outcome()
    async with client.async_http(base_url=url, timeout=RUN_TIMEOUT) as http:
        started = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(*(http.get("/pets") for _ in range(TASKS)), return_exceptions=True),
            RUN_TIMEOUT,
        )
        outcome.seconds = time.perf_counter() - started
    for result in results:
        if isinstance(result, BaseException):
            outcome.errors.append(f"{type(result).__name__}: {result}")
        else:
            outcome.statuses.append(result.status_code)
    return outcome


def make_stale(how: str, client: Any, clock: FakeClock, peers: Child) -> None:
    """Make the current token stale for every caller at once: expired or revoked."""
    if how == "expired":
        clock.advance(3600)
    else:
        peers.call(op="revoke", token=client.tokens.token("id"))


def _scenario(
    peers: Child,
    client: Any,
    clock: FakeClock,
    how: str,
    crowd: Callable[[Any, str], Outcome],
) -> Outcome:
    url = peers.ready["api_url"]
    peers.call(op="reset")
    make_stale(how, client, clock, peers)
    outcome = crowd(client, url)
    outcome.refreshes = _peers.refreshes(peers)
    return outcome


def run(settings: Settings, peers: Child | None = None) -> list[Row]:
    if peers is None:
        with _peers.start() as started:
            return run(settings, started)
    runs = settings.rounds(5, 1)
    clock = FakeClock()
    client = _peers.sign_in(peers, clock)
    rows = []
    try:
        crowds: dict[str, Callable[[Any, str], Outcome]] = {
            f"{THREADS} threads x {REQUESTS_PER_THREAD}": hammer_threads,
            f"{TASKS} asyncio tasks": lambda c, u: asyncio.run(swarm_tasks(c, u)),
        }
        for crowd_name, crowd in crowds.items():
            for how, label in (("expired", "token expired"), ("revoked", "same stale token, 401")):
                outcomes = [_scenario(peers, client, clock, how, crowd) for _ in range(runs)]
                total = sum(len(o.statuses) + len(o.errors) for o in outcomes)
                failed = sum(o.failed for o in outcomes)
                errors = sorted({e for o in outcomes for e in o.errors})[:3]
                row = Row(
                    FIGURE,
                    f"refreshes: {crowd_name}, {label}",
                    "refreshes",
                    [float(o.refreshes) for o in outcomes],
                    bar=BAR,
                    note=f"{failed} of {total} requests failed over {runs} runs"
                    + (f" ({'; '.join(errors)})" if errors else ""),
                    extra={"seconds": [o.seconds for o in outcomes]},
                )
                if failed:
                    row.failures.append(f"{failed} failed requests")
                rows.append(row)
    finally:
        client.close()
    return rows
