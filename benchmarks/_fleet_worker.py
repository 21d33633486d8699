"""Child process: one worker of a fleet, calling the API from several threads.

``python -m benchmarks._fleet_worker MODE ISSUER GO_FILE`` with ``MODE``
``redis`` (keybearer + RedisStore at ``$BENCH_REDIS_URL``), ``memory``
(keybearer with a per-process MemoryStore) or ``authlib`` (Authlib's httpx
OAuth2Client, grant_type=client_credentials). Waits for ``GO_FILE``, sends
THREADS x REQUESTS requests, prints ``{"ok": n, "failed": n}``.
``$BENCH_CLOCK_OFFSET`` moves keybearer's clock (a token seeded earlier is
then due for renewal in every worker at once).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import httpx

THREADS = 4
REQUESTS = 10
#: Requests each worker process sends.
PER_PROCESS = THREADS * REQUESTS
SECRET = "bench-service-secret-0123456789abcdefghijklmnop"
CLIENT_ID = "bench_service_client"


def keybearer_client(mode: str, issuer: str, redis_url: str, offset: float = 0.0) -> Any:
    """A client-credentials client; ``mode`` "redis" shares through Redis, else not."""
    import keybearer

    store: Any = keybearer.RedisStore(url=redis_url) if mode == "redis" else keybearer.MemoryStore()
    return keybearer.OAuthClient.oidc(
        issuer,
        CLIENT_ID,
        SECRET,
        grant="client_credentials",
        scopes=["https://api.example.test/read"],
        store=store,
        clock=lambda: time.time() + offset,
    )


def authlib_client(issuer: str) -> httpx.Client:
    with warnings.catch_warnings():
        import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
    # The token it was started with has just expired: Authlib renews a
    # client-credentials token on the next request (it cannot start without one).
    expired = {"access_token": "seed", "token_type": "Bearer", "expires_at": int(time.time()) - 1}
    client: httpx.Client = OAuth2Client(
        CLIENT_ID,
        SECRET,
        scope="https://api.example.test/read",
        token_endpoint=f"{issuer}/oauth2/token",
        grant_type="client_credentials",
        token=expired,
    )
    return client


def main() -> None:
    mode, issuer, go_file = sys.argv[1:4]
    go = Path(go_file)
    if mode == "authlib":
        shared: httpx.Client | None = authlib_client(issuer)
        kb = None
    else:
        shared = None
        offset = float(os.environ.get("BENCH_CLOCK_OFFSET", "0"))
        kb = keybearer_client(mode, issuer, os.environ.get("BENCH_REDIS_URL", ""), offset)
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    outcome = {"ok": 0, "failed": 0}
    lock = threading.Lock()

    def work() -> None:
        if shared is not None:
            http = shared
        else:
            assert kb is not None
            http = kb.http(base_url=issuer, timeout=30)
        for _ in range(REQUESTS):
            try:
                ok = http.get(f"{issuer}/api").status_code == 200
            except Exception:
                ok = False
            with lock:
                outcome["ok" if ok else "failed"] += 1

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
