"""The ``keybearer`` command: configure a profile once, log in, then call the API.

::

    keybearer configure --profile dev     # pool, app client, domain, scopes, API URL
    keybearer login --profile dev         # browser | --password | --paste
    keybearer whoami                      # who, where, until when; never a token
    keybearer token                       # the raw token, for curl and friends
    keybearer get /pets                   # GET <api_url>/pets, signed in
    keybearer doctor [--api URL]          # why does the API say 401? a checklist
    keybearer logout [--all]
    keybearer profiles

Exit codes, for scripts: 0 ok; 1 the API, the provider or the network failed
(an HTTP status of 400 or more included); 2 a usage or configuration error; 3
there is no usable session, log in; 130 interrupted.

Why click rather than typer: click is mature and small, has no dependencies of
its own, brings shell completion (bash, zsh, fish) and a test runner; typer
is a layer over click that adds typing-extensions, optionally rich and shell
detection, and its type-hint declarations buy little for a handful of
commands whose options are plain strings. Everything here is click's public
API, so moving to typer later would not change the command line.

The rule for streams: results go to stdout (``--json`` makes them one JSON
document); prompts, progress, warnings and errors go to stderr. Colour only
when the stream is a terminal and ``NO_COLOR`` is not set. No token is ever
written anywhere except by ``keybearer token``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from keybearer import __version__
from keybearer.errors import (
    ConfigurationError,
    KeybearerError,
    LoginError,
    LoginRequiredError,
    LoginTimeoutError,
    StateMismatchError,
    StoreError,
)

if TYPE_CHECKING:
    from keybearer._challenges import Challenge
    from keybearer._client import OAuthClient
    from keybearer._profiles import ResolvedProfile
    from keybearer._tokens import TokenSet
    from keybearer.stores._base import TokenStore

__all__ = ["EXIT_API", "EXIT_LOGIN_REQUIRED", "EXIT_OK", "EXIT_USAGE", "exit_code_for", "main"]

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_LOGIN_REQUIRED = 3
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("keybearer")


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error: the one place errors become exit codes."""
    from keybearer.errors import RedirectParseError

    if isinstance(exc, LoginRequiredError):
        return EXIT_LOGIN_REQUIRED
    if isinstance(exc, (ConfigurationError, StoreError, RedirectParseError, StateMismatchError)):
        # Settings, the place tokens live, or what the person pasted: fixable here.
        return EXIT_USAGE
    if isinstance(exc, CliError):
        return exc.code
    return EXIT_API


