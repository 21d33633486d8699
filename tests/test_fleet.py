"""One token per fleet: worker processes sharing a RedisStore ask the provider once.

Real processes, a real redis-server, oidc-provider issuing client-credentials
tokens, and an API method that wants the custom scope. The counts come from
the provider itself.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import keybearer
from keybearer.testing import ProtectedApi
from peers.oidc_peer import OidcPeer
from redis_peer import RedisServer

PROCESSES = 4
THREADS = 8
REQUESTS = 25

WORKER = textwrap.dedent(
    """
    import json, os, sys, threading, time
    from pathlib import Path
    import keybearer

    go = Path(os.environ["GO_FILE"])
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    offset = float(os.environ["CLOCK_OFFSET"])
    client = keybearer.OAuthClient.oidc(
        os.environ["ISSUER"],
        os.environ["CLIENT_ID"],  # the secret comes from KEYBEARER_CLIENT_SECRET
        grant="client_credentials",
        scopes=[os.environ["SCOPE"]],
        store=keybearer.RedisStore(url=os.environ["REDIS_URL"], lease=float(os.environ["LEASE"]),
                                   timeout=0.5),
        clock=lambda: time.time() + offset,
    )
    statuses = []
    def work():
        with client.http(base_url=os.environ["API_URL"], timeout=30) as http:
            for _ in range(int(os.environ["REQUESTS"])):
                try:
                    statuses.append(http.get("/pets").status_code)
                except Exception as exc:  # counted as a failed request
                    statuses.append(type(exc).__name__)
    threads = [threading.Thread(target=work) for _ in range(int(os.environ["THREADS"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(statuses))
    """
)

HOLDER = textwrap.dedent(
    """
    import os, sys, time
    import keybearer
    lease = float(os.environ["LEASE"])
    store = keybearer.RedisStore(url=os.environ["REDIS_URL"], secret="x", lease=lease)
    assert store.process_lock(os.environ["KEY"]).acquire(timeout=5)
    print("held", flush=True)
    time.sleep(600)
    """
)


# A worker that runs in steps on a fake clock the test moves. For step k it waits
# for the file step<k> (the clock offset, written by the test), sets its clock
# to time.time() + that offset, runs every thread's share of the step, joins
# them, and reports done<k>.<pid>. The test moves the clock only while every
# worker is paused between steps, so each request of a step sees the same clock
# and how the threads interleave cannot change which steps need a new token.
STEPPER = textwrap.dedent(
    """
    import json, os, sys, threading, time
    from pathlib import Path
    import keybearer

    steps = Path(os.environ["STEP_DIR"])
    per_step = [int(n) for n in os.environ["PER_STEP"].split(",")]
    offset = [0.0]
    client = keybearer.OAuthClient.oidc(
        os.environ["ISSUER"],
        os.environ["CLIENT_ID"],  # the secret comes from KEYBEARER_CLIENT_SECRET
        grant="client_credentials",
        scopes=[os.environ["SCOPE"]],
        store=keybearer.RedisStore(url=os.environ["REDIS_URL"], lease=float(os.environ["LEASE"]),
                                   timeout=0.5),
        clock=lambda: time.time() + offset[0],
    )
    statuses = []
    def work(count):
        with client.http(base_url=os.environ["API_URL"], timeout=30) as http:
            for _ in range(count):
                try:
                    statuses.append(http.get("/pets").status_code)
                except Exception as exc:  # counted as a failed request
                    statuses.append(type(exc).__name__)
    for step, count in enumerate(per_step):
        gate = steps / f"step{step}"
        deadline = time.monotonic() + 120
        while not gate.exists():
            if time.monotonic() > deadline:
                sys.exit(f"step {step} never opened")
            time.sleep(0.005)
        offset[0] = float(gate.read_text())
        threads = [threading.Thread(target=work, args=(count,))
                   for _ in range(int(os.environ["THREADS"]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        (steps / f"done{step}.{os.getpid()}").touch()
    print(json.dumps(statuses))
    """
)


class Fleet:
    def __init__(self, oidc: OidcPeer, redis: RedisServer, api: ProtectedApi, tmp: Path) -> None:
        self.oidc = oidc
        self.redis = redis
        self.tmp = tmp
        self.runs = 0
        self.env = {
            **os.environ,
            "ISSUER": oidc.issuer,
            "CLIENT_ID": oidc.service_client.id,
            "KEYBEARER_CLIENT_SECRET": oidc.service_client.secret or "",
            "SCOPE": oidc.api_scopes[0],
            "REDIS_URL": redis.url,
            "API_URL": api.url,
            "THREADS": str(THREADS),
            "REQUESTS": str(REQUESTS),
            "LEASE": "30",
        }

    def client(self, offset: float = 0.0) -> keybearer.OAuthClient:
        return keybearer.OAuthClient.oidc(
            self.oidc.issuer,
            self.oidc.service_client.id,
            self.oidc.service_client.secret,
            grant="client_credentials",
            scopes=[self.oidc.api_scopes[0]],
            store=keybearer.RedisStore(url=self.redis.url),
            clock=lambda: time.time() + offset,
        )

    def run(self, offset: float, **env: str) -> collections.Counter[object]:
        """Start the workers, open the gate, and count every request's outcome."""
        self.runs += 1
        go = self.tmp / f"go{self.runs}"
        environ = {**self.env, "GO_FILE": str(go), "CLOCK_OFFSET": str(offset), **env}
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        time.sleep(0.5)  # let every worker import and wait at the gate
        go.touch()
        outcomes: collections.Counter[object] = collections.Counter()
        for worker in workers:
            out, err = worker.communicate(timeout=180)
            assert worker.returncode == 0, err
            outcomes.update(json.loads(out))
        return outcomes

    def run_steps(
        self, offsets: list[float], per_step: list[int], before: Callable[[int], None]
    ) -> tuple[collections.Counter[object], list[int]]:
        """Run the stepping workers through one step per offset.

        ``before(k)`` runs while every worker is paused ahead of step k. Returns
        every request's outcome and the token requests the peer counted in each step.
        """
        self.runs += 1
        steps = self.tmp / f"steps{self.runs}"
        steps.mkdir()
        environ = {
            **self.env,
            "STEP_DIR": str(steps),
            "PER_STEP": ",".join(map(str, per_step)),
        }
        # stderr to files: the test reads no pipe until the end, so a chatty
        # worker must not be able to fill one and stall.
        logs = [steps / f"stderr{n}" for n in range(PROCESSES)]
        workers = []
        for log in logs:
            with log.open("w") as stderr:  # the child keeps its own copy of the descriptor
                workers.append(
                    subprocess.Popen(
                        [sys.executable, "-c", STEPPER],
                        env=environ,
                        stdout=subprocess.PIPE,
                        stderr=stderr,
                        text=True,
                    )
                )
        per_step_issued: list[int] = []
        try:
            for step, offset in enumerate(offsets):
                before(step)
                start = issued(self.oidc)
                gate = steps / f"step{step}"
                (steps / "next").write_text(repr(offset))
                (steps / "next").rename(gate)  # whole, so no worker reads it half written
                deadline = time.monotonic() + 120
                while len(list(steps.glob(f"done{step}.*"))) < PROCESSES:
                    for worker, log in zip(workers, logs, strict=True):
                        if worker.poll() is not None:
                            pytest.fail(f"a worker exited in step {step}: {log.read_text()}")
                    assert time.monotonic() < deadline, f"step {step} did not finish"
                    time.sleep(0.01)
                per_step_issued.append(issued(self.oidc) - start)
            outcomes: collections.Counter[object] = collections.Counter()
            for worker, log in zip(workers, logs, strict=True):
                out, _ = worker.communicate(timeout=60)
                assert worker.returncode == 0, log.read_text()
                outcomes.update(json.loads(out))
            return outcomes, per_step_issued
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.communicate()


@pytest.fixture
def fleet(oidc_clean: OidcPeer, redis_clean: RedisServer, tmp_path: Path) -> Iterator[Fleet]:
    scopes = {"/pets": [oidc_clean.api_scopes[0]]}
    ids = [oidc_clean.service_client.id]
    with ProtectedApi(oidc_clean.jwks_url, oidc_clean.issuer, ids, scopes=scopes) as api:
        yield Fleet(oidc_clean, redis_clean, api, tmp_path)


def issued(oidc: OidcPeer) -> int:
    return oidc.counts().get("token:client_credentials", 0)


ALL_OK = collections.Counter({200: PROCESSES * THREADS * REQUESTS})
# The fault tests need fewer requests to make their point.
SMALL = {"THREADS": "2", "REQUESTS": "5"}
SMALL_OK = collections.Counter({200: PROCESSES * 2 * 5})


def test_a_fleet_renews_an_expiring_token_once(fleet: Fleet) -> None:
    fleet.client().valid_tokens()  # the token in Redis, from a deploy-time process
    fleet.oidc.reset_counts()
    # 45 s on: past the 60 s token's half-life for every worker, so all of
    # them want a new one at once; still valid at the API.
    assert fleet.run(offset=45) == ALL_OK
    assert issued(fleet.oidc) == 1


def test_a_fleet_starting_empty_obtains_one_token(fleet: Fleet) -> None:
    assert fleet.run(offset=0, **SMALL) == SMALL_OK
    assert issued(fleet.oidc) == 1


def test_a_killed_lock_holder_blocks_the_fleet_no_longer_than_the_lease(fleet: Fleet) -> None:
    fleet.client().valid_tokens()
    fleet.oidc.reset_counts()
    key = fleet.client().config.store_key
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env={**fleet.env, "KEY": key, "LEASE": "2"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    assert fleet.run(offset=45, **SMALL) == SMALL_OK
    assert issued(fleet.oidc) == 1


def test_redis_down_costs_a_token_per_process_and_sharing_resumes(fleet: Fleet) -> None:
    fleet.redis.stop()
    try:
        assert fleet.run(offset=0, **SMALL) == SMALL_OK
        # Each process on its own, but still one request per process.
        assert issued(fleet.oidc) == PROCESSES
    finally:
        fleet.redis.start()
    fleet.oidc.reset_counts()
    assert fleet.run(offset=0, **SMALL) == SMALL_OK
    assert issued(fleet.oidc) == 1


# Tokens that live 600 s are renewed 120 s before they expire (the default
# refresh_ahead), 480 s on the clock that obtained them; each step moves the
# fleet's clock 500 s on, past that point, and a step lasts far less than
# 480 s of real time. So every step after the first crosses exactly one
# renewal point, whatever the scheduling.
TTL = 600
STEP = 500.0
STEPS = 5


def test_a_fleet_renews_once_per_expiry_during_the_run(fleet: Fleet) -> None:
    fleet.oidc.configure(access_token_ttl=TTL)
    offsets = [STEP * k for k in range(STEPS)]
    per_step = [REQUESTS // STEPS] * STEPS  # 25 requests per thread over the run
    outcomes, tokens = fleet.run_steps(offsets, per_step, before=lambda step: None)
    assert outcomes == ALL_OK
    # One token to start with, then one per renewal point the clock crossed:
    # the peer counts exactly one token request per step.
    assert tokens == [1] * STEPS
    assert issued(fleet.oidc) == STEPS


def test_redis_stopped_mid_run_fails_no_request_and_sharing_resumes(fleet: Fleet) -> None:
    fleet.oidc.configure(access_token_ttl=TTL)

    def between(step: int) -> None:
        if step == 1:  # the fleet holds a shared token and its Redis connections
            fleet.redis.stop()
        elif step == 2:  # Redis comes back empty (no persistence), on the same port
            fleet.redis.start()

    try:
        outcomes, tokens = fleet.run_steps([0.0, STEP, 2 * STEP], [2, 5, 2], before=between)
    finally:
        if fleet.redis.process is None:
            fleet.redis.start()  # leave the session's Redis running
    assert outcomes == collections.Counter({200: PROCESSES * THREADS * 9})
    # Shared, then each process on its own while Redis is down, then shared again.
    assert tokens == [1, PROCESSES, 1]
