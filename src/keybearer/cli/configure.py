"""``keybearer configure``: create or update a profile, then check it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx

from keybearer._config import CognitoConfig
from keybearer._profiles import (
    LIST_SETTINGS,
    SECRET_ENV,
    STORE_ENV,
    build_profile,
    check_profile_name,
    open_store,
    read_config,
    secret_key,
    selected_profile_name,
)
from keybearer._profiles.writing import write_profile
from keybearer.cli import terminal
from keybearer.cli.app import State, login_hint, selection_options
from keybearer.cli.configure_prompts import ask_settings
from keybearer.cli.exits import CliError
from keybearer.errors import KeyringUnavailableError, StoreError
from keybearer.stores.memory import MemoryStore

if TYPE_CHECKING:
    from keybearer._client import OAuthClient
    from keybearer._profiles import ResolvedProfile
    from keybearer.stores._base import TokenStore

__all__ = ["configure"]


@click.command()
@selection_options(store=False)
@click.option(
    "--user-pool-id", metavar="ID", help="Cognito user pool id, e.g. us-east-1_AbCdEf123."
)
@click.option("--issuer", metavar="URL", help="Issuer of another OpenID Connect provider.")
@click.option("--client-id", metavar="ID", help="The app client id.")
@click.option(
    "--client-secret-stdin",
    is_flag=True,
    help="Read the app client secret from one line of stdin; it goes to the token store "
    "(the OS keyring), never to the file.",
)
@click.option("--no-client-secret", is_flag=True, help="The app client has no secret (forget one).")
@click.option("--domain", metavar="DOMAIN", help="Hosted UI domain, for browser sign-in.")
@click.option("--redirect-uri", metavar="URL", help="Callback registered with the app client.")
@click.option("--logout-uri", metavar="URL", help="Sign-out URL registered with the app client.")
@click.option("--scopes", metavar="'SCOPE ...'", help="Scopes to ask for, space-separated.")
@click.option("--api-url", metavar="URL", help="Base URL of the API (get/post/... go below it).")
@click.option("--api-hosts", metavar="'HOST ...'", help="More hosts that may get the token.")
@click.option("--send", type=click.Choice(["id", "access"]), help="Which token the API gets.")
@click.option("--scheme", metavar="WORD", help="Authorization scheme: Bearer, or none (bare).")
@click.option("--username", metavar="NAME", help="Default username for login --password.")
@click.option("--region", metavar="REGION", help="AWS region, if not the pool id's.")
@click.option("--idp-url", metavar="URL", help="cognito-idp endpoint (VPC endpoint, stand-in).")
@click.option("--jwks-url", metavar="URL", help="The pool's JWKS URL.")
@click.option("--cognito-issuer", metavar="URL", help="The pool's expected token issuer.")
@click.option(
    "--rotate-refresh-tokens/--no-rotate-refresh-tokens",
    default=None,
    help="The app client rotates refresh tokens.",
)
@click.option(
    "--password-flow",
    type=click.Choice(["user_password", "srp"]),
    help="How login --password proves the password (srp: console-default app clients).",
)
@click.option(
    "--remember-device/--no-remember-device",
    default=None,
    help="Remember this device, so a pool that allows it asks for MFA once.",
)
@click.option(
    "--token-auth",
    type=click.Choice(["client_secret_basic", "client_secret_post"]),
    help="How the token endpoint gets the client secret.",
)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds to wait.")
@click.option("--refresh-ahead", type=click.FloatRange(min=60), help="Refresh this early (s).")
@click.option(
    "--store",
    metavar="SPEC",
    help="Where this profile's tokens (and client secret) live: keyring, keyring:SERVICE, "
    "file:PATH (plain text, mode 0600; a relative PATH is next to the profiles file) or memory.",
)
@click.option("--token-store", "token_store", metavar="SPEC", hidden=True)
@click.option(
    "--grant",
    type=click.Choice(["client-credentials", ""]),
    help="client-credentials: a service's own token, no sign-in; needs the client secret "
    "(--client-secret-stdin keeps it in the keyring). '' for a person's sign-in.",
)
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Check that the pool's keys (or the issuer's discovery document) can be fetched.",
)
@click.pass_obj
def configure(
    state: State,
    /,
    client_secret_stdin: bool,
    no_client_secret: bool,
    verify: bool,
    **flags: Any,
) -> None:
    """Create or update a profile, then check it.

    In a terminal without setting flags it asks for the main settings, showing the
    current ones. A flag set to '' removes that setting. Settings not given keep their
    values. Nothing secret is written to the file: a client secret goes to the OS
    keyring (or the store the profile names).

    \b
    Example, non-interactive:
      keybearer configure --profile dev --user-pool-id us-east-1_AbCdEf123 \\
          --client-id 1example23456789 --api-url https://abc.execute-api.../prod
    """
    if client_secret_stdin and no_client_secret:
        raise CliError("--client-secret-stdin and --no-client-secret contradict each other")
    name = check_profile_name(selected_profile_name(state.profile))
    state.resolved_name = name
    path = state.config_path()
    existing = dict(read_config(path).profiles.get(name, {}))
    old_spelling = flags.pop("token_store")
    if old_spelling is not None:
        terminal.warn("--token-store is now --store; the old spelling will go in a later release")
        flags["store"] = flags["store"] if flags["store"] is not None else old_spelling
    given = {k: v for k, v in flags.items() if v is not None}
    values = dict(existing)
    secret: str | None = None

    interactive = terminal.stdin_is_tty() and not given and not client_secret_stdin
    if interactive:
        terminal.say(
            f"Configuring profile {name!r} in {path}. Press Enter to keep [the current value]."
        )
        values, secret = ask_settings(values)
    for key, value in given.items():
        if isinstance(value, str) and not value.strip():
            values.pop(key, None)
        elif key in LIST_SETTINGS:
            values[key] = value.split()
        else:
            values[key] = value.strip() if isinstance(value, str) else value
    if given.get("user_pool_id"):
        values.pop("issuer", None)
    elif given.get("issuer"):
        values.pop("user_pool_id", None)

    if client_secret_stdin:
        secret = terminal.read_line("the client secret")
        if not secret.strip():
            raise CliError("the client secret read from stdin is empty")
    if values.get("grant") == "client-credentials":  # [m2m] a secret is how it signs in
        values["confidential"] = True
    if secret:
        values["confidential"] = True
    elif no_client_secret:
        values.pop("confidential", None)

    missing = [k for k in ("client_id",) if not values.get(k)]
    if not values.get("user_pool_id") and not values.get("issuer"):
        missing.insert(0, "user_pool_id")
    if missing:
        needed = " and ".join("--" + k.replace("_", "-") for k in missing)
        raise CliError(
            f"profile {name!r} needs {needed} (or run keybearer configure in a terminal)"
        )

    profile = build_profile(name, path, values, in_file=True, environ={})
    if _keyring_missing(state, profile):
        values["store"] = _choose_file_store(name, path, interactive)
        profile = build_profile(name, path, values, in_file=True, environ={})
    if profile.settings.confidential and not secret:
        stored = _stored_secret(state, profile)
        if stored is None and not os.environ.get(SECRET_ENV):
            terminal.warn(
                "this profile's app client has a secret but none is stored; pass "
                f"--client-secret-stdin, or set {SECRET_ENV}"
            )
    # The check reaches the provider the way later commands will, so the
    # KEYBEARER_* variables (a stand-in's KEYBEARER_IDP_URL, say) count here.
    checked = build_profile(name, path, values, in_file=True, environ=os.environ)
    unreachable: str | None = None
    if verify:
        if not secret and checked.settings.grant == "client-credentials":
            # [m2m] The client cannot even be built without its secret.
            secret = _stored_secret(state, profile) or os.environ.get(SECRET_ENV) or ""
            if not secret:
                raise CliError(
                    "a client-credentials profile needs the app client secret: pass "
                    f"--client-secret-stdin (it goes to the keyring), or set {SECRET_ENV}"
                )
            checked_secret: str | None = secret
            secret = None  # already stored (or in the environment): not saved again
        else:
            checked_secret = secret or None
        client = checked.build_client(MemoryStore(), checked_secret)
        try:
            unreachable = _verify_endpoints(checked, client)
        finally:
            client.close()

    if secret or no_client_secret:
        store = _secret_store(state, profile)
        client_id = profile.settings.client_id or ""
        old_id = existing.get("client_id")
        if secret:
            if store.identity.startswith("memory:"):
                raise CliError(
                    "the memory store forgets the client secret when this command ends; "
                    f"keep the secret in {SECRET_ENV} instead, or choose another store"
                )
            store.save(secret_key(name, client_id), secret)
        if no_client_secret:
            store.delete(secret_key(name, client_id))
        if isinstance(old_id, str) and old_id != client_id:
            store.delete(secret_key(name, old_id))

    write_profile(path, name, values)
    terminal.out(f"Saved profile {name!r} in {path}.")
    if secret:
        terminal.out("The client secret is in the token store, not in the file.")
    if unreachable is not None:
        terminal.warn(unreachable)
    terminal.say(f"Next: {login_hint(name)}", dim=True)


def _keyring_missing(state: State, profile: ResolvedProfile) -> bool:
    """True when tokens would go to the OS keyring and this machine has none."""
    if profile.settings.store or state.store or os.environ.get(STORE_ENV, "").strip():
        return False
    try:
        open_store("keyring").load(secret_key(profile.name, profile.settings.client_id or ""))
    except KeyringUnavailableError:
        return True
    except StoreError:
        return False  # a keyring exists; it failed once, and login says so if it fails again
    return False


def _choose_file_store(name: str, path: Path, interactive: bool) -> str:
    """Offer (in a terminal) or choose (in a script, saying so) the file store."""
    spec = "file:tokens.json"
    where = path.parent / "tokens.json"
    terminal.say("There is no OS keyring on this machine to keep the tokens in.", bold=True)
    if interactive:
        keep = click.confirm(
            f"Keep them in {where} instead? It is a plain-text file on disk, readable only "
            "by you (mode 0600)",
            default=True,
            err=True,
        )
        if keep:
            return spec
        raise CliError(
            f"no token store: choose one with keybearer configure{_flag(name)} --store SPEC "
            "(file:PATH, or memory to sign in again in every process)"
        )
    terminal.say(
        f"Tokens of this profile will be kept in {where}: plain text on disk, readable only "
        f"by you (mode 0600). To choose another place: keybearer configure{_flag(name)} "
        "--store SPEC"
    )
    return spec


def _flag(name: str) -> str:
    return f" --profile {name}" if name != "default" else ""


def _secret_store(state: State, profile: ResolvedProfile) -> TokenStore:
    spec = state.store or os.environ.get(STORE_ENV, "").strip()
    if spec:
        return open_store(spec)
    return profile.store()


def _stored_secret(state: State, profile: ResolvedProfile) -> str | None:
    try:
        return _secret_store(state, profile).load(
            secret_key(profile.name, profile.settings.client_id or "")
        )
    except StoreError:
        return None


def _verify_endpoints(profile: ResolvedProfile, client: OAuthClient) -> str | None:
    """Fetch the pool's JWKS (or the issuer's discovery document): catches a wrong pool id.

    Raises CliError when the provider answers that nothing is there; returns
    the warning to show (after saving) when it cannot be reached at all.
    """
    config = client.config
    if isinstance(config, CognitoConfig):
        url, field = config.jwks_url, "user_pool_id"
        what = "the user pool's signing keys"
    else:
        url = f"{profile.settings.issuer or ''}".rstrip("/") + "/.well-known/openid-configuration"
        field, what = "issuer", "the issuer's discovery document"
    try:
        response = httpx.get(url, timeout=min(profile.settings.timeout, 10.0))
    except httpx.HTTPError as exc:
        where = httpx.URL(url)
        port = where.port or (443 if where.scheme == "https" else 80)
        return (
            f"could not reach {where.host}:{port} to fetch {what} ({url}: "
            f"{type(exc).__name__}); the profile is saved, unchecked. Check the "
            f"{field.replace('_', ' ')} and the network, or rerun with --no-verify to skip this"
        )
    ok = response.status_code < 400
    if ok:
        try:
            ok = isinstance(response.json(), dict)
        except ValueError:
            ok = False
    if not ok:
        raise CliError(
            f"profile {profile.name!r}: {field}: {what} are not at {url} "
            f"(HTTP {response.status_code}); is the {field.replace('_', ' ')} right? "
            "Use --no-verify to save anyway."
        )
    return None