class CliError(Exception):
    """A failure the command reports itself, with the exit code it maps to."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# -- terminal output --


def _colour(stream: IO[Any]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# sys.* looked up on each use: click's test runner swaps them.
def _stderr() -> IO[Any]:
    return sys.stderr


def _stdout() -> IO[Any]:
    return sys.stdout


def out(text: str = "", **style: Any) -> None:
    """A result line on stdout."""
    colour = _colour(_stdout())
    click.echo(click.style(text, **style) if style and colour else text, color=colour)


def say(text: str = "", *, nl: bool = True, **style: Any) -> None:
    """A conversation line on stderr (progress, prompts' context, hints)."""
    colour = _colour(_stderr())
    styled = click.style(text, **style) if style and colour else text
    click.echo(styled, err=True, nl=nl, color=colour)


def _error(message: str) -> None:
    say("keybearer: ", nl=False, fg="red", bold=True)
    say(message)


def _warn(message: str) -> None:
    say("keybearer: warning: ", nl=False, fg="yellow", bold=True)
    say(message)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


class _StderrHandler(logging.Handler):
    """The library's warnings, on whatever stderr is now (click's runner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:  # pragma: no cover - logging's own contract
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            _warn(message)
        else:
            say(f"keybearer: {message}", dim=True)


_handler = _StderrHandler()


def _setup_logging(verbose: int) -> None:
    if _handler not in logger.handlers:
        logger.addHandler(_handler)
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logger.setLevel(level)


# -- reading answers: a terminal prompt, or a line of stdin in a script --


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _stderr_is_tty() -> bool:
    try:
        return bool(_stderr().isatty())
    except (AttributeError, ValueError):
        return False


def _read_line(what: str) -> str:
    line = sys.stdin.readline()
    if not line:
        raise CliError(f"expected {what} on standard input, found the end of it")
    return line.rstrip("\r\n")


def _ask(prompt: str, *, what: str, hidden: bool = False, default: str | None = None) -> str:
    """Ask on the terminal (never echoing ``hidden`` answers), or read a line in a script."""
    if _stdin_is_tty():
        answer: str = click.prompt(prompt, hide_input=hidden, default=default, err=True)
        return answer
    line = _read_line(what)
    return line if line or default is None else default


# -- which profile, which client --


@dataclass
class State:
    """What the options before and after the command name chose."""

    profile: str | None = None
    config: Path | None = None
    store: str | None = None
    resolved_name: str | None = None

    def resolve(self, *, require_client: bool = True) -> ResolvedProfile:
        from keybearer._profiles import resolve_profile

        overrides = {"store": self.store} if self.store else None
        profile = resolve_profile(
            self.profile,
            config_path=self.config,
            overrides=overrides,
            require_client=require_client,
        )
        self.resolved_name = profile.name
        return profile

    def client(self, profile: ResolvedProfile | None = None) -> OAuthClient:
        profile = profile or self.resolve()
        client = profile.client()
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.call_on_close(client.close)
        return client

    def config_path(self) -> Path:
        from keybearer._profiles import default_config_path

        return self.config.expanduser() if self.config else default_config_path()


def _remember(attribute: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            setattr(ctx.ensure_object(State), attribute, value)
        return value

    return callback


def _complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Profile names for shell completion: quiet, and cheap (no pydantic, no keyring)."""
    try:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

        override = os.environ.get("KEYBEARER_CONFIG", "").strip()
        state = ctx.find_object(State)
        if state is not None and state.config:
            path = state.config.expanduser()
        elif override:
            path = Path(override).expanduser()
        else:
            import platformdirs

            path = platformdirs.user_config_path("keybearer", appauthor=False) / "config.toml"
        profiles = tomllib.loads(path.read_text(encoding="utf-8")).get("profiles", {})
        return sorted(str(name) for name in profiles if str(name).startswith(incomplete))
    except Exception:
        return []


def _profile_options(f: F) -> F:
    """``--profile``, ``--config`` and ``--store``, accepted before or after the command."""
    f = click.option(
        "--store",
        metavar="SPEC",
        expose_value=False,
        callback=_remember("store"),
        help="Where tokens live for this run: keyring, keyring:SERVICE, file:PATH or "
        "memory [env: KEYBEARER_STORE].",
    )(f)
    f = click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        expose_value=False,
        callback=_remember("config"),
        help="The profiles file [env: KEYBEARER_CONFIG].",
    )(f)
    f = click.option(
        "-p",
        "--profile",
        metavar="NAME",
        expose_value=False,
        callback=_remember("profile"),
        shell_complete=_complete_profiles,
        help="The profile to use [env: KEYBEARER_PROFILE; default: default].",
    )(f)
    return f


