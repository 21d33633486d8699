"""keybearer quickstart: sign in to a Cognito user pool once, then call the API.

Everything runs on 127.0.0.1, nothing talks to AWS: the user pool is moto's
Cognito (``keybearer.testing.LocalCognito``) and the API checks tokens the way
an API Gateway Cognito authorizer does (``keybearer.testing.ProtectedApi``).
The keybearer calls are exactly the ones an app makes against the real thing;
drop ``idp_url=``, ``clock=`` and ``store=`` and they talk to AWS.

Run it with ``make demo`` or ``python examples/quickstart.py [-v]``. It shows:

1. the stand-ins starting;
2. a sign-in with a temporary password, answered with a new password;
3. an API call through ``client.http()``;
4. a refresh ahead of expiry (the app's clock is moved forward);
5. a 401 from the API, answered by one refresh and one retry;
6. a second process using the stored tokens without signing in;
7. logging out.

No token, password or secret is printed: ``TokenSet`` and the challenges
have redacted reprs, and the claims shown are not secret.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keybearer
from keybearer.testing import AppClient, LocalCognito, Pool, ProtectedApi

USERNAME = "alice"
#: What an administrator hands out; the first sign-in must replace it.
TEMPORARY_PASSWORD = "Temporary-Pass-1!"
NEW_PASSWORD = "Correct-Horse-Battery-9!"

#: The stand-in's counter for refreshes (cognito-idp InitiateAuth, REFRESH_TOKEN_AUTH).
REFRESHES = "InitiateAuth:REFRESH_TOKEN_AUTH"


class Clock:
    """``time.time`` plus an offset the demo can move: the ``clock=`` of ``OAuthClient``.

    Moving it forward shows what happens near expiry without waiting an hour.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def step(number: int, text: str) -> None:
    print(f"{number}) {text}", flush=True)


def detail(text: str) -> None:
    print(f"   {text}", flush=True)


def describe(tokens: keybearer.TokenSet, clock: Clock) -> str:
    """Claims worth seeing; none of them is a secret (they are read unverified)."""
    claims = tokens.id_claims
    minutes = tokens.expires_in(clock()) / 60
    return (
        f"cognito:username={claims.get('cognito:username')}, "
        f"token_use={claims.get('token_use')}, expires in {minutes:.0f} min"
    )


def demo(
    cognito: LocalCognito, pool: Pool, app: AppClient, api: ProtectedApi, token_file: Path
) -> None:
    """Steps 2 to 7, against stand-ins that are already running."""
    clock = Clock()
    store = keybearer.FileStore(token_file)
    client = keybearer.OAuthClient.cognito(
        pool.id,
        app.id,
        idp_url=cognito.url,  # instead of https://cognito-idp.us-east-1.amazonaws.com/
        store=store,  # default: keybearer.KeyringStore(), the OS keyring
        clock=clock,  # default: time.time
    )

    with client:
        step(2, f"Sign in as {USERNAME!r} with the temporary password an admin handed out")
        result = client.login_password(USERNAME, TEMPORARY_PASSWORD)
        detail(f"Cognito answers with a challenge: {result!r}")
        if isinstance(result, keybearer.NewPasswordRequired):
            result = client.respond(result, new_password=NEW_PASSWORD)
        if not isinstance(result, keybearer.TokenSet):
            raise RuntimeError(f"expected tokens, Cognito asked for {result!r}")
        detail("client.respond(challenge, new_password=...) -> signed in:")
        detail(repr(result))
        detail(f"ID token claims (unverified): {describe(result, clock)}")

        with client.http(base_url=api.url, timeout=10) as http:
            step(3, "GET /pets through client.http(base_url=api.url)")
            response = http.get("/pets")
            detail(f"-> {response.status_code} {json.dumps(response.json())}")

            step(4, "Refresh ahead of expiry")
            tokens = client.tokens
            assert tokens is not None
            window = client.config.refresh_ahead
            clock.offset = tokens.expires_in(clock()) - 60  # leave 60 s on the token
            detail(
                f"The app's clock jumps {clock.offset / 60:.0f} min ahead: the ID token has "
                f"60 s left, inside the {window:.0f} s refresh window."
            )
            before, seen = cognito.calls[REFRESHES], len(api.requests)
            response = http.get("/pets")
            detail(
                f"GET /pets -> {response.status_code}; refreshes at Cognito: "
                f"{before} -> {cognito.calls[REFRESHES]}; the API saw {api_saw(api, seen)} "
                "(the token was renewed before the request went out)"
            )
            tokens = client.tokens
            assert tokens is not None
            detail(f"new tokens: {describe(tokens, clock)}")

            step(5, "The API rejects a token: one refresh, one retry")
            # As if the server had invalidated the token (a signing key rotated,
            # the user's session ended): still unexpired, but refused with 401.
            api.revoke(tokens.token("id"))
            detail("api.revoke(<current ID token>): the API now answers it with 401")
            before, seen = cognito.calls[REFRESHES], len(api.requests)
            response = http.get("/pets")
            detail(
                f"GET /pets -> {response.status_code}; the API saw {api_saw(api, seen)}; "
                f"refreshes at Cognito: {before} -> {cognito.calls[REFRESHES]}"
            )

        step(6, f"A second run: a new Python process (this one is {os.getpid()}), same token store")
        before_calls, seen = cognito.calls.snapshot(), len(api.requests)
        output = run_second_process(pool.id, app.id, cognito.url, api.url, token_file)
        for line in output.splitlines():
            detail(f"| {line}")
        made = calls_since(cognito, before_calls)
        detail(f"the API saw {api_saw(api, seen)}")
        detail(f"Cognito calls made by the second process: {made or 'none'}")

        step(7, "Log out")
        revoked = client.logout()
        detail(f"client.logout() -> {revoked}: Cognito revoked the refresh token (RevokeToken)")
        left = "still there" if store.load(client.config.store_key) else "gone"
        detail(f"and the local tokens are wiped: client.tokens={client.tokens}, store entry {left}")


