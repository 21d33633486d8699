"""Run examples/cli_session.sh against local stand-ins: nothing talks to AWS.

    python examples/cli_session_local.py

It starts moto's Cognito (``keybearer.testing.LocalCognito``) with a user pool,
an app client and a user, and a PetStore API that checks tokens like an API
Gateway Cognito authorizer (``keybearer.testing.ProtectedApi``), all on
127.0.0.1. Then it runs the shell script with the settings in its environment
and the password on its stdin, as a CI job would. The profiles file and the
tokens go to a temporary directory (``KEYBEARER_CONFIG``, ``KEYBEARER_STORE``),
so your own profiles and keyring are not touched. It needs ``bash``, and the
``keybearer`` command installed next to this Python (``pip install keybearer``
or ``make test`` in a checkout); ``curl`` is used when it is installed.

Exit code: the script's.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from keybearer.testing import LocalCognito, ProtectedApi

SCRIPT = Path(__file__).resolve().parent / "cli_session.sh"
USERNAME = "alice"
PASSWORD = "Correct-Horse-Battery-9!"


def session_env(
    *, pool_id: str, client_id: str, idp_url: str, jwks_url: str, api_url: str, home: Path
) -> dict[str, str]:
    """The script's environment: this one without KEYBEARER_* settings, plus the stand-ins'."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KEYBEARER_")}
    bin_dir = str(Path(sys.executable).parent)  # where pip put the `keybearer` command
    env.update(
        PATH=os.pathsep.join([bin_dir, env.get("PATH", os.defpath)]),
        COGNITO_USER_POOL_ID=pool_id,
        COGNITO_CLIENT_ID=client_id,
        COGNITO_IDP_URL=idp_url,
        COGNITO_JWKS_URL=jwks_url,
        COGNITO_USERNAME=USERNAME,
        API_URL=api_url,
        KEYBEARER_CONFIG=str(home / "config.toml"),
        KEYBEARER_STORE=f"file:{home / 'tokens.json'}",
        # The tokens live in the file above; any use of the OS keyring would fail.
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        NO_COLOR="1",
    )
    return env


def main() -> int:
    bash = shutil.which("bash")
    if bash is None:
        sys.exit("this example needs bash")
    if shutil.which("keybearer", path=str(Path(sys.executable).parent)) is None:
        sys.exit(f"no `keybearer` command next to {sys.executable}: pip install keybearer")
    # werkzeug (under moto) logs every request; the script's output is what matters.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)

    with tempfile.TemporaryDirectory(prefix="keybearer-cli-") as tmp, LocalCognito() as cognito:
        pool = cognito.create_pool()
        app = cognito.create_app_client(pool)  # public: no client secret
        cognito.create_user(pool, USERNAME, PASSWORD)
        with ProtectedApi(pool.jwks_url, pool.issuer, [app.id]) as api:
            print(f"Local Cognito (moto) at {cognito.url}: user pool {pool.id}, user {USERNAME!r}")
            print(f"Local API at {api.url}: checks ID tokens like a Cognito authorizer")
            print(f"Running {SCRIPT.name}; the password goes to its stdin.", flush=True)
            env = session_env(
                pool_id=pool.id,
                client_id=app.id,
                idp_url=cognito.url,
                jwks_url=pool.jwks_url,
                api_url=api.url,
                home=Path(tmp),
            )
            finished = subprocess.run(
                [bash, str(SCRIPT)],
                input=PASSWORD + "\n",
                text=True,
                env=env,
                timeout=300,
                check=False,
            )
            print(f"{SCRIPT.name} exited with {finished.returncode}", flush=True)
            return finished.returncode


if __name__ == "__main__":
    sys.exit(main())
