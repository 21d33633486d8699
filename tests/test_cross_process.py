"""Processes that share a session refresh it once, not once each.

With refresh-token rotation this is what keeps a user signed in: the peer
(oidc-provider with rotation on) revokes the whole grant when a rotated-out
refresh token is used again, so a second refresh would end the session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

import keybearer
from keybearer.testing import ProtectedApi
from peers.oidc_peer import OidcPeer, sign_in

PROCESSES = 4
REQUESTS = 50

WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    import keybearer

    go = Path(os.environ["GO_FILE"])
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    offset = float(os.environ["CLOCK_OFFSET"])
    client = keybearer.OAuthClient.oidc(
        os.environ["ISSUER"],
        os.environ["CLIENT_ID"],
        redirect_uri="http://127.0.0.1:0/callback",
        store=keybearer.FileStore(os.environ["TOKEN_FILE"]),
        clock=lambda: time.time() + offset,
    )
    statuses = []
    with client.http(base_url=os.environ["API_URL"], timeout=30) as http:
        for _ in range(int(os.environ["REQUESTS"])):
            statuses.append(http.get("/pets").status_code)
    print(json.dumps(statuses))
    """
)


def test_four_processes_with_a_rotating_refresh_token_refresh_once(
    oidc_clean: OidcPeer, tmp_path: Path
) -> None:
    oidc = oidc_clean
    oidc.set_rotation(True)
    token_file = tmp_path / "tokens.json"
    setup = keybearer.OAuthClient.oidc(
        oidc.issuer,
        oidc.public_client.id,
        redirect_uri="http://localhost:8765/callback",
        store=keybearer.FileStore(token_file),
    )
    setup.complete_login(sign_in(setup.authorization_url(), oidc.user.username, oidc.user.password))
    oidc.reset_counts()
    go = tmp_path / "go"

    with ProtectedApi(oidc.jwks_url, oidc.issuer, [oidc.public_client.id]) as api:
        env = {
            **os.environ,
            "GO_FILE": str(go),
            # Past the 60 s token's half-life for every worker, still valid at the API.
            "CLOCK_OFFSET": "45",
            "ISSUER": oidc.issuer,
            "CLIENT_ID": oidc.public_client.id,
            "TOKEN_FILE": str(token_file),
            "API_URL": api.url,
            "REQUESTS": str(REQUESTS),
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        time.sleep(0.5)  # let every worker import and wait at the gate
        go.touch()
        outputs = [worker.communicate(timeout=120) for worker in workers]

    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert json.loads(out) == [200] * REQUESTS
    assert oidc.counts()["token:refresh_token"] == 1
    # The session is still alive: the rotated refresh token works.
    after = keybearer.OAuthClient.oidc(
        oidc.issuer,
        oidc.public_client.id,
        redirect_uri="http://localhost:8765/callback",
        store=keybearer.FileStore(token_file),
    )
    assert after.refresh().refresh_token is not None
    assert httpx.get(f"{oidc.url}/.well-known/openid-configuration").status_code == 200
