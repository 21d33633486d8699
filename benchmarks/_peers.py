"""Child process: LocalCognito (moto) and ProtectedApi, for the refresh figures.

They run in their own process so that moto and the API's RSA checks do not
share the GIL with the client being measured (which would show up as event
loop stalls and as time that is not the client's). The parent drives them
with one-line JSON commands:

* ``{"op": "counts"}``: ``LocalCognito.calls`` as a dict
* ``{"op": "reset"}``: zero the counts, forget the API's log and revocations
* ``{"op": "revoke", "token": ...}``: ``ProtectedApi.revoke(token)``
* ``{"op": "statuses"}``: how many API answers had each status

Run by the runner as ``python -m benchmarks._peers``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from benchmarks._children import Child, exit_after, reply, serve_commands

USERNAME = "bench"
PASSWORD = "Correct-Horse-1"


def main() -> None:
    exit_after()
    from keybearer.testing import LocalCognito, ProtectedApi, _api

    # ProtectedApi writes a response's head and body in two sends; with Nagle's
    # algorithm on, every request after the first on a kept-alive connection
    # then waits ~40 ms for the client's delayed ACK. That is the stand-in's
    # cost, not the client's, so it is switched off here (reported upstream).
    _api._Handler.disable_nagle_algorithm = True

    with LocalCognito() as cognito:
        pool = cognito.create_pool()
        app = cognito.create_app_client(pool)
        cognito.create_user(pool, USERNAME, PASSWORD)
        with ProtectedApi(pool.jwks_url, pool.issuer, [app.id]) as api:

            def counts() -> dict[str, Any]:
                return {"counts": cognito.calls.snapshot()}

            def reset() -> dict[str, Any]:
                cognito.reset_counts()
                api.reset()
                return {}

            def revoke(token: str) -> dict[str, Any]:
                api.revoke(token)
                return {}

            def statuses() -> dict[str, Any]:
                return {"statuses": dict(Counter(str(r.status) for r in api.requests))}

            reply(
                {
                    "cognito_url": cognito.url,
                    "pool_id": pool.id,
                    "client_id": app.id,
                    "issuer": pool.issuer,
                    "jwks_url": pool.jwks_url,
                    "api_url": api.url,
                    "username": USERNAME,
                    "password": PASSWORD,
                }
            )
            serve_commands(
                {"counts": counts, "reset": reset, "revoke": revoke, "statuses": statuses}
            )


# -- the parent's side ------------------------------------------------------------

REFRESHES = "InitiateAuth:REFRESH_TOKEN_AUTH"


def start() -> Child:
    """Start the peers (moto takes a few seconds to import) and wait until they serve."""
    return Child("benchmarks._peers", start_timeout=120.0)


def sign_in(peers: Child, clock: Callable[[], float], **options: Any) -> Any:
    """A new ``OAuthClient`` (own MemoryStore) signed in as the peers' user."""
    import keybearer

    info = peers.ready
    client = keybearer.OAuthClient.cognito(
        info["pool_id"],
        info["client_id"],
        idp_url=info["cognito_url"],
        jwks_url=info["jwks_url"],  # refreshed tokens are verified against the pool's keys
        store=keybearer.MemoryStore(),
        clock=clock,
        api_hosts=[info["api_url"]],
        **options,
    )
    client.login_password(info["username"], info["password"])
    return client


def refreshes(peers: Child) -> int:
    return int(peers.call(op="counts")["counts"].get(REFRESHES, 0))


if __name__ == "__main__":
    main()
