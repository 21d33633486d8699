"""Figure 3: how long the event loop stalls while 200 tasks wait on one refresh.

A ticker task sleeps 1 ms in a loop and records the longest gap between its
wake-ups while 200 tasks call ProtectedApi through ``client.async_http()`` after
the client's clock has passed the token's expiry (one of them refreshes at
LocalCognito, the others wait). The baseline is the same burst by bare httpx
with a static header: what 200 concurrent requests cost the loop anyway. The
two alternate, in one event loop. The peers run in another process, so their
work is not on this process's GIL. Bar: the longest gap is at most 5 ms
(median over runs; the table's max shows the worst run).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx

from benchmarks import _peers
from benchmarks._children import Child
from benchmarks._harness import Bar, Row, Settings, paired_ratios
from benchmarks._tokens import FakeClock
from benchmarks.single_flight import RUN_TIMEOUT, TASKS, make_stale

FIGURE = 3
BAR = Bar("value", 5.0)
TICK = 0.001


async def _with_ticker(burst: Callable[[], Awaitable[list[int]]]) -> tuple[float, list[int]]:
    """Run ``burst`` beside a 1 ms ticker; the longest gap in ms, and the statuses."""
    done = asyncio.Event()
    longest = 0.0

    async def tick() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(TICK * 3)  # the ticker is running before the burst starts
    try:
        statuses = await asyncio.wait_for(burst(), RUN_TIMEOUT)
    finally:
        done.set()
        await ticker
    return longest * 1000.0, statuses


async def _ours(
    client: Any, url: str, tasks: int, make_stale: Callable[[], None]
) -> tuple[float, list[int]]:
    async with client.async_http(base_url=url, timeout=RUN_TIMEOUT) as http:
        await http.get("/pets")  # a warm connection, like the baseline's
        make_stale()  # before the ticker starts: a blocking call to the peers

        async def burst() -> list[int]:
            responses = await asyncio.gather(*(http.get("/pets") for _ in range(tasks)))
            return [r.status_code for r in responses]

        return await _with_ticker(burst)


async def _bare(token: str, url: str, tasks: int) -> tuple[float, list[int]]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=RUN_TIMEOUT) as http:
        await http.get("/pets")

        async def burst() -> list[int]:
            responses = await asyncio.gather(*(http.get("/pets") for _ in range(tasks)))
            return [r.status_code for r in responses]

        return await _with_ticker(burst)


def _scenario(
    peers: Child,
    client: Any,
    clock: FakeClock,
    loop: asyncio.AbstractEventLoop,
    runs: int,
    tasks: int,
    how: str,
) -> tuple[list[float], list[float], list[int], int]:
    """Alternating runs of ours and the bare burst: their gaps, refreshes, failures."""
    url = peers.ready["api_url"]
    ours: list[float] = []
    bare: list[float] = []
    refreshes: list[int] = []
    failed = 0
    for index in range(runs):
        for who in ("ours", "bare") if index % 2 == 0 else ("bare", "ours"):
            peers.call(op="reset")
            if who == "ours":
                stale = partial(make_stale, how, client, clock, peers)
                gap, statuses = loop.run_until_complete(_ours(client, url, tasks, stale))
                ours.append(gap)
                refreshes.append(_peers.refreshes(peers))
            else:
                token = client.tokens.token("id")
                gap, statuses = loop.run_until_complete(_bare(token, url, tasks))
                bare.append(gap)
            failed += sum(1 for s in statuses if s != 200)
    return ours, bare, refreshes, failed


def run(settings: Settings, peers: Child | None = None) -> list[Row]:
    if peers is None:
        with _peers.start() as started:
            return run(settings, started)
    clock = FakeClock()
    client = _peers.sign_in(peers, clock)
    loop = asyncio.new_event_loop()
    rows = []
    try:
        for tasks, runs in ((1, settings.rounds(15, 5)), (TASKS, settings.rounds(9, 2))):
            for how, label in (("expired", "token expired"), ("revoked", "stale token, 401")):
                ours, bare, refreshes, failed = _scenario(
                    peers, client, clock, loop, runs, tasks, how
                )
                what = "1 task refreshing" if tasks == 1 else f"{tasks}-task burst"
                base = "bare httpx, 1 request" if tasks == 1 else f"bare httpx burst of {tasks}"
                note = f"refreshes per run {sorted(set(refreshes))}; {failed} non-200 answers"
                if tasks > 1:
                    note += (
                        "; info only: the bare burst itself stalls the loop this long "
                        f"(httpx starts {tasks} requests in one loop iteration), so the "
                        "5 ms bar is checked on the single-task rows"
                    )
                row = Row(
                    FIGURE,
                    f"loop stall: {what}, {label}",
                    "ms",
                    ours,
                    base,
                    bare,
                    paired_ratios(ours, bare),
                    BAR if tasks == 1 else None,
                    note=note,
                )
                if failed or any(r != 1 for r in refreshes):
                    row.failures.append(f"{failed} failed requests, refreshes {refreshes}")
                rows.append(row)
    finally:
        loop.close()
        client.close()
    return rows
