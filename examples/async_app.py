"""keybearer from asyncio: ``alogin_password``, ``async_http`` and many requests at once.

Against your own user pool (the environment variables of password_login.py)::

    export COGNITO_USER_POOL_ID=us-east-1_AbCdEf123 COGNITO_CLIENT_ID=1example23456789
    export API_URL=https://abc123.execute-api.us-east-1.amazonaws.com/prod
    python examples/async_app.py /pets /pets/1 /pets/2     # GETs them concurrently

It reuses the session in the OS keyring (password_login.py and this script
share it) and asks for a username and password only when there is none.

Against local stand-ins on 127.0.0.1 (moto's Cognito and a PetStore API that
checks tokens like API Gateway), as CI runs it::

    python examples/async_app.py --local

The local run also shows that 20 concurrent requests holding an expired token
cause exactly one refresh at Cognito.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
import time
from collections.abc import Sequence

import httpx

import keybearer
from keybearer import errors
from keybearer.testing import LocalCognito, ProtectedApi

REFRESHES = "InitiateAuth:REFRESH_TOKEN_AUTH"
LOCAL_USERNAME = "carol"
LOCAL_PASSWORD = "Async-Await-Gather-7!"


async def get_all(
    client: keybearer.OAuthClient, api_url: str, paths: Sequence[str]
) -> list[httpx.Response]:
    """GET every path concurrently through one authenticated ``httpx.AsyncClient``."""
    async with client.async_http(base_url=api_url, timeout=30) as http:
        return await asyncio.gather(*(http.get(path) for path in paths))


# -- against your own user pool ------------------------------------------------


async def sign_in(client: keybearer.OAuthClient) -> keybearer.TokenSet:
    """Prompt for a username and password; answer a new-password or code challenge."""
    # input() and getpass() block: run them off the event loop.
    username = (await asyncio.to_thread(input, "Username: ")).strip()
    password = await asyncio.to_thread(getpass.getpass, "Password: ")
    result = await client.alogin_password(username, password)
    while not isinstance(result, keybearer.TokenSet):
        if isinstance(result, keybearer.NewPasswordRequired) and not result.required_attributes:
            new = await asyncio.to_thread(getpass.getpass, "Choose a new password: ")
            result = await client.arespond(result, new_password=new)
        elif isinstance(
            result,
            (keybearer.SoftwareTokenMfa, keybearer.SmsMfa, keybearer.SmsOtp, keybearer.EmailOtp),
        ):
            code = await asyncio.to_thread(input, "One-time code: ")
            result = await client.arespond(result, code=code.strip())
        else:
            raise SystemExit(
                f"Cognito asks for {result.name}: finish this sign-in with "
                "examples/password_login.py, which shares the saved session with this script."
            )
    return result


async def run_remote(paths: Sequence[str]) -> int:
    try:
        pool_id = os.environ["COGNITO_USER_POOL_ID"]
        client_id = os.environ["COGNITO_CLIENT_ID"]
        api_url = os.environ["API_URL"]
    except KeyError as missing:
        raise SystemExit(f"set the environment variable {missing} (see --help)") from None
    token_file = os.environ.get("KEYBEARER_TOKEN_FILE")
    client = keybearer.OAuthClient.cognito(
        pool_id,
        client_id,
        client_secret=os.environ.get("COGNITO_CLIENT_SECRET") or None,
        store=keybearer.FileStore(token_file) if token_file else None,  # None: OS keyring
        idp_url=os.environ.get("COGNITO_IDP_URL") or None,
    )
    with client:
        try:
            # The first read of the store may block (keyring, disk): off the loop.
            tokens = await client.atokens()
            if tokens is None:
                tokens = await sign_in(client)
            print(f"Signed in as {tokens.username}.")
            responses = await get_all(client, api_url, paths)
        except errors.KeybearerError as exc:  # every keybearer message is safe to show
            raise SystemExit(f"error: {exc}") from None
    for path, response in zip(paths, responses, strict=True):
        print(f"GET {path} -> {response.status_code} {response.text[:200]}")
    return 0 if all(r.is_success for r in responses) else 1


# -- against the local stand-ins -----------------------------------------------


class Clock:
    """``time.time`` plus an offset the demo can move (the ``clock=`` of ``OAuthClient``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def local_demo(
    cognito: LocalCognito, pool_id: str, client_id: str, api: ProtectedApi
) -> None:
    clock = Clock()
    client = keybearer.OAuthClient.cognito(
        pool_id,
        client_id,
        idp_url=cognito.url,
        store=keybearer.MemoryStore(),  # this process only: nothing on disk or in a keyring
        clock=clock,
    )
    with client:
        print(f"2) Sign in as {LOCAL_USERNAME!r} with await client.alogin_password(...)")
        tokens = await client.alogin_password(LOCAL_USERNAME, LOCAL_PASSWORD)
        if not isinstance(tokens, keybearer.TokenSet):
            raise RuntimeError(f"expected tokens, Cognito asked for {tokens!r}")
        print(f"   {tokens!r}")

        paths = ["/pets", "/pets/1", "/pets/2", "/pets/3"]
        print(f"3) GET {len(paths)} paths at once: asyncio.gather over client.async_http()")
        for path, response in zip(paths, await get_all(client, api.url, paths), strict=True):
            print(f"   GET {path} -> {response.status_code} {json.dumps(response.json())}")

        print("4) 20 concurrent requests with an expired token")
        clock.offset = tokens.expires_in(clock()) + 1  # one second past expiry
        before = cognito.calls[REFRESHES]
        responses = await get_all(client, api.url, ["/pets"] * 20)
        statuses = sorted({r.status_code for r in responses})
        print(
            f"   statuses: {statuses}; refreshes at Cognito: {before} -> "
            f"{cognito.calls[REFRESHES]} (one refresh, shared by every request)"
        )

        print("5) Log out with await client.alogout()")
        revoked = await client.alogout()
        print(
            f"   revoked at Cognito: {revoked}; "
            f"local tokens wiped: client.tokens={await client.atokens()}"
        )


def run_local() -> int:
    started = time.monotonic()
    # werkzeug (under moto) logs every request; the steps say what matters.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    with LocalCognito() as cognito:
        pool = cognito.create_pool()
        app = cognito.create_app_client(pool)
        cognito.create_user(pool, LOCAL_USERNAME, LOCAL_PASSWORD)
        with ProtectedApi(pool.jwks_url, pool.issuer, [app.id]) as api:
            print(f"1) Started the local stand-ins: Cognito {cognito.url}, API {api.url}")
            asyncio.run(local_demo(cognito, pool.id, app.id, api))
    print(f"6) Done in {time.monotonic() - started:.1f} s; the stand-ins are stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--local", action="store_true", help="run against local stand-ins")
    parser.add_argument("paths", nargs="*", default=["/pets"], help="API paths to GET")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.WARNING, format="   log: %(name)s %(message)s"
    )
    if args.local:
        return run_local()
    return asyncio.run(run_remote(args.paths))


if __name__ == "__main__":
    sys.exit(main())
