"""``keybearer login``: sign in by browser (PKCE), by password, or by pasting the redirect back.

Where a new way to sign in goes: a flag of :func:`login` that sets ``mode``,
and a ``_login_<mode>`` function below that returns the :class:`TokenSet`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import click

from keybearer._challenges import Challenge, SelectChallenge
from keybearer._client import OAuthClient
from keybearer._tokens import TokenSet
from keybearer.cli import challenges, terminal
from keybearer.cli.app import State, profile_options
from keybearer.cli.configure_prompts import DEFAULT_REDIRECT
from keybearer.cli.exits import CliError
from keybearer.cli.session import session_summary
from keybearer.errors import (
    InvalidCredentialsError,
    InvalidPasswordError,
    LoginError,
    LoginTimeoutError,
)

__all__ = ["login"]


@click.command()
@profile_options
@click.option("--browser", "mode", flag_value="browser", help="Sign in in the browser (PKCE).")
@click.option("--password", "mode", flag_value="password", help="Username and password.")
@click.option("--paste", "mode", flag_value="paste", help="Show a URL, paste the redirect back.")
@click.option(
    "--passwordless",
    "mode",
    flag_value="passwordless",
    help="A code sent by email or SMS (Cognito's choice-based sign-in, USER_AUTH).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.option("-u", "--username", metavar="NAME", help="The username (password sign-in).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds to wait for the browser sign-in.",
)
@click.option("--no-browser", is_flag=True, help="Show the sign-in URL; do not open a browser.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def login(
    state: State,
    mode: str | None,
    password_stdin: bool,
    username: str | None,
    timeout: float,
    no_browser: bool,
    as_json: bool,
) -> None:
    """Sign in and keep the session for this profile.

    The browser is the default when the profile has a hosted UI domain (or is a
    generic OpenID Connect provider); otherwise a username and password. Passwords
    are never echoed and never taken as a flag value: use --password-stdin in scripts.
    Challenges (a new password, an MFA code, choosing or setting up MFA) are asked
    for as they come.
    """
    profile = state.resolve()
    settings = profile.settings
    if settings.grant == "client-credentials":  # [m2m] no person signs in
        tokens = state.client(profile).valid_tokens()
        if as_json:
            terminal.print_json({"profile": profile.name, "signed_in": True})
            return
        terminal.out(
            f"Profile {profile.name!r} uses client credentials: nobody signs in. A token "
            f"was obtained; it expires {terminal.when(tokens.expires_at)} and is renewed "
            "as needed."
        )
        return
    if password_stdin:
        if mode not in (None, "password"):
            raise CliError("--password-stdin goes with --password, not --" + mode)
        mode = "password"
    if mode is None:
        mode = "browser" if settings.kind == "oidc" or settings.domain else "password"
    if mode in ("browser", "paste") and settings.kind == "cognito" and not settings.domain:
        raise CliError(
            f"{profile.where}: domain: browser sign-in goes through the hosted UI; run "
            f"keybearer configure --profile {profile.name} --domain "
            "<prefix>.auth.<region>.amazoncognito.com, or use --password"
        )
    if mode in ("browser", "paste") and not settings.redirect_uri:
        raise CliError(
            f"{profile.where}: redirect_uri: browser sign-in needs the callback registered "
            f"with the app client; run keybearer configure --profile {profile.name} "
            f"--redirect-uri {DEFAULT_REDIRECT} (after adding it to the app client)"
        )
    if mode in ("password", "passwordless") and settings.kind == "oidc":
        raise CliError(f"{mode} sign-in is for Cognito user pools; use --browser or --paste")

    client = state.client(profile)
    if mode == "password":
        tokens = _login_password(client, username or settings.username, password_stdin)
    elif mode == "passwordless":
        tokens = _login_passwordless(client, username or settings.username)
    elif mode == "paste":
        tokens = _login_paste(client)
    else:
        tokens = _login_browser(client, timeout, open_browser=not no_browser)

    summary = session_summary(tokens)
    if as_json:
        terminal.print_json({"profile": profile.name, "signed_in": True, **summary})
        return
    who = summary["username"] or summary["sub"] or "unknown user"
    terminal.out(f"Signed in as {who} (profile {profile.name!r}).", fg="green")
    terminal.out(
        f"The token expires {terminal.when(tokens.expires_at)}; it is refreshed as needed."
    )


def _login_password(client: OAuthClient, username: str | None, from_stdin: bool) -> TokenSet:
    """Password sign-in; at a terminal a wrong password or a refused new one is asked again."""
    if not username:
        if not terminal.stdin_is_tty():
            raise CliError("pass --username (or set KEYBEARER_USERNAME) for password sign-in")
        username = click.prompt("Username", err=True).strip()
    if not from_stdin and not terminal.stdin_is_tty():
        raise CliError(
            "no terminal to ask for the password: pass it on stdin with --password-stdin"
        )
    user: str = username
    password, result = _first_step(client, user, from_stdin)

    def start_again() -> TokenSet | Challenge:
        return client.login_password(user, password)

    return _answer_challenges(client, result, start_again)


def _login_passwordless(client: OAuthClient, username: str | None) -> TokenSet:
    """USER_AUTH with a code Cognito sends by email or SMS; the code is asked for."""
    if not username:
        if not terminal.stdin_is_tty():
            raise CliError("pass --username (or set KEYBEARER_USERNAME) for passwordless sign-in")
        username = click.prompt("Username", err=True).strip()
    user: str = username

    def start_again() -> TokenSet | Challenge:
        return client.login_user_auth(user)

    with terminal.working("Signing in"):
        result = start_again()
    if isinstance(result, SelectChallenge):
        result = challenges.choose(client, result, codes_only=True)
    return _answer_challenges(client, result, start_again)


def _first_step(
    client: OAuthClient, username: str, from_stdin: bool
) -> tuple[str, TokenSet | Challenge]:
    """The password and Cognito's first answer; a wrong password is asked again at a terminal."""
    tries_left = 1 if from_stdin else terminal.MAX_TRIES
    while True:
        if from_stdin:
            password = terminal.read_line("the password")
        else:
            password = click.prompt("Password", hide_input=True, err=True)
        if not password:
            raise CliError("the password is empty")
        try:
            with terminal.working("Signing in"):
                return password, client.login_password(username, password)
        except InvalidCredentialsError as exc:
            tries_left -= 1
            if tries_left == 0:
                raise
            terminal.error(f"{exc}; try again ({tries_left} left)")