# -- the group, and errors to exit codes in one place --


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (KeybearerError, CliError) as exc:
            _error(str(exc))
            if isinstance(exc, LoginRequiredError):
                state = ctx.find_object(State)
                name = state.resolved_name if state else None
                flag = f" --profile {name}" if name and name != "default" else ""
                say(f"To sign in: keybearer login{flag}", dim=True)
            elif isinstance(exc, StoreError) and "keyring" in str(exc).lower():
                say(
                    "Or choose the token store explicitly: KEYBEARER_STORE=file:PATH "
                    "(a 0600 plain-text file) or KEYBEARER_STORE=memory (this process only).",
                    dim=True,
                )
            ctx.exit(exit_code_for(exc))
        except click.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):
                say("")
                _error("interrupted")
                ctx.exit(EXIT_INTERRUPTED)
            _error("no answer: standard input ended")
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            say("")
            _error("interrupted")
            ctx.exit(EXIT_INTERRUPTED)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 ok, 1 API/HTTP error, 2 usage or configuration error, "
    "3 login required. Shell completion: see `keybearer completion --help`.",
)
@_profile_options
@click.option("-v", "--verbose", count=True, help="Log what keybearer does (-vv: more).")
@click.version_option(__version__, "-V", "--version", prog_name="keybearer")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Sign in to an Amazon Cognito user pool once, then call its API from the terminal.

    Settings come from named profiles (keybearer configure); tokens stay in the OS
    keyring, one session per profile.
    """
    ctx.ensure_object(State)
    _setup_logging(verbose)


# -- configure --

_PROMPTED = ("client_id", "domain", "redirect_uri", "scopes", "api_url", "send")
_PROMPTS = {
    "client_id": "App client id",
    "domain": "Hosted UI domain (empty: none, password sign-in only)",
    "redirect_uri": "Redirect URI registered for the app client",
    "scopes": "Scopes, space-separated",
    "api_url": "API URL (empty: none)",
    "send": "Token the API expects (id or access)",
}
_DEFAULT_REDIRECT = "http://localhost:8765/callback"


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@main.command()
@_profile_options
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
    from keybearer._profiles import (
        LIST_SETTINGS,
        SECRET_ENV,
        build_profile,
        check_profile_name,
        read_config,
        secret_key,
        selected_profile_name,
    )
    from keybearer.stores.memory import MemoryStore

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

    interactive = _stdin_is_tty() and not given and not client_secret_stdin
    if interactive:
        say(f"Configuring profile {name!r} in {path}. Press Enter to keep [the current value].")
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
        secret = _read_line("the client secret")
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
            _warn(
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

    from keybearer._profiles import write_profile

    write_profile(path, name, values)
    out(f"Saved profile {name!r} in {path}.")
    if secret:
        out("The client secret is in the token store, not in the file.")
    flag = f" --profile {name}" if name != "default" else ""
    say(f"Next: keybearer login{flag}", dim=True)


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
            default = _DEFAULT_REDIRECT
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
    from keybearer._profiles import STORE_ENV, open_store

    spec = state.store or os.environ.get(STORE_ENV, "").strip()
    if spec:
        return open_store(spec)
    return profile.store()


def _stored_secret(state: State, profile: ResolvedProfile) -> str | None:
    from keybearer._profiles import secret_key

    try:
        return _secret_store(state, profile).load(
            secret_key(profile.name, profile.settings.client_id or "")
        )
    except StoreError:
        return None


def _verify_endpoints(profile: ResolvedProfile, client: OAuthClient) -> None:
    """Fetch the pool's JWKS (or the issuer's discovery document): catches a wrong pool id."""
    import httpx

    from keybearer._config import CognitoConfig

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
        _warn(f"could not fetch {what} from {url} ({type(exc).__name__}); saving anyway")
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


# -- login --


@main.command()
@_profile_options
@click.option("--browser", "mode", flag_value="browser", help="Sign in in the browser (PKCE).")
@click.option("--password", "mode", flag_value="password", help="Username and password.")
@click.option("--paste", "mode", flag_value="paste", help="Show a URL, paste the redirect back.")
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
            f"--redirect-uri {_DEFAULT_REDIRECT} (after adding it to the app client)"
        )
    if mode == "password" and settings.kind == "oidc":
        raise CliError("password sign-in is for Cognito user pools; use --browser or --paste")

    client = state.client(profile)
    if mode == "password":
        tokens = _login_password(client, username or settings.username, password_stdin)
    elif mode == "paste":
        tokens = _login_paste(client)
    else:
        tokens = _login_browser(client, timeout, open_browser=not no_browser)

    summary = _session_summary(tokens)
    if as_json:
        _print_json({"profile": profile.name, "signed_in": True, **summary})
        return
    who = summary["username"] or summary["sub"] or "unknown user"
    out(f"Signed in as {who} (profile {profile.name!r}).", fg="green")
    out(f"The token expires {_when(tokens.expires_at)}; it is refreshed as needed.")


def _login_password(client: OAuthClient, username: str | None, from_stdin: bool) -> TokenSet:
    from keybearer._tokens import TokenSet

    if not username:
        if not _stdin_is_tty():
            raise CliError("pass --username (or set KEYBEARER_USERNAME) for password sign-in")
        username = click.prompt("Username", err=True).strip()
    if from_stdin:
        password = _read_line("the password")
    elif _stdin_is_tty():
        password = click.prompt("Password", hide_input=True, err=True)
    else:
        raise CliError(
            "no terminal to ask for the password: pass it on stdin with --password-stdin"
        )
    if not password:
        raise CliError("the password is empty")
    result: TokenSet | Challenge = client.login_password(username, password)
    for _ in range(10):
        if isinstance(result, TokenSet):
            return result
        result = _answer(client, result)
    raise LoginError("Cognito kept asking for challenges; giving up after 10")


def _new_password() -> str:
    if _stdin_is_tty():
        password: str = click.prompt(
            "New password",
            hide_input=True,
            confirmation_prompt="Repeat the new password",
            err=True,
        )
        return password
    return _read_line("the new password")


def _answer(client: OAuthClient, challenge: Challenge) -> TokenSet | Challenge:
    """Answer one challenge by asking the person (or reading stdin in a script)."""
    from keybearer._challenges import (
        CustomChallenge,
        EmailOtp,
        MfaSetup,
        NewPasswordRequired,
        SelectMfaType,
        SmsMfa,
        SmsOtp,
        SoftwareTokenMfa,
    )

    if isinstance(challenge, NewPasswordRequired):
        say("You signed in with a temporary password: choose a new one.", bold=True)
        new_password = _new_password()
        attributes = {
            name: _ask(f"Your {name}", what=f"the {name} attribute")
            for name in challenge.required_attributes
        }
        return client.respond(challenge, new_password=new_password, attributes=attributes or None)
    if isinstance(challenge, (SoftwareTokenMfa, SmsMfa, EmailOtp, SmsOtp)):
        labels: dict[type[Challenge], str] = {
            SoftwareTokenMfa: "Code from your authenticator app",
            SmsMfa: "Code sent by SMS",
            EmailOtp: "Code sent by email",
            SmsOtp: "Code sent by SMS",
        }
        label = labels[type(challenge)]
        if challenge.destination:
            label += f" to {challenge.destination}"
        code = _ask(label, what="the code").strip()
        return client.respond(challenge, code=code)
    if isinstance(challenge, SelectMfaType):
        options = challenge.options or ("SOFTWARE_TOKEN_MFA", "SMS_MFA")
        if _stdin_is_tty():
            choice: str = click.prompt(
                "Second factor to use", type=click.Choice(options), default=options[0], err=True
            )
        else:
            choice = _read_line("the MFA type (" + " or ".join(options) + ")").strip()
        return client.respond(challenge, mfa=choice)
    if isinstance(challenge, MfaSetup):
        return _setup_totp(client, challenge)
    if isinstance(challenge, CustomChallenge):
        answer = _ask("Answer to the sign-in challenge", what="the answer", hidden=True)
        return client.respond(challenge, answer=answer)
    raise LoginError(
        f"Cognito asks for the {challenge.name} challenge, which keybearer login cannot "
        "answer; sign in with the hosted UI (keybearer login --browser) instead"
    )


def _setup_totp(client: OAuthClient, challenge: Any) -> TokenSet | Challenge:
    if challenge.options and "SOFTWARE_TOKEN_MFA" not in challenge.options:
        raise LoginError(
            "the user pool wants MFA set up, but only by "
            + ", ".join(challenge.options)
            + "; set it up in the hosted UI (keybearer login --browser)"
        )
    if not (_stdin_is_tty() and _stderr_is_tty()):
        raise CliError(
            "this account must set up an authenticator app first, which shows a secret key: "
            "run keybearer login --password in a terminal"
        )
    setup = client.begin_totp_setup(challenge)
    say("This account must set up an authenticator app (TOTP) before it can sign in.", bold=True)
    say(
        "The next lines show the app's secret key. Anyone who sees it can make sign-in codes "
        "for this account: make sure nobody can see your screen and that this terminal is "
        "not being recorded or logged.",
        fg="yellow",
    )
    click.confirm("Show the secret key now?", default=True, abort=True, err=True)
    say(f"  {setup.uri(issuer='keybearer')}")
    say(f"  secret key: {setup.secret.get_secret_value()}")
    say("Add it to your authenticator app (paste the otpauth:// link, or type the key).")
    code = _ask("Code from the app", what="the code").strip()
    return client.respond(setup, code=code)


def _login_paste(client: OAuthClient) -> TokenSet:
    url = client.authorization_url()
    say("Open this URL in a browser and sign in:", bold=True)
    say(f"\n  {url}\n")
    say(
        "The browser then goes to the redirect URI; the page may fail to load. Copy the "
        "whole address from the address bar and paste it here."
    )
    pasted = _ask("Redirected URL", what="the redirected URL")
    return client.complete_login(pasted)


class _Waiting:
    """A spinner and countdown on stderr while the browser sign-in is pending."""

    _UNICODE = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    _ASCII = "|/-\\"

    def __init__(self, timeout: float) -> None:
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live = _stderr_is_tty()

    def start(self) -> None:
        if not self._live:
            say(f"Waiting up to {_duration(self._timeout)} for the sign-in in the browser...")
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._spin, name="keybearer-wait", daemon=True)
            self._thread.start()

    def _spin(self) -> None:
        stream = _stderr()
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        frames = self._UNICODE if encoding == "utf8" else self._ASCII
        index = 0
        while not self._stop.wait(0.1):
            left = max(0.0, self._deadline - time.monotonic())
            frame = frames[index % len(frames)]
            index += 1
            line = f"\r{frame} Waiting for the sign-in in the browser ({_clock(left)} left, "
            click.echo(line + "Ctrl-C to cancel) ", err=True, nl=False)
        click.echo("\r\x1b[K", err=True, nl=False)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)


def _login_browser(client: OAuthClient, timeout: float, *, open_browser: bool) -> TokenSet:
    waiting = _Waiting(timeout)

    def open_url(url: str) -> None:
        say("Sign in in your browser. If it does not open, open this URL:", bold=True)
        say(f"\n  {url}\n")
        if open_browser:
            import webbrowser

            with contextlib.suppress(webbrowser.Error):
                webbrowser.open(url, new=1, autoraise=True)
        waiting.start()

    try:
        return client.login_browser(open_url=open_url, timeout=timeout, paste_fallback=False)
    except LoginTimeoutError:
        if not _stdin_is_tty():
            raise LoginTimeoutError(
                f"no sign-in came back from the browser within {timeout:g} s; finish signing "
                "in sooner (--timeout), or use keybearer login --paste"
            ) from None
    finally:
        waiting.stop()
    say("The browser did not come back to this program.")
    pasted = _ask("Paste the whole URL from the browser's address bar", what="the redirected URL")
    return client.complete_login(pasted)


# -- whoami, token --


def _iso(timestamp: float) -> str:
    moment = _dt.datetime.fromtimestamp(timestamp, tz=_dt.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(seconds: float) -> str:
    seconds = int(abs(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _when(expires_at: float) -> str:
    left = expires_at - time.time()
    if left >= 0:
        return f"at {_iso(expires_at)} (in {_duration(left)})"
    return f"at {_iso(expires_at)} ({_duration(left)} ago)"


def _session_summary(tokens: TokenSet) -> dict[str, Any]:
    """What can be said about a session without showing any token."""
    now = time.time()
    email = tokens.id_claims.get("email")
    return {
        "username": tokens.username,
        "sub": tokens.sub,
        "email": email if isinstance(email, str) else None,
        "origin": tokens.origin,
        "scopes": list(tokens.scopes),
        "expires_at": _iso(tokens.expires_at),
        "expires_in": int(tokens.expires_at - now),
        "expired": tokens.expires_at <= now,
        "refreshable": tokens.refresh_token is not None,
    }


def _need_session(client: OAuthClient, profile: ResolvedProfile) -> TokenSet:
    tokens = client.tokens
    if tokens is None:
        raise LoginRequiredError(f"not signed in ({profile.where})")
    return tokens


@main.command()
@_profile_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def whoami(state: State, as_json: bool) -> None:
    """Show who is signed in, to what, and until when. Never shows a token.

    Reads the stored session only: no network call. Exit code 3 when the profile
    has no session.
    """
    profile = state.resolve()
    client = state.client(profile)
    tokens = _need_session(client, profile)
    s = profile.settings
    info: dict[str, Any] = {
        "profile": profile.name,
        "config": str(profile.config_path),
        **_session_summary(tokens),
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
        _print_json(info)
        return
    user = info["username"] or info["sub"] or "unknown"
    if info["email"]:
        user += f" <{info['email']}>"
    where = f"user pool {s.user_pool_id}" if s.kind == "cognito" else f"issuer {s.issuer}"
    header = f"{s.scheme} <{s.send} token>" if s.bearer_scheme else f"<{s.send} token>"
    if tokens.expires_at > time.time():
        status = f"valid, expires {_when(tokens.expires_at)}"
    elif tokens.refresh_token is not None:
        status = f"expired {_when(tokens.expires_at)}; refreshed on next use"
    else:
        status = f"expired {_when(tokens.expires_at)}; log in again"
    rows = [
        ("profile", f"{profile.name} ({profile.config_path})"),
        ("user", user),
        ("provider", where),
        ("app client", s.client_id or ""),
        ("signed in by", tokens.origin),
        ("sends", f"Authorization: {header}"),
        ("scopes", " ".join(tokens.scopes) or "(none in the access token)"),
        ("session", status),
    ]
    if s.api_url:
        rows.append(("api_url", s.api_url))
    colour = _colour(_stdout())
    for label, value in rows:
        shown = click.style(f"{label:<13}", bold=True) if colour else f"{label:<13}"
        click.echo(f"{shown}{value}", color=colour)


@main.command()
@_profile_options
@click.option(
    "--kind",
    type=click.Choice(["id", "access"]),
    help="Which token [default: the profile's send setting].",
)
@click.pass_obj
def token(state: State, kind: str | None) -> None:
    """Print the raw token on stdout (refreshed first if it is about to expire).

    The only command that shows a token. For curl:

    \b
      curl -H "Authorization: Bearer $(keybearer token)" "$API_URL/pets"
    """
    profile = state.resolve()
    client = state.client(profile)
    _need_session(client, profile)
    tokens = client.valid_tokens()
    chosen = kind or profile.settings.send
    click.echo(tokens.token("id" if chosen == "id" else "access"))


# -- doctor --


@main.command()
@_profile_options
@click.option(
    "--api",
    metavar="URL|PATH",
    help="Request this URL (or this path below api_url) with the token [default: api_url].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def doctor(state: State, api: str | None, as_json: bool) -> None:
    """Check the profile end to end and say why the API refuses the token.

    One line per check (ok, warn, fail, skip): the configuration, the provider's
    keys, the session (refreshed if due), which token is sent and its claims,
    its signature, then a real request to the API with its clock and, for a
    401/403, the likely cause and the fix. Never shows a token; after a 401 it
    repeats the request with the other token to tell which one the method wants.
    Exit code 0 all passed, 1 a check failed or the API refused, 2 a
    configuration error, 3 not signed in.
    """
    from keybearer._doctor import render, run_doctor

    report = run_doctor(state.resolve, api=api)
    if as_json:
        _print_json(report.as_dict())
    else:
        colour = _colour(_stdout())
        for line in render(report, colour=colour):
            click.echo(line, color=colour)
    if report.exit_code:
        raise click.exceptions.Exit(report.exit_code)


# -- calling the API --


def _body_argument(value: str) -> bytes:
    if value == "@-":
        return sys.stdin.buffer.read()
    if value.startswith("@"):
        try:
            return Path(value[1:]).expanduser().read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {value[1:]}: {exc.strerror or exc}") from None
    return value.encode("utf-8")


def _headers(values: tuple[str, ...]) -> list[tuple[str, str]]:
    import re

    headers = []
    for raw in values:
        name, sep, value = raw.partition(":")
        name = name.strip()
        if not sep or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise CliError(f"-H wants 'Name: value'; got {raw!r}")
        if name.lower() == "authorization":
            raise CliError("keybearer sets the Authorization header itself; do not pass it")
        headers.append((name, value.strip()))
    return headers


def _send(
    state: State,
    method: str,
    path: str,
    data: str | None,
    json_body: str | None,
    header_values: tuple[str, ...],
    raw: bool,
) -> None:
    import httpx

    from keybearer._io.hosts import HostAllowList

    if data is not None and json_body is not None:
        raise CliError("pass either -d/--data or --json, not both")
    profile = state.resolve()
    settings = profile.settings
    headers = _headers(header_values)
    names = {name.lower() for name, _ in headers}
    content: bytes | None = None
    if data is not None:
        content = _body_argument(data)
    elif json_body is not None:
        content = _body_argument(json_body)
        try:
            json.loads(content)
        except ValueError as exc:
            raise CliError(f"--json: the body is not valid JSON ({exc})") from None
        if "content-type" not in names:
            headers.append(("Content-Type", "application/json"))
        if "accept" not in names:
            headers.append(("Accept", "application/json"))

    absolute = path.startswith(("https://", "http://"))
    if absolute:
        allowed = HostAllowList([*settings.api_hosts, *([settings.api_url or ""])])
        if not allowed.permits(httpx.URL(path)):
            raise CliError(
                f"refusing to send the token to {httpx.URL(path).host}: it is neither the "
                "api_url's host nor one of api_hosts"
            )
    elif not settings.api_url:
        raise CliError(
            f"{profile.where}: api_url: not set, so {path!r} has nothing to go below; run "
            f"keybearer configure --profile {profile.name} --api-url URL, or set "
            "KEYBEARER_API_URL"
        )
    elif not path.startswith("/"):
        path = "/" + path

    client = state.client(profile)
    options: dict[str, Any] = {"timeout": settings.timeout}
    if settings.api_url:
        options["base_url"] = settings.api_url
    try:
        with client.http(**options) as http:
            response = http.request(method, path, content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise CliError(f"the API could not be reached: {type(exc).__name__}: {exc}", 1) from None

    ok = response.status_code < 400
    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    say(status, fg="green" if ok else "red", bold=True)
    body = response.content
    if body:
        if not raw and "json" in response.headers.get("content-type", ""):
            try:
                out(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
            except ValueError:
                click.echo(body, nl=False)
        else:
            click.echo(body, nl=False)
    if not ok:
        if response.status_code in (401, 403):
            # The likely cause was logged above (keybearer's warning); doctor digs deeper.
            say(f"For a checklist: keybearer doctor --api {path}", dim=True)
        raise click.exceptions.Exit(EXIT_API)


def _request_command(method: str) -> click.Command:
    @click.command(
        name=method.lower(),
        help=f"Send {method} PATH to the profile's api_url, signed in.\n\n"
        "PATH is relative to api_url (/pets, /pets?limit=2) or a full URL on an allowed "
        "host. The status goes to stderr, the body to stdout (JSON pretty-printed). "
        "Exit code 1 for a status of 400 or more.",
    )
    @_profile_options
    @click.argument("path")
    @click.option("-d", "--data", metavar="TEXT|@FILE|@-", help="Request body, as is.")
    @click.option(
        "--json",
        "json_body",
        metavar="JSON|@FILE|@-",
        help="JSON request body (sets Content-Type and Accept to application/json).",
    )
    @click.option(
        "-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'", help="Add a header."
    )
    @click.option("--raw", is_flag=True, help="Print the body as received (no pretty-printing).")
    @click.pass_obj
    def command(
        state: State,
        path: str,
        data: str | None,
        json_body: str | None,
        headers: tuple[str, ...],
        raw: bool,
    ) -> None:
        _send(state, method, path, data, json_body, headers, raw)

    return command


for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    main.add_command(_request_command(_method))


# -- logout, profiles --


def _profile_names(state: State) -> list[str]:
    """The file's profiles, plus the selected one if only the environment defines it."""
    from keybearer._profiles import read_config, selected_profile_name

    names = list(read_config(state.config_path()).profiles)
    selected = selected_profile_name(state.profile)
    if selected not in names and (
        os.environ.get("KEYBEARER_USER_POOL_ID") or os.environ.get("KEYBEARER_ISSUER")
    ):
        names.append(selected)
    return names


