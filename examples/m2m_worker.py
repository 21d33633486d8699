"""A fleet of workers calling a scoped API with one client-credentials token, shared in Redis.

    python examples/m2m_worker.py

Everything runs locally: LocalCognito (moto, plus Cognito's ``/oauth2/token``
client-credentials grant and ``GetClientToken``), ProtectedApi (an API method
that, like API Gateway with OAuth scopes, accepts only an access token carrying
``https://api.example.test/pets.read``) and a ``redis-server`` on a free port.
It starts WORKERS processes of this same file (``--worker``); each sends
requests from several threads through ``client.http()``. The token endpoint
counts the token requests: one for the whole fleet, then one more when the
token is due for renewal. A real service needs only :func:`make_client` with
its own pool, app client and Redis URL, and the secret in
``KEYBEARER_CLIENT_SECRET``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import redis

import keybearer
from keybearer.testing import LocalCognito, ProtectedApi

WORKERS = 3
THREADS = 4
REQUESTS = 5
SCOPE_SERVER = "https://api.example.test"


def make_client(
    user_pool_id: str,
    client_id: str,
    redis_url: str,
    *,
    domain: str | None,
    idp_url: str | None = None,
    clock_offset: float = 0.0,
) -> keybearer.OAuthClient:
    """The service's client: its secret comes from ``KEYBEARER_CLIENT_SECRET``."""
    return keybearer.OAuthClient.cognito(
        user_pool_id,
        client_id,
        grant="client_credentials",
        scopes=[f"{SCOPE_SERVER}/pets.read"],
        domain=domain,  # /oauth2/token; without a domain, GetClientToken
        idp_url=idp_url,
        store=keybearer.RedisStore(url=redis_url, prefix="m2m-demo:"),
        # The demo moves the clock instead of waiting an hour for expiry.
        clock=lambda: time.time() + clock_offset,
    )


def worker() -> None:
    """One worker process: THREADS threads x REQUESTS requests; prints the statuses."""
    client = make_client(
        os.environ["DEMO_POOL"],
        os.environ["DEMO_CLIENT"],
        os.environ["DEMO_REDIS"],
        domain=os.environ["DEMO_DOMAIN"],
        idp_url=os.environ["DEMO_IDP"],
        clock_offset=float(os.environ["DEMO_OFFSET"]),
    )
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def work() -> None:
        with client.http(base_url=os.environ["DEMO_API"]) as api:
            for _ in range(REQUESTS):
                status = api.get("/pets").status_code
                with lock:
                    statuses[status] += 1

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(dict(statuses)))


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("this demo needs redis-server (Debian: apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen([*command, "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    probe = redis.Redis.from_url(url, socket_timeout=0.5)
    for _ in range(500):
        try:
            if probe.ping():
                break
        except redis.ConnectionError:
            time.sleep(0.02)
    probe.close()
    return process, url


def run_fleet(env: dict[str, str], offset: float) -> Counter[int]:
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            env={**env, "DEMO_OFFSET": str(offset)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    total: Counter[int] = Counter()
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            sys.exit(f"a worker failed (exit {proc.returncode})")
        total.update({int(k): v for k, v in json.loads(out).items()})
    return total


def main() -> None:
    redis_process, redis_url = start_redis()
    try:
        with LocalCognito() as cognito:
            pool = cognito.create_pool()
            scopes = cognito.create_resource_server(pool, SCOPE_SERVER, ["pets.read"])
            app = cognito.create_app_client(
                pool,
                secret=True,
                flows=("ALLOW_CLIENT_TOKEN_AUTH",),
                oauth_flows=("client_credentials",),
                scopes=scopes,
            )
            with ProtectedApi(pool.jwks_url, pool.issuer, [app.id]) as api:
                api.require_scopes("/pets", scopes)
                env = {
                    **os.environ,
                    "KEYBEARER_CLIENT_SECRET": app.secret or "",
                    "DEMO_POOL": pool.id,
                    "DEMO_CLIENT": app.id,
                    "DEMO_REDIS": redis_url,
                    "DEMO_DOMAIN": cognito.domain_url,
                    "DEMO_IDP": cognito.url,
                    "DEMO_API": api.url,
                }
                print(f"1) {WORKERS} workers x {THREADS} threads x {REQUESTS} requests")
                statuses = run_fleet(env, offset=0)
                first = cognito.calls["oauth2/token"]
                print(f"   API answers: {dict(statuses)}; token requests at Cognito: {first}")

                print("2) an hour later (the workers' clocks moved): the token is due")
                statuses = run_fleet(env, offset=3500)
                second = cognito.calls["oauth2/token"]
                print(f"   API answers: {dict(statuses)}; token requests at Cognito: {second}")
                uses = sorted({str(r.token_use) for r in api.requests})
                print(f"   token kinds the API saw: {uses}")
    finally:
        os.kill(redis_process.pid, signal.SIGTERM)
        redis_process.wait(10)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        main()
