"""Figures 11 and 12: client credentials across a fleet of processes.

Figure 11: P worker processes (each with 4 threads x 10 requests) start at the
moment the service token is due for renewal; a local token endpoint counts the
token requests. keybearer with ``RedisStore`` (the token sealed in Redis, one
Redis lock around the request): bar exactly 1. keybearer with a per-process
store: P, by design. Authlib's httpx ``OAuth2Client`` (client_credentials, its
token just expired): measured.

Figure 12: what a request costs with ``RedisStore`` while the token is fresh,
against bare httpx with a static header, over ``httpx.MockTransport``. The
token is in process memory, so no Redis round trip happens per request.
Bar: <= 1.03x, as figure 1.

Both need ``redis-server`` on PATH (Debian: ``apt-get install redis-server``);
without it the rows are ``n/a``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from benchmarks._children import ROOT, Child, child_env
from benchmarks._fleet_worker import PER_PROCESS, keybearer_client
from benchmarks._harness import Bar, Row, Settings, Timed, alternate, compared, unavailable

FLEET_FIGURE = 11
COST_FIGURE = 12
ONE = Bar("exact", 1)
COST_BAR = Bar("ratio", 1.03)


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """A throw-away redis-server on a free 127.0.0.1 port; None when not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [binary, "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no"]
    # The redis-server found on PATH, with fixed arguments.
    process = subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        import redis

        probe = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if probe.ping():
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        probe.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(10)


def _fleet(mode: str, processes: int, issuer: str, redis_url: str, offset: float) -> int:
    """Run one fleet; returns the number of failed requests."""
    with tempfile.TemporaryDirectory() as tmp:
        go = Path(tmp) / "go"
        env = child_env({"BENCH_REDIS_URL": redis_url, "BENCH_CLOCK_OFFSET": str(offset)})
        workers = [
            subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                [sys.executable, "-m", "benchmarks._fleet_worker", mode, issuer, str(go)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        time.sleep(0.3 + 0.1 * processes)  # every worker imported and waiting at the gate
        go.touch()
        failed = 0
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            if worker.returncode != 0:
                raise RuntimeError(f"a {mode} worker failed:\n{err[-2000:]}")
            outcome: dict[str, int] = json.loads(out)
            failed += outcome["failed"] + (PER_PROCESS - outcome["ok"] - outcome["failed"])
        return failed


def _seed(issuer: str, redis_url: str) -> None:
    """The fleet's token, in Redis, obtained by an earlier process (a deploy step, say)."""
    client = keybearer_client("redis", issuer, redis_url)
    client.refresh()
    client.close()


def run_fleet(settings: Settings) -> list[Row]:
    name = "token requests per token lifetime, {} processes, {}"
    processes = settings.count(8, 4)
    runs = settings.rounds(3, 1)
    with redis_server() as redis_url:
        if redis_url is None:
            return [unavailable(FLEET_FIGURE, name.format("P", "all"), "needs redis-server")]
        with Child("benchmarks._token_server") as server:
            issuer = server.ready["url"]
            contenders = {
                "redis": ("keybearer + RedisStore", ONE),
                "memory": ("keybearer, per-process store", Bar("exact", processes)),
                "authlib": ("Authlib OAuth2Client", None),
            }
            rows = []
            for mode, (label, bar) in contenders.items():
                counts: list[float] = []
                failed = 0
                for _ in range(runs):
                    if mode == "redis":
                        _seed(issuer, redis_url)
                    server.call(op="reset")
                    # Inside the seeded token's renewal window (120 s before expiry): due in
                    # every worker at once, still valid.
                    failed += _fleet(mode, processes, issuer, redis_url, offset=3500)
                    counts.append(float(server.call(op="count")["token"]))
                total = runs * processes * PER_PROCESS
                row = Row(
                    FLEET_FIGURE,
                    name.format(processes, label),
                    "token requests",
                    counts,
                    bar=bar,
                    note=f"{failed} of {total} requests failed over {runs} runs",
                )
                if failed:
                    row.failures.append(f"{failed} requests failed")
                rows.append(row)
            return rows


def _timer(client: httpx.Client, url: str) -> Timed:
    def run(n: int) -> int:
        get = client.get
        started = time.perf_counter_ns()
        for _ in range(n):
            get(url)
        return time.perf_counter_ns() - started

    return run


def run_cost(settings: Settings) -> list[Row]:
    name = "client.auth with RedisStore, token fresh, sync, MockTransport"
    with redis_server() as redis_url:
        if redis_url is None:
            return [unavailable(COST_FIGURE, name, "needs redis-server")]
        with Child("benchmarks._token_server") as server:
            client = keybearer_client("redis", server.ready["url"], redis_url)
            # The token comes from the local token endpoint once and goes to Redis.
            token = client.valid_tokens().access_token.get_secret_value()
        url = "https://api.example.test/prod/pets"

        def api(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=b"[]")

        header = {"Authorization": f"Bearer {token}"}
        with contextlib.ExitStack() as stack:
            stack.callback(client.close)
            bare = stack.enter_context(
                httpx.Client(transport=httpx.MockTransport(api), headers=header)
            )
            ours = stack.enter_context(
                client.http(base_url="https://api.example.test", transport=httpx.MockTransport(api))
            )
            results = alternate(
                {"bare": _timer(bare, url), "keybearer": _timer(ours, url)},
                rounds=settings.rounds(101, 21),
                n=settings.count(250, 120),
                warmup=50,
            )
        rows = compared(
            COST_FIGURE,
            results,
            "bare",
            unit="us/req",
            scale=1000.0,
            bars={"keybearer": COST_BAR},
            names={"keybearer": name},
        )
        for row in rows:
            row.baseline = "bare httpx, sync, MockTransport"
        return rows


def run(settings: Settings) -> list[Row]:
    return run_fleet(settings) + run_cost(settings)


__all__ = ["run", "run_cost", "run_fleet"]
