"""Sign in through the browser (Cognito's hosted UI), then call your API.

Configure it with environment variables::

    export COGNITO_USER_POOL_ID=us-east-1_AbCdEf123
    export COGNITO_CLIENT_ID=1example23456789
    export COGNITO_DOMAIN=myapp.auth.us-east-1.amazoncognito.com   # or your custom domain
    export API_URL=https://abc123.execute-api.us-east-1.amazonaws.com/prod
    # optional:
    export COGNITO_REDIRECT_URI=http://localhost:8765/callback   # the default
    export COGNITO_SCOPES="openid email"    # the default; add <resource server>/<scope>
    export API_SEND=access                  # methods with OAuth scopes want the access token
    export API_PATH=/pets                   # what to GET (default: /pets)
    export COGNITO_CLIENT_SECRET=...        # a confidential app client
    export COGNITO_TOKEN_AUTH=client_secret_post   # if the secret must go in the form
    export COGNITO_LOGOUT_URI=http://localhost:8765/signed-out   # for --logout
    export KEYBEARER_TOKEN_FILE=~/.config/myapp/tokens.json      # no OS keyring here
    export OIDC_ISSUER=https://...          # any OpenID Connect provider instead of
                                            # Cognito; COGNITO_CLIENT_ID is then its client

    python examples/desktop_login.py            # sign in if needed, call the API
    python examples/desktop_login.py --paste    # over SSH: open the link elsewhere, paste back
    python examples/desktop_login.py --logout   # revoke, forget the tokens

The app client needs the hosted UI (a domain), the authorization code grant,
the scopes above, and COGNITO_REDIRECT_URI as an allowed callback URL, spelled
exactly the same (Cognito allows plain http only for http://localhost). The
first run opens the sign-in page in your browser and waits for the redirect on
that port of 127.0.0.1. The tokens then go to the OS keyring, so the next run
calls the API without signing in; keybearer refreshes them at the token
endpoint when they are about to expire. No token is ever printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import keybearer
from keybearer import errors

DEFAULT_REDIRECT_URI = "http://localhost:8765/callback"
DEFAULT_SCOPES = "openid email"


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SystemExit(f"set the environment variable {name} (see --help)")
    return value


def client_from_env(env: Mapping[str, str] = os.environ) -> keybearer.OAuthClient:
    """An ``OAuthClient`` configured from the environment variables in the docstring."""
    token_file = env.get("KEYBEARER_TOKEN_FILE")
    token_auth = env.get("COGNITO_TOKEN_AUTH") or "client_secret_basic"
    if token_auth not in ("client_secret_basic", "client_secret_post"):
        raise SystemExit("COGNITO_TOKEN_AUTH must be client_secret_basic or client_secret_post")
    send = env.get("API_SEND") or "id"
    if send not in ("id", "access"):
        raise SystemExit("API_SEND must be id or access")
    common: dict[str, Any] = {
        "client_secret": env.get("COGNITO_CLIENT_SECRET") or None,
        "token_auth": token_auth,
        "redirect_uri": env.get("COGNITO_REDIRECT_URI") or DEFAULT_REDIRECT_URI,
        "logout_uri": env.get("COGNITO_LOGOUT_URI") or None,
        "scopes": (env.get("COGNITO_SCOPES") or DEFAULT_SCOPES).split(),
        "send": send,
        # The default store is the OS keyring; a FileStore is plain text, mode 0600.
        "store": keybearer.FileStore(token_file) if token_file else None,
    }
    client_id = _required(env, "COGNITO_CLIENT_ID")
    issuer = env.get("OIDC_ISSUER")
    if issuer:
        # Any OpenID Connect provider: the endpoints come from its discovery document.
        return keybearer.OAuthClient.oidc(issuer, client_id, **common)
    return keybearer.OAuthClient.cognito(
        _required(env, "COGNITO_USER_POOL_ID"),
        client_id,
        domain=_required(env, "COGNITO_DOMAIN"),
        **common,
    )


def sign_in(
    client: keybearer.OAuthClient,
    *,
    paste: bool,
    timeout: float,
    open_url: Callable[[str], Any] | None = None,
) -> keybearer.TokenSet:
    """Sign in through the browser: the loopback redirect, or paste-back with ``paste``."""
    if paste:
        # For a machine whose browser cannot reach this one (SSH, a container).
        url = client.authorization_url()
        print("Open this link in a browser and sign in:")
        print(f"  {url}")
        print("The browser then fails to load the callback page; that is expected.")
        return client.complete_login(input("Paste the whole address from its address bar: "))
    # Opens the system browser (and prints the link), then waits on 127.0.0.1.
    # If nothing arrives in time and this is a terminal, it asks for paste-back.
    return client.login_browser(open_url=open_url, timeout=timeout)


def call_api(client: keybearer.OAuthClient, api_url: str, path: str) -> int:
    with client.http(base_url=api_url, timeout=30) as http:
        response = http.get(path)
    print(f"GET {path} -> {response.status_code}")
    print(response.text[:2000])
    return 0 if response.is_success else 1


def log_out(client: keybearer.OAuthClient) -> int:
    # logout_url() is None without COGNITO_LOGOUT_URI; ask for it first, since
    # it may need the provider's discovery document.
    browser_logout = client.logout_url()
    revoked = client.logout()
    print("Signed out." if revoked else "Signed out here; the provider did not confirm it.")
    if browser_logout:
        print("To end the sign-in page's own session (its cookie) too, open:")
        print(f"  {browser_logout}")
    return 0


def main(argv: list[str] | None = None, *, open_url: Callable[[str], Any] | None = None) -> int:
    """Run the script; ``open_url`` replaces the system browser (tests pass their own)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logout", action="store_true", help="sign out and forget the tokens")
    parser.add_argument(
        "--paste",
        action="store_true",
        help="print the sign-in link and read the redirect URL back (no loopback server)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds to wait for the browser's redirect (default: 300)",
    )
    args = parser.parse_args(argv)

    try:
        client = client_from_env()
    except errors.ConfigurationError as exc:  # a malformed id, a plain-http URL, ...
        raise SystemExit(f"error: {exc}") from None
    with client:
        try:
            if args.logout:
                return log_out(client)
            api_url = _required(os.environ, "API_URL")

            tokens = client.tokens  # from the keyring, if an earlier run signed in
            if tokens is None:
                tokens = sign_in(client, paste=args.paste, timeout=args.timeout, open_url=open_url)
                print(f"Signed in as {tokens.username}; the session is saved for the next run.")
            else:
                print(f"Using the saved session of {tokens.username}: no sign-in needed.")

            path = os.environ.get("API_PATH", "/pets")
            try:
                return call_api(client, api_url, path)
            except errors.LoginRequiredError as exc:
                # The refresh token expired or was revoked: sign in again, once.
                print(f"The saved session has ended ({exc}); please sign in again.")
                sign_in(client, paste=args.paste, timeout=args.timeout, open_url=open_url)
                return call_api(client, api_url, path)
        except errors.KeyringUnavailableError as exc:
            raise SystemExit(f"{exc}\n(or set KEYBEARER_TOKEN_FILE=<path>)") from None
        except errors.LoginTimeoutError as exc:
            raise SystemExit(f"error: {exc}\n(or run again with --paste)") from None
        except errors.KeybearerError as exc:  # every keybearer message is safe to show
            raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
