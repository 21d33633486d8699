"""Figure 9: ``keybearer token`` with a fresh token, in a new process each time.

What a credential helper or ``curl -H "Authorization: Bearer $(keybearer
token)"`` pays on every call: start the interpreter, import the command, read
the profile and the stored tokens, print the token. The profile is a file in a
temporary directory and the tokens are in a FileStore there (a keyring's own
cost is figure 5's). Byte code is cached as for figure 4.

Bar: at most 250 ms (median). ``import httpx`` and the bare interpreter are
shown against the same baseline for scale.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from benchmarks._harness import Bar, Row, Settings, Timed, alternate, compared
from benchmarks._tokens import CLIENT_ID, POOL_ID, make_tokens
from benchmarks.imports import clean_env, run_python

FIGURE = 9
BAR = Bar("value", 250.0)

SEED = """
import os, keybearer
client = keybearer.OAuthClient.cognito(os.environ["KB_POOL"], os.environ["KB_CLIENT"])
keybearer.FileStore(os.environ["KB_TOKEN_FILE"]).save(
    client.config.store_key, os.environ["KB_TOKENS"]
)
"""

# The console script does exactly this (pyproject: keybearer = "keybearer.cli:main").
OURS = "from keybearer.cli import main; main(['token'])"
BASELINE = "import httpx"


def run(settings: Settings) -> list[Row]:
    tokens = make_tokens()
    with tempfile.TemporaryDirectory(prefix="keybearer-bench-") as tmp:
        config = os.path.join(tmp, "config.toml")
        token_file = os.path.join(tmp, "tokens.json")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(
                f'[profiles.default]\nuser_pool_id = "{POOL_ID}"\nclient_id = "{CLIENT_ID}"\n'
            )
        env = clean_env(os.path.join(tmp, "pycache"))
        env.update({"KEYBEARER_CONFIG": config, "KEYBEARER_STORE": f"file:{token_file}"})
        seed_env = dict(
            env,
            KB_POOL=POOL_ID,
            KB_CLIENT=CLIENT_ID,
            KB_TOKEN_FILE=token_file,
            KB_TOKENS=tokens.token_set_json(),
        )
        seed = [sys.executable, "-c", SEED]
        subprocess.run(seed, env=seed_env, cwd=tmp, check=True, timeout=60)  # noqa: S603

        def timer(code: str) -> Timed:
            def once(n: int) -> int:
                return sum(run_python(code, env, tmp) for _ in range(n))

            return once

        results = alternate(
            {
                name: timer(code)
                for name, code in {"ours": OURS, BASELINE: BASELINE, "pass": "pass"}.items()
            },
            rounds=settings.rounds(30, 5),
            n=1,
            warmup=2,
            collect=False,
        )
    return compared(
        FIGURE,
        results,
        BASELINE,
        unit="ms",
        scale=1e6,
        bars={"ours": BAR},
        names={
            "ours": "keybearer token (fresh token, file store)",
            "pass": "python -c pass (the interpreter alone)",
        },
    )
