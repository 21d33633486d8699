"""The session commands: ``whoami``, ``token``, ``logout`` and ``profiles``."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from keybearer._profiles import read_config, selected_profile_name
from keybearer._tokens import ORIGIN_LABELS
from keybearer.cli import terminal
from keybearer.cli.app import State, profile_options
from keybearer.cli.exits import EXIT_USAGE
from keybearer.errors import KeybearerError, LoginRequiredError

if TYPE_CHECKING:
    from keybearer._client import OAuthClient
    from keybearer._profiles import ResolvedProfile
    from keybearer._tokens import TokenSet

__all__ = ["logout", "need_session", "profiles_command", "session_summary", "token", "whoami"]


def session_summary(tokens: TokenSet) -> dict[str, Any]:
    """What can be said about a session without showing any token."""
    now = time.time()
    email = tokens.id_claims.get("email")
    return {
        "username": tokens.username,
        "sub": tokens.sub,
        "email": email if isinstance(email, str) else None,
        "origin": tokens.origin,
        "scopes": list(tokens.scopes),
        "expires_at": terminal.iso(tokens.expires_at),
        "expires_in": int(tokens.expires_at - now),
        "expired": tokens.expires_at <= now,
        "refreshable": tokens.refresh_token is not None and not tokens.ended,
        "ended": tokens.ended,
    }


def is_live(tokens: TokenSet) -> bool:
    """Usable now or after a refresh: not ended, and unexpired or refreshable."""
    if tokens.ended:
        return False
    return tokens.expires_at > time.time() or tokens.refresh_token is not None


def need_session(client: OAuthClient, profile: ResolvedProfile) -> TokenSet:
    """The stored session; LoginRequiredError when there is none or it has ended.

    A client-credentials profile needs no sign-in: its token is obtained here.
    """
    if client.config.client_credentials:  # [m2m]
        return client.valid_tokens()
    tokens = client.tokens
    if tokens is None:
        raise LoginRequiredError(f"not signed in ({profile.where})")
    if tokens.ended:
        raise LoginRequiredError(
            f"the session of {profile.where} has ended: the provider refused its refresh "
            "token (signed out elsewhere, revoked, or past its lifetime)"
        )
    return tokens


@click.command()
@profile_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def whoami(state: State, as_json: bool) -> None:
    """Show who is signed in, to what, and until when. Never shows a token.

    Reads the stored session only: no network call. Exit code 3 when the profile
    has no session or the session has ended (then --json prints
    {"signed_in": false, ...}).
    """
    profile = state.resolve()
    client = state.client(profile)
    try:
        tokens = need_session(client, profile)
    except LoginRequiredError:
        if as_json:
            stored = client.tokens
            terminal.print_json(
                {
                    "profile": profile.name,
                    "config": str(profile.config_path),
                    "signed_in": False,
                    "ended": stored is not None and stored.ended,
                }
            )
        raise
    s = profile.settings
    info: dict[str, Any] = {
        "profile": profile.name,
        "config": str(profile.config_path),
        "signed_in": True,
        **session_summary(tokens),
        "provider": s.kind,
        "user_pool_id": s.user_pool_id,
        "issuer": s.issuer,
        "client_id": s.client_id,
        "send": s.send,
        "scheme": s.bearer_scheme,
        "requested_scopes": list(s.scopes),
        "api_url": s.api_url,
    }
    if as_json:
        terminal.print_json(info)
        return
    user = info["username"] or info["sub"] or "unknown"
    if info["email"]:
        user += f" <{info['email']}>"
    where = f"user pool {s.user_pool_id}" if s.kind == "cognito" else f"issuer {s.issuer}"
    header = f"{s.scheme} <{s.send} token>" if s.bearer_scheme else f"<{s.send} token>"
    if tokens.expires_at > time.time():
        status = f"valid, expires {terminal.when(tokens.expires_at)}"
    elif tokens.refresh_token is not None:
        status = f"expired {terminal.when(tokens.expires_at)}; refreshed on next use"
    else:
        status = f"expired {terminal.when(tokens.expires_at)}; log in again"
    rows = [
        ("profile", f"{profile.name} ({profile.config_path})"),
        ("user", user),
        ("provider", where),
        ("app client", s.client_id or ""),
        ("signed in by", ORIGIN_LABELS.get(tokens.origin, tokens.origin)),
        ("sends", f"Authorization: {header}"),
        ("scopes", " ".join(tokens.scopes) or "(none in the access token)"),
        ("session", status),
    ]
    if s.api_url:
        rows.append(("api_url", s.api_url))
    colour = terminal.colour(sys.stdout)
    for label, value in rows:
        shown = click.style(f"{label:<13}", bold=True) if colour else f"{label:<13}"
        click.echo(f"{shown}{value}", color=colour)


@click.command()
@profile_options
@click.option(
    "--kind",
    type=click.Choice(["id", "access"]),
    help="Which token [default: the profile's send setting].",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"token": ..., "expires_at": ..., "token_type": "Bearer"} instead.',
)
@click.pass_obj
def token(state: State, kind: str | None, as_json: bool) -> None:
    """Print the raw token on stdout (refreshed first if it is about to expire).

    The only command that shows a token. For curl and HTTPie:

    \b
      curl -H "Authorization: Bearer $(keybearer token)" "$API_URL/pets"
      http "$API_URL/pets" "Authorization:Bearer $(keybearer token)"

    With --json, one JSON object for credential-helper style tools: the token,
    its expiry (ISO 8601, UTC) and its type.
    """
    profile = state.resolve()
    client = state.client(profile)
    need_session(client, profile)
    tokens = client.valid_tokens()
    chosen = kind or client.config.send  # the profile's, or the grant's default
    raw = tokens.token("id" if chosen == "id" else "access")
    if as_json:
        terminal.print_json(
            {"token": raw, "expires_at": terminal.iso(tokens.expires_at), "token_type": "Bearer"}
        )
    else:
        click.echo(raw)


# -- logout, profiles --


def _profile_names(state: State) -> list[str]:
    """The file's profiles, plus the selected one if only the environment defines it."""
    names = list(read_config(state.config_path()).profiles)
    selected = selected_profile_name(state.profile)
    if selected not in names and (
        os.environ.get("KEYBEARER_USER_POOL_ID") or os.environ.get("KEYBEARER_ISSUER")
    ):
        names.append(selected)
    return names