def api_saw(api: ProtectedApi, seen: int) -> str:
    """The statuses of the requests the API answered after the first ``seen``."""
    return ", then ".join(
        f"{r.status} ({r.reason})" if r.reason else str(r.status) for r in api.requests[seen:]
    )


def calls_since(cognito: LocalCognito, before: dict[str, int]) -> dict[str, int]:
    """The calls Cognito received since the ``before`` snapshot, by operation."""
    after = cognito.calls.snapshot()
    return {key: n - before.get(key, 0) for key, n in after.items() if n != before.get(key, 0)}


def run_second_process(
    pool_id: str, client_id: str, idp_url: str, api_url: str, token_file: Path
) -> str:
    """Run this file again with ``--second-run`` and return what it printed."""
    env = {
        **os.environ,
        "COGNITO_USER_POOL_ID": pool_id,
        "COGNITO_CLIENT_ID": client_id,
        "COGNITO_IDP_URL": idp_url,
        "API_URL": api_url,
        "KEYBEARER_TOKEN_FILE": str(token_file),
    }
    # A fixed command line: this interpreter, this file.
    finished = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--second-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if finished.returncode != 0:
        sys.stderr.write(finished.stdout + finished.stderr)
        raise RuntimeError(f"the second process failed with exit code {finished.returncode}")
    return finished.stdout


def second_run() -> int:
    """What an app does when it starts again: no sign-in while the stored tokens are fresh."""
    client = keybearer.OAuthClient.cognito(
        os.environ["COGNITO_USER_POOL_ID"],
        os.environ["COGNITO_CLIENT_ID"],
        idp_url=os.environ["COGNITO_IDP_URL"],
        store=keybearer.FileStore(os.environ["KEYBEARER_TOKEN_FILE"]),
    )
    with client:
        tokens = client.tokens  # read from the store once, then cached in memory
        if tokens is None:
            print("no stored session: this process would have to sign in")
            return 1
        print(f"process {os.getpid()}: found a session for {tokens.username!r}, no sign-in")
        with client.http(base_url=os.environ["API_URL"], timeout=10) as http:
            response = http.get("/pets")
        print(f"process {os.getpid()}: GET /pets -> {response.status_code}")
    return 0 if response.status_code == 200 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show keybearer's log lines"
    )
    parser.add_argument("--second-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    # keybearer logs through the "keybearer" logger; its messages never hold a secret.
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="   log: %(name)s %(levelname)s: %(message)s",
    )
    # werkzeug (under moto) logs every request; the steps say what matters.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)

    if args.second_run:
        return second_run()

    started = time.monotonic()
    print("keybearer quickstart: everything runs on 127.0.0.1; nothing talks to AWS.")
    with tempfile.TemporaryDirectory(prefix="keybearer-demo-") as tmp, LocalCognito() as cognito:
        # Set-up an administrator does once, in the console or with boto3.
        pool = cognito.create_pool()
        app = cognito.create_app_client(pool)  # a public app client: no secret
        cognito.create_user(pool, USERNAME, TEMPORARY_PASSWORD, temporary=True)
        with ProtectedApi(pool.jwks_url, pool.issuer, [app.id]) as api:
            step(1, "Started the local stand-ins")
            detail(f"Cognito (moto): {cognito.url}  user pool {pool.id}, app client {app.id}")
            detail(f"API (PetStore): {api.url}  checks ID tokens like a Cognito authorizer")
            detail(
                "Tokens go to a keybearer.FileStore in a temporary directory (plain text, "
                "mode 0600, deleted at the end);"
            )
            detail("a real app keeps the default store, the OS keyring.")
            demo(cognito, pool, app, api, Path(tmp) / "tokens.json")
    print(
        f"Done in {time.monotonic() - started:.1f} s: the stand-ins are stopped and "
        "the temporary directory is removed.",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
