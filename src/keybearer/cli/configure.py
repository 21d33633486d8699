"""``keybearer configure``: create or update a profile, then check it."""

from __future__ import annotations

import os
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
    write_profile,
)
from keybearer.cli import terminal
from keybearer.cli.app import State, login_hint, profile_options
from keybearer.cli.exits import CliError
from keybearer.errors import StoreError
from keybearer.stores.memory import MemoryStore

if TYPE_CHECKING:
    from keybearer._client import OAuthClient
    from keybearer._profiles import ResolvedProfile
    from keybearer.stores._base import TokenStore

__all__ = ["DEFAULT_REDIRECT", "configure"]

_PROMPTED = ("client_id", "domain", "redirect_uri", "scopes", "api_url", "send")
_PROMPTS = {
    "client_id": "App client id",
    "domain": "Hosted UI domain (empty: none, password sign-in only)",
    "redirect_uri": "Redirect URI registered for the app client",
    "scopes": "Scopes, space-separated",
    "api_url": "API URL (empty: none)",
    "send": "Token the API expects (id or access)",
}
DEFAULT_REDIRECT = "http://localhost:8765/callback"


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@click.command()
@profile_options
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
    "--token-auth",
    type=click.Choice(["client_secret_basic", "client_secret_post"]),
    help="How the token endpoint gets the client secret.",
)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds to wait.")
@click.option("--refresh-ahead", type=click.FloatRange(min=60), help="Refresh this early (s).")
@click.option(
    "--token-store",
    "token_store",
    metavar="SPEC",
    help="Save where this profile's tokens live: keyring, keyring:SERVICE, file:PATH or memory.",
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
    flags["store"] = flags.pop("token_store")
    given = {k: v for k, v in flags.items() if v is not None}
    values = dict(existing)
    secret: str | None = None

    interactive = terminal.stdin_is_tty() and not given and not client_secret_stdin
    if interactive:
        terminal.say(
            f"Configuring profile {name!r} in {path}. Press Enter to keep [the current value]."
        )
        values, secret = _prompt_settings(values)
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
    if profile.settings.confidential and not secret:
        stored = _stored_secret(state, profile)
        if stored is None and not os.environ.get(SECRET_ENV):
            terminal.warn(
                "this profile's app client has a secret but none is stored; pass "
                f"--client-secret-stdin, or set {SECRET_ENV}"
            )
    client = profile.build_client(MemoryStore(), secret or None)
    try:
        if verify:
            _verify_endpoints(profile, client)
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
    terminal.say(f"Next: {login_hint(name)}", dim=True)


def _prompt_settings(values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    values = dict(values)
    current = values.get("user_pool_id") or values.get("issuer")
    answer = click.prompt(
        "User pool id (or an OpenID Connect issuer URL)",
        default=current,
        err=True,
    ).strip()
    if answer.startswith(("https://", "http://")):
        values["issuer"] = answer
        values.pop("user_pool_id", None)
    else:
        values["user_pool_id"] = answer
        values.pop("issuer", None)
    for key in _PROMPTED:
        if key == "domain" and "issuer" in values:
            continue
        if key == "redirect_uri" and "issuer" not in values and not values.get("domain"):
            continue  # browser sign-in needs a domain first
        default = values.get(key)
        if key == "redirect_uri" and default is None and values.get("domain"):
            default = DEFAULT_REDIRECT
        if key == "scopes" and default is None:
            default = "openid"
        if key == "send" and default is None:
            default = "id"
        optional = key in ("domain", "api_url", "redirect_uri")
        text = click.prompt(
            _PROMPTS[key],
            default=_shown(default) if default is not None else ("" if optional else None),
            show_default=default is not None,
            err=True,
        ).strip()
        if not text:
            values.pop(key, None)
        else:
            values[key] = text.split() if key == "scopes" else text
    hint = "Enter: keep the stored one" if values.get("confidential") else "Enter: none"
    secret = click.prompt(
        f"App client secret ({hint})", default="", show_default=False, hide_input=True, err=True
    )
    return values, secret.strip() or None


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


def _verify_endpoints(profile: ResolvedProfile, client: OAuthClient) -> None:
    """Fetch the pool's JWKS (or the issuer's discovery document): catches a wrong pool id."""
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
        terminal.warn(f"could not fetch {what} from {url} ({type(exc).__name__}); saving anyway")
        return
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