@click.command()
@profile_options
@click.option("--all", "all_profiles", is_flag=True, help="Every profile that has a session.")
@click.option(
    "--everywhere", is_flag=True, help="Also sign out every device (Cognito GlobalSignOut)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def logout(state: State, all_profiles: bool, everywhere: bool, as_json: bool) -> None:
    """Revoke the session at the provider and delete the stored tokens.

    The tokens are deleted even when the provider cannot be reached. Signing out
    of a profile that has no session is not an error.
    """
    names = _profile_names(state) if all_profiles else [None]
    results: list[dict[str, Any]] = []
    failed = 0
    for name in names:
        sub = State(name or state.profile, state.config, state.store)
        try:
            profile = sub.resolve()
            state.resolved_name = profile.name
            client = sub.client(profile)
            if client.tokens is None:
                results.append({"profile": profile.name, "signed_out": False, "revoked": False})
                continue
            revoked = client.logout(global_=everywhere)
        except KeybearerError as exc:
            if not all_profiles:
                raise
            failed += 1
            terminal.warn(f"profile {name!r} skipped: {exc}")
            continue
        results.append({"profile": profile.name, "signed_out": True, "revoked": revoked})
    if as_json:
        terminal.print_json(results if all_profiles else results[0])
    else:
        for result in results:
            name = result["profile"]
            if not result["signed_out"]:
                if not all_profiles:
                    terminal.out(f"Profile {name!r} was not signed in.")
            elif result["revoked"]:
                terminal.out(f"Signed out of profile {name!r}; the session is revoked.")
            else:
                terminal.out(
                    f"Signed out of profile {name!r} (tokens deleted here; revocation failed)."
                )
        if all_profiles and not any(r["signed_out"] for r in results):
            terminal.out("No profile was signed in.")
    if failed:
        raise click.exceptions.Exit(EXIT_USAGE)


@click.command("forget-device")
@profile_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def forget_device(state: State, as_json: bool) -> None:
    """Forget this device: Cognito stops remembering it and its local secret is deleted.

    The next sign-in asks for MFA again (and, with remember_device, remembers the
    device anew). Not an error when no device is remembered.
    """
    profile = state.resolve()
    client = state.client(profile)
    forgotten = client.forget_device()
    if as_json:
        terminal.print_json({"profile": profile.name, "forgotten": forgotten})
    elif forgotten:
        terminal.out(f"This device is forgotten for profile {profile.name!r}.")
    else:
        terminal.out(f"No device is remembered for profile {profile.name!r}.")


@click.command("profiles")
@profile_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def profiles_command(state: State, as_json: bool) -> None:
    """List the profiles: * marks the default, and whether each has a live session.

    The default is the profile used without --profile (KEYBEARER_PROFILE, else
    'default'). A session is live while its token is valid or it can be refreshed;
    a session whose refresh token the provider refused has ended.
    """
    default = selected_profile_name(None)
    entries = []
    for name in _profile_names(state):
        entries.append(_describe_profile(State(name, state.config, state.store), default))
    if as_json:
        terminal.print_json({"config": str(state.config_path()), "profiles": entries})
        return
    if not entries:
        terminal.say(f"No profiles in {state.config_path()}. Create one: keybearer configure")
        return
    rows: list[list[str]] = []
    styles: list[list[str]] = []
    for entry in entries:
        mark = "*" if entry["default"] else " "
        target = entry.get("user_pool_id") or entry.get("issuer") or ""
        if entry["error"]:
            session, style = "invalid: " + entry["error"], "red"
        elif entry["session"] is None:
            session, style = "not signed in", "dim"
        else:
            who = entry["session"]["username"] or "unknown user"
            if entry["live"]:
                session, style = f"signed in as {who}", "green"
            elif entry["session"]["ended"]:
                session, style = f"ended: {who} (log in again)", "red"
            else:
                session, style = f"expired: {who} (log in again)", "yellow"
        rows.append([f"{mark} {entry['name']}", target, session])
        styles.append(["bold" if entry["default"] else "", "", style])
    terminal.table(rows, styles=styles)


def _describe_profile(state: State, default: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": state.profile,
        "default": state.profile == default,
        "user_pool_id": None,
        "issuer": None,
        "client_id": None,
        "api_url": None,
        "session": None,
        "live": False,
        "error": None,
    }
    try:
        profile = state.resolve()
        settings = profile.settings
        entry.update(
            user_pool_id=settings.user_pool_id,
            issuer=settings.issuer,
            client_id=settings.client_id,
            api_url=settings.api_url,
        )
        client = state.client(profile)
        tokens = client.tokens
    except KeybearerError as exc:
        entry["error"] = str(exc)
        return entry
    if tokens is not None:
        summary = session_summary(tokens)
        entry["session"] = summary
        entry["live"] = is_live(tokens)
    return entry
