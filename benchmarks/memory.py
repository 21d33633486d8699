"""Figure 8: memory over 20,000 requests through one client, with 10 refreshes.

The API is a ``MockTransport`` (no server memory in the picture); the
refreshes go to LocalCognito in the peers' process, made due by moving the
client's clock past expiry once every 2,000 requests. Memory is sampled every
1,000 requests, after a ``gc.collect()``: resident set size from
``/proc/self/statm`` in one pass, and Python's traced allocations
(``tracemalloc``) in a second pass, since tracing slows every allocation.
After the first fifth (warm-up), the least-squares slope of each series is
reported in KB per 1,000 requests. The same loop with bare httpx and a static
header, without refreshes, is the baseline: the slope httpx has by itself.

Bar: flat, i.e. a traced-memory slope of at most 1 KB per 1,000 requests (one
leaked byte per request would already be 1 KB). RSS is page-granular and
shaped by the allocator, so its slope is reported, not judged.
"""

from __future__ import annotations

import gc
import os
import resource
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx

from benchmarks import _peers
from benchmarks._children import Child
from benchmarks._harness import Bar, Row, Settings, slope
from benchmarks._tokens import FakeClock

FIGURE = 8
BAR = Bar("value", 1.0, stat="max")
API = "https://api.example.test"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The resident set size now (not the peak), from /proc; the peak elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def traced_bytes() -> int:
    return tracemalloc.get_traced_memory()[0]


def _api(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b'[{"id":1,"type":"dog","price":249.99}]')


def _drive(
    get: Callable[[], Any],
    total: int,
    every: int,
    sample: Callable[[], int],
    on_step: Callable[[int], None] | None = None,
) -> list[tuple[int, int]]:
    """``total`` requests; ``(requests so far, bytes)`` every ``every`` requests."""
    samples = []
    for done in range(total):
        if on_step is not None:
            on_step(done)
        get().raise_for_status()
        if (done + 1) % every == 0:
            gc.collect()
            samples.append((done + 1, sample()))
    return samples


def _slope_kb_per_1000(samples: list[tuple[int, int]]) -> float:
    steady = samples[len(samples) // 5 :]
    xs = [n / 1000.0 for n, _ in steady]
    ys = [b / 1024.0 for _, b in steady]
    return slope(xs, ys)


def _pass(
    peers: Child, total: int, refreshes: int, every: int, sample: Callable[[], int], ours: bool
) -> tuple[list[tuple[int, int]], int]:
    """One pass of ours (with refreshes) or bare httpx; the samples, the refreshes seen."""
    peers.call(op="reset")
    if not ours:
        client = _peers.sign_in(peers, FakeClock())
        header = {"Authorization": f"Bearer {client.tokens.token('id')}"}
        client.close()
        with httpx.Client(transport=httpx.MockTransport(_api), headers=header) as http:
            return _drive(lambda: http.get(f"{API}/pets"), total, every, sample), 0
    clock = FakeClock()
    client = _peers.sign_in(peers, clock)
    peers.call(op="reset")
    interval = total // refreshes

    def maybe_expire(done: int) -> None:
        # Mid-interval: 1,000, 3,000, ... 19,000 of 20,000 make exactly 10.
        if done % interval == interval // 2:
            clock.advance(3600)

    try:
        with client.http(base_url=API, transport=httpx.MockTransport(_api)) as http:
            samples = _drive(lambda: http.get("/pets"), total, every, sample, maybe_expire)
        return samples, _peers.refreshes(peers)
    finally:
        client.close()


def run(settings: Settings, peers: Child | None = None) -> list[Row]:
    if peers is None:
        with _peers.start() as started:
            return run(settings, started)
    total = settings.count(20_000, 4_000)
    refreshes = settings.count(10, 2)
    every = settings.count(1_000, 250)
    rows = []
    results: dict[str, dict[str, Any]] = {}
    for kind, sample in (("rss", rss_bytes), ("traced", traced_bytes)):
        for who in ("bare", "ours"):
            if kind == "traced":
                tracemalloc.start()
            try:
                samples, seen = _pass(peers, total, refreshes, every, sample, who == "ours")
            finally:
                if kind == "traced":
                    tracemalloc.stop()
            results[f"{kind}:{who}"] = {
                "slope": _slope_kb_per_1000(samples),
                "samples": samples,
                "refreshes": seen,
            }
    for kind, label in (("traced", "traced (tracemalloc)"), ("rss", "RSS")):
        ours, bare = results[f"{kind}:ours"], results[f"{kind}:bare"]
        first, last = ours["samples"][len(ours["samples"]) // 5][1], ours["samples"][-1][1]
        rows.append(
            Row(
                FIGURE,
                f"memory slope after warm-up, {label}: {total:,} requests, {refreshes} refreshes",
                "KB/1k req",
                [ours["slope"]],
                "bare httpx, same requests, no refreshes",
                [bare["slope"]],
                bar=BAR if kind == "traced" else None,
                note=f"{ours['refreshes']} refreshes made; {label} "
                f"{first / 1024:.0f} KB after warm-up -> {last / 1024:.0f} KB at the end",
                extra={"samples": ours["samples"], "baseline_samples": bare["samples"]},
            )
        )
        if kind == "traced" and ours["refreshes"] != refreshes:
            rows[-1].failures.append(f"{ours['refreshes']} refreshes, expected {refreshes}")
    return rows