@main.command()
@_profile_options
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
            _warn(f"profile {name!r} skipped: {exc}")
            continue
        results.append({"profile": profile.name, "signed_out": True, "revoked": revoked})
    if as_json:
        _print_json(results if all_profiles else results[0])
    else:
        for result in results:
            name = result["profile"]
            if not result["signed_out"]:
                if not all_profiles:
                    out(f"Profile {name!r} was not signed in.")
            elif result["revoked"]:
                out(f"Signed out of profile {name!r}; the session is revoked.")
            else:
                out(f"Signed out of profile {name!r} (tokens deleted here; revocation failed).")
        if all_profiles and not any(r["signed_out"] for r in results):
            out("No profile was signed in.")
    if failed:
        raise click.exceptions.Exit(EXIT_USAGE)


@main.command("profiles")
@_profile_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def profiles_command(state: State, as_json: bool) -> None:
    """List the profiles: * marks the default, and whether each has a live session.

    The default is the profile used without --profile (KEYBEARER_PROFILE, else
    'default'). A session is live while its token is valid or it can be refreshed.
    """
    from keybearer._profiles import selected_profile_name

    default = selected_profile_name(None)
    entries = []
    for name in _profile_names(state):
        entries.append(_describe_profile(State(name, state.config, state.store), default))
    if as_json:
        _print_json({"config": str(state.config_path()), "profiles": entries})
        return
    if not entries:
        say(f"No profiles in {state.config_path()}. Create one: keybearer configure")
        return
    targets = [entry.get("user_pool_id") or entry.get("issuer") or "" for entry in entries]
    name_width = max(len(str(entry["name"])) for entry in entries)
    target_width = max(len(target) for target in targets)
    for entry, target in zip(entries, targets, strict=True):
        mark = "*" if entry["default"] else " "
        if entry["error"]:
            session = "invalid: " + entry["error"]
        elif entry["session"] is None:
            session = "not signed in"
        else:
            who = entry["session"]["username"] or "unknown user"
            session = ("signed in as " if entry["live"] else "expired: ") + who
        out(f"{mark} {entry['name']:<{name_width}}  {target:<{target_width}}  {session}")


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
        summary = _session_summary(tokens)
        entry["session"] = summary
        entry["live"] = not summary["expired"] or summary["refreshable"]
    return entry


# -- completion --


@main.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    bash:  eval "$(_KEYBEARER_COMPLETE=bash_source keybearer)"   (in ~/.bashrc)
    zsh:   eval "$(_KEYBEARER_COMPLETE=zsh_source keybearer)"    (in ~/.zshrc)
    fish:  _KEYBEARER_COMPLETE=fish_source keybearer | source    (in config.fish)

    `keybearer completion bash` prints the same script as the bash line does.
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click ships all three
        raise CliError(f"no completion for {shell}")
    ctx = click.get_current_context()
    root = ctx.find_root()
    completer = cls(main, {}, root.info_name or "keybearer", "_KEYBEARER_COMPLETE")
    click.echo(completer.source())