def _answer_challenges(
    client: OAuthClient,
    result: TokenSet | Challenge,
    start_again: Callable[[], TokenSet | Challenge],
) -> TokenSet:
    """Answer challenges until tokens come; a refused new password is asked for again.

    Cognito may not take a second answer in the same challenge session, so a
    new password the pool's policy refuses starts the sign-in again with the
    password already given (kept in memory only), and the person is asked for
    the new password only, with the pool's message.
    """
    refused = 0
    for _ in range(10):
        if isinstance(result, TokenSet):
            return result
        try:
            result = challenges.answer(client, result)
        except InvalidPasswordError as exc:
            refused += 1
            if not terminal.stdin_is_tty() or refused == terminal.MAX_TRIES:
                raise
            terminal.error(f"the new password was refused: {exc}")
            with terminal.working("Signing in again"):
                result = start_again()
    raise LoginError("Cognito kept asking for challenges; giving up after 10")


def _login_paste(client: OAuthClient) -> TokenSet:
    url = client.authorization_url()
    terminal.say("Open this URL in a browser and sign in:", bold=True)
    terminal.say(f"\n  {url}\n")
    terminal.say(
        "The browser then goes to the redirect URI; the page may fail to load. Copy the "
        "whole address from the address bar and paste it here."
    )
    pasted = terminal.ask("Redirected URL", what="the redirected URL")
    return client.complete_login(pasted)


def _login_browser(client: OAuthClient, timeout: float, *, open_browser: bool) -> TokenSet:
    waiting = terminal.Waiting(timeout)

    def open_url(url: str) -> None:
        if open_browser:
            terminal.say("Sign in in your browser. If it does not open, open this URL:", bold=True)
        else:
            terminal.say("Open this URL in a browser to sign in:", bold=True)
        terminal.say(f"\n  {url}\n")
        if open_browser:
            # Lazy: webbrowser pulls in subprocess and shlex, and only this path needs it.
            import webbrowser

            with contextlib.suppress(webbrowser.Error):
                webbrowser.open(url, new=1, autoraise=True)
        waiting.start()

    try:
        return client.login_browser(open_url=open_url, timeout=timeout, paste_fallback=False)
    except LoginTimeoutError:
        if not terminal.stdin_is_tty():
            raise LoginTimeoutError(
                f"no sign-in came back from the browser within {timeout:g} s; finish signing "
                "in sooner (--timeout), or use keybearer login --paste"
            ) from None
    finally:
        waiting.stop()
    terminal.say("The browser did not come back to this program.")
    pasted = terminal.ask(
        "Paste the whole URL from the browser's address bar", what="the redirected URL"
    )
    return client.complete_login(pasted)
