"""Figure 5: a new process, tokens already in the keyring, makes one API call.

The keyring is keyrings.alt's ``PlaintextKeyring`` in a temporary
``XDG_DATA_HOME``, named in ``PYTHON_KEYRING_BACKEND`` (keybearer refuses a
plain-text backend it was not told to use; naming it is telling it). A child
process seeds it through ``KeyringStore`` once. Then, round after round and
alternating, a new interpreter

* (ours) builds an ``OAuthClient``, which reads the tokens from the keyring, and
  GETs ``/pets`` through ``client.http()``;
* (baseline) GETs ``/pets`` with bare httpx and a static ``Authorization`` header.

The API is the trivial loopback server (a child process): the point is the
client's cost. Byte code is cached as for figure 4. Bar: at most 1.6x.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from benchmarks._children import Child
from benchmarks._harness import Bar, Row, Settings, Timed, alternate, compared
from benchmarks._tokens import CLIENT_ID, POOL_ID, make_tokens
from benchmarks.imports import clean_env, run_python

FIGURE = 5
BAR = Bar("ratio", 1.6)

SEED = """
import os, keybearer
client = keybearer.OAuthClient.cognito(os.environ["KB_POOL"], os.environ["KB_CLIENT"])
keybearer.KeyringStore().save(client.config.store_key, os.environ["KB_TOKENS"])
"""

OURS = """
import os, keybearer
client = keybearer.OAuthClient.cognito(os.environ["KB_POOL"], os.environ["KB_CLIENT"])
with client.http(base_url=os.environ["KB_URL"]) as api:
    api.get("/pets").raise_for_status()
"""

BARE = """
import os, httpx
headers = {"Authorization": "Bearer " + os.environ["KB_TOKEN"]}
httpx.get(os.environ["KB_URL"] + "/pets", headers=headers).raise_for_status()
"""

# What the first line of OURS costs by itself, to show where the time goes.
IMPORT_ONLY = """
import keybearer
keybearer.OAuthClient
"""

READ_TOKENS = """
import os, keybearer
client = keybearer.OAuthClient.cognito(os.environ["KB_POOL"], os.environ["KB_CLIENT"])
assert client.tokens is not None
"""


def run(settings: Settings) -> list[Row]:
    tokens = make_tokens()
    with (
        tempfile.TemporaryDirectory(prefix="keybearer-bench-") as tmp,
        Child("benchmarks._ok_server") as server,
    ):
        env = clean_env(os.path.join(tmp, "pycache"))
        env.update(
            {
                "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                "XDG_DATA_HOME": os.path.join(tmp, "data"),
                "KB_POOL": POOL_ID,
                "KB_CLIENT": CLIENT_ID,
                "KB_URL": server.ready["url"],
                "KB_TOKEN": tokens.id_token,
            }
        )
        seed_env = dict(env, KB_TOKENS=tokens.token_set_json())
        seed = [sys.executable, "-c", SEED]
        subprocess.run(seed, env=seed_env, cwd=tmp, check=True, timeout=60)  # noqa: S603

        def timer(code: str) -> Timed:
            def once(n: int) -> int:
                return sum(run_python(code, env, tmp) for _ in range(n))

            return once

        contenders = {"bare": BARE, "ours": OURS}
        if not settings.quick:
            contenders |= {"import": IMPORT_ONLY, "read": READ_TOKENS}
        results = alternate(
            {name: timer(code) for name, code in contenders.items()},
            rounds=settings.rounds(25, 5),
            n=1,
            warmup=2,
            collect=False,
        )
    return compared(
        FIGURE,
        results,
        "bare",
        unit="ms",
        scale=1e6,
        bars={"ours": BAR},
        names={
            "ours": "cold start: keyring -> first API call",
            "import": "cold start, part: import keybearer; keybearer.OAuthClient",
            "read": "cold start, part: ... + OAuthClient.cognito() + tokens from keyring",
        },
        notes={
            "import": "info: where the time of the row above goes",
            "read": "info: everything but the HTTP client and the request",
        },
    )
