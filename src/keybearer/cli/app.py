"""The ``keybearer`` group: its global options, the profile options, and errors to exit codes.

Why click rather than typer: click is mature and small, has no dependencies of
its own, brings shell completion (bash, zsh, fish) and a test runner; typer
is a layer over click that adds typing-extensions, optionally rich and shell
detection, and its type-hint declarations buy little for a handful of
commands whose options are plain strings. Everything here is click's public
API, so moving to typer later would not change the command line.

A command module adds commands with ``@click.command()`` plus
:func:`profile_options`, takes the :class:`State` with ``@click.pass_obj``, and
is registered in :mod:`keybearer.cli` (``main.add_command``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.shell_completion import get_completion_class

from keybearer import __version__
from keybearer._profiles import default_config_path, read_config, resolve_profile
from keybearer.cli import terminal
from keybearer.cli.exits import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    exit_code_for,
)
from keybearer.cli.wording import cli_words, command_line
from keybearer.errors import (
    KeybearerError,
    KeyringUnavailableError,
    LoginRequiredError,
    StoreError,
)

if TYPE_CHECKING:
    from keybearer._client import OAuthClient
    from keybearer._profiles import ResolvedProfile

__all__ = ["State", "login_hint", "main", "profile_options", "selection_options"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class State:
    """What the options before and after the command name chose."""

    profile: str | None = None
    config: Path | None = None
    store: str | None = None
    resolved_name: str | None = None
    verbose: int = 0
    debug: bool = False

    def resolve(self, *, require_client: bool = True) -> ResolvedProfile:
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
        """The profile's client, closed when the command ends."""
        profile = profile or self.resolve()
        client = profile.client()
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.call_on_close(client.close)
        return client

    def config_path(self) -> Path:
        return self.config.expanduser() if self.config else default_config_path()


def login_hint(name: str | None) -> str:
    """The command that signs this profile in."""
    return command_line("login", name)


def _remember(attribute: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            setattr(ctx.ensure_object(State), attribute, value)
        return value

    return callback


def _complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Profile names for shell completion: quiet, whatever the file holds."""
    try:
        state = ctx.find_object(State)
        path = state.config_path() if state is not None else default_config_path()
        profiles = read_config(path).profiles
        return sorted(str(name) for name in profiles if str(name).startswith(incomplete))
    except Exception:
        return []


def _verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """-v and --debug, wherever they are given: the log level follows each one at once."""
    state = ctx.ensure_object(State)
    if param.name == "verbose":
        state.verbose += value
    elif value:
        state.debug = True
    terminal.setup_logging(state.verbose, debug=state.debug)
    return value


def verbosity_options(f: F) -> F:
    """``-v/--verbose`` (repeatable) and ``--debug``, accepted before or after the command."""
    f = click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_verbosity,
        help="Log every HTTP request (method, URL, status) and what keybearer decides; "
        "never a token.",
    )(f)
    f = click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_verbosity,
        help="Log what keybearer does (-vv: as --debug).",
    )(f)
    return f


def selection_options(*, store: bool = True) -> Callable[[F], F]:
    """``--profile``, ``--config``, (with ``store``) ``--store``, ``-v`` and ``--debug``.

    Each is accepted before or after the command. ``configure`` takes them
    without ``--store``: there ``--store`` is the setting it saves, not the
    store of one run.
    """

    def decorate(f: F) -> F:
        if store:
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
        return verbosity_options(f)

    return decorate


#: The options every command that uses a profile takes.
profile_options = selection_options(store=True)


def _no_keyring(name: str | None) -> None:
    terminal.error(
        "there is no OS keyring on this machine to keep tokens in (usual on a server, in a "
        "container or in WSL)."
    )
    terminal.say(
        "Keep them in a file instead (plain text, readable only by you): "
        + command_line("configure", name, "--store file:tokens.json")
    )
    terminal.say(
        "For one run: --store file:PATH, or KEYBEARER_STORE=file:PATH (KEYBEARER_STORE=memory: "
        "only while the process runs).",
        dim=True,
    )


class _Group(click.Group):
    """Every error of every command becomes one ``keybearer:`` line and an exit code here.

    Commands may be registered lazily, by the module that defines them
    (:meth:`add_lazy_command`): a run imports only the module of the command it
    runs, so ``keybearer token`` does not load the doctor, the prompts or the
    TOML writer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy: dict[str, str] = {}

    def add_lazy_command(self, name: str, target: str) -> None:
        """Register command ``name``, the click command ``"package.module:attribute"``."""
        self._lazy[name] = target

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self._lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        # Lazy on purpose (see the class docstring): only the command that runs is imported.
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (KeybearerError, CliError) as exc:
            state = ctx.find_object(State)
            name = state.resolved_name if state else None
            if isinstance(exc, KeyringUnavailableError):
                _no_keyring(name)  # the command line's fix, not the library's advice
            elif isinstance(exc, LoginRequiredError):
                terminal.error(cli_words(str(exc)))
                terminal.say(f"To sign in: {login_hint(name)}", dim=True)
            elif isinstance(exc, StoreError) and "keyring" in str(exc).lower():
                terminal.error(cli_words(str(exc)))
                terminal.say(
                    "Or choose the token store explicitly: KEYBEARER_STORE=file:PATH "
                    "(a 0600 plain-text file) or KEYBEARER_STORE=memory (this process only).",
                    dim=True,
                )
            else:
                terminal.error(cli_words(str(exc)))
            ctx.exit(exit_code_for(exc))
        except click.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):
                terminal.say("")
                terminal.error("interrupted")
                ctx.exit(EXIT_INTERRUPTED)
            terminal.error("no answer: standard input ended")
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            terminal.say("")
            terminal.error("interrupted")
            ctx.exit(EXIT_INTERRUPTED)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 ok, 1 API, provider or network error, 2 usage or configuration "
    "error, 3 login required. Shell completion: see `keybearer completion --help`.",
)
@profile_options
@click.version_option(__version__, "-V", "--version", prog_name="keybearer")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Sign in to an Amazon Cognito user pool once, then call its API from the terminal.

    Settings come from named profiles (keybearer configure); tokens stay in the OS
    keyring, one session per profile.
    """
    state = ctx.ensure_object(State)
    terminal.setup_logging(state.verbose, debug=state.debug)


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
    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click ships all three
        raise CliError(f"no completion for {shell}")
    root = click.get_current_context().find_root()
    completer = cls(root.command, {}, root.info_name or "keybearer", "_KEYBEARER_COMPLETE")
    click.echo(completer.source())
