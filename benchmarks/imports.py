"""Figure 4: wall time of ``python -c "import keybearer"`` against ``import httpx``.

Each statement runs in a new interpreter, round after round with the order
rotating, so every statement sees the same machine. Byte code is compiled once
by a warm-up run into a private cache (``PYTHONPYCACHEPREFIX``), for every
module alike: a user's interpreter reads ``.pyc`` files too, and an
environment that sets ``PYTHONDONTWRITEBYTECODE`` (as CI images often do)
would otherwise time the compiler for an editable install and not for
packages installed from wheels.

Bar: ``import keybearer`` at most 1.25x ``import httpx``. Touching
``keybearer.OAuthClient`` (which loads the client, pydantic and httpx) and the
alternatives are shown against the same baseline.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time

from benchmarks._children import child_env
from benchmarks._harness import Bar, Row, Settings, Timed, alternate, compared, unavailable

FIGURE = 4
BAR = Bar("ratio", 1.25)

BASELINE = "import httpx"
OURS = {
    "import keybearer": "import keybearer",
    "import keybearer; keybearer.OAuthClient": "import keybearer; keybearer.OAuthClient",
}
#: statement -> the module that must be installed for it
ALTERNATIVES = {
    "from authlib.integrations.httpx_client import OAuth2Client": "authlib",
    "import httpx_auth": "httpx_auth",
    "import msal": "msal",
    "import pycognito": "pycognito",
}


def clean_env(pycache: str) -> dict[str, str]:
    """The environment of a timed child: byte code cached in ``pycache``, warnings off."""
    env = child_env({"PYTHONPYCACHEPREFIX": pycache, "PYTHONWARNINGS": "ignore"})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPATH", None)  # the venv's site-packages has keybearer (editable)
    return env


def run_python(code: str, env: dict[str, str], cwd: str, timeout: float = 60.0) -> int:
    """Run ``python -c code``; the wall time in ns. A failure raises."""
    started = time.perf_counter_ns()
    subprocess.run(  # noqa: S603  (our own interpreter and code)
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        check=True,
        timeout=timeout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter_ns() - started


def run(settings: Settings) -> list[Row]:
    statements = [BASELINE, *OURS]
    missing = []
    if not settings.quick:
        for statement, module in ALTERNATIVES.items():
            if importlib.util.find_spec(module) is None:
                missing.append(unavailable(FIGURE, statement, f"{module} is not installed"))
            else:
                statements.append(statement)
    statements.append("pass")
    with tempfile.TemporaryDirectory(prefix="keybearer-bench-") as tmp:
        env = clean_env(f"{tmp}/pycache")

        def timer(code: str) -> Timed:
            def once(n: int) -> int:
                return sum(run_python(code, env, tmp) for _ in range(n))

            return once

        results = alternate(
            {s: timer(s) for s in statements},
            rounds=settings.rounds(30, 5),
            n=1,
            warmup=2,
            collect=False,
        )
    notes = {
        "pass": "the interpreter alone: the part of every figure here no library can remove",
        "import keybearer; keybearer.OAuthClient": "info: loads the client, pydantic, httpx",
    }
    return [
        *compared(
            FIGURE,
            results,
            BASELINE,
            unit="ms",
            scale=1e6,
            bars={"import keybearer": BAR},
            names={"pass": "python -c pass (the interpreter alone)"},
            notes=notes,
        ),
        *missing,
    ]
