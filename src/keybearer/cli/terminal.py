"""The terminal: output on stdout and stderr, colour, prompts, times, and the wait spinner.

The rule for streams: results go to stdout (``--json`` makes them one JSON
document); prompts, progress, warnings and errors go to stderr. Colour only
when the stream is a terminal and ``NO_COLOR`` is not set
(https://no-color.org). ``sys.stdout``/``sys.stderr``/``sys.stdin`` are looked
up on each use, because click's test runner swaps them.

Command modules call these as ``terminal.say(...)`` (not imported by name), so
a test can replace one for every command at once.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

import click

from keybearer._tokens import span
from keybearer.cli.exits import CliError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

__all__ = [
    "MAX_TRIES",
    "Waiting",
    "ask",
    "ask_twice",
    "ask_until",
    "clock",
    "colour",
    "console",
    "duration",
    "error",
    "iso",
    "out",
    "print_json",
    "read_line",
    "refusal_warning_held",
    "say",
    "setup_logging",
    "stderr_is_tty",
    "stdin_is_tty",
    "stdout_is_tty",
    "table",
    "warn",
    "when",
    "working",
]

logger = logging.getLogger("keybearer")


def colour(stream: IO[Any]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def out(text: str = "", **style: Any) -> None:
    """A result line on stdout."""
    on = colour(sys.stdout)
    click.echo(click.style(text, **style) if style and on else text, color=on)


def say(text: str = "", *, nl: bool = True, **style: Any) -> None:
    """A conversation line on stderr (progress, prompts' context, hints)."""
    on = colour(sys.stderr)
    styled = click.style(text, **style) if style and on else text
    click.echo(styled, err=True, nl=nl, color=on)


def error(message: str) -> None:
    """``keybearer: <message>`` on stderr: the one form every error takes."""
    say("keybearer: ", nl=False, fg="red", bold=True)
    say(message)


def warn(message: str) -> None:
    say("keybearer: warning: ", nl=False, fg="yellow", bold=True)
    say(message)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


# A JWT, or its first two segments: masked in every log line, whatever logged it.
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*(?:\.[\w-]*)?")
_http_log = logging.getLogger("httpx")


class _StderrHandler(logging.Handler):
    """The library's log (and httpx's request lines), on whatever stderr is now.

    click's test runner swaps stderr, so it is looked up per record.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = _JWT.sub("<token>", self.format(record))
        except Exception:  # pragma: no cover - logging's own contract
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            warn(message)
        elif record.name == _http_log.name:
            say(f"keybearer: debug: {message.removeprefix('HTTP Request: ')}", dim=True)
        elif record.levelno < logging.INFO:
            say(f"keybearer: debug: {message}", dim=True)
        else:
            say(f"keybearer: {message}", dim=True)


_handler = _StderrHandler()


def setup_logging(verbose: int, *, debug: bool = False) -> None:
    """Send the library's log to stderr: warnings; -v INFO; -vv or --debug DEBUG.

    At DEBUG every HTTP request keybearer makes (to the provider or the API)
    is one line: method, URL and status, from httpx's own log; never a
    header or a body, so never a token.
    """
    if _handler not in logger.handlers:
        logger.addHandler(_handler)
    detailed = debug or verbose >= 2
    level = logging.DEBUG if detailed else logging.INFO if verbose == 1 else logging.WARNING
    logger.setLevel(level)
    if detailed:
        if _handler not in _http_log.handlers:
            _http_log.addHandler(_handler)
        _http_log.setLevel(logging.INFO)
        _http_log.propagate = False
    else:
        _http_log.removeHandler(_handler)
        _http_log.setLevel(logging.NOTSET)
        _http_log.propagate = True


@contextlib.contextmanager
def refusal_warning_held() -> Iterator[None]:
    """Hold back the auth's "GET /x refused: ..." warning: the caller shows the diagnosis.

    The command prints the status line first and the diagnosis after it, in
    the command line's words, instead of the library's log line before both.
    """

    def keep(record: logging.LogRecord) -> bool:
        return not (record.module == "_auth" and record.levelno == logging.WARNING)

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


# -- reading answers: a terminal prompt, or a line of stdin in a script --


def stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def stdout_is_tty() -> bool:
    try:
        return bool(sys.stdout.isatty())
    except (AttributeError, ValueError):
        return False


def stderr_is_tty() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


def read_line(what: str) -> str:
    """One line of stdin, without its line end; CliError at the end of input."""
    line = sys.stdin.readline()
    if not line:
        raise CliError(f"expected {what} on standard input, found the end of it")
    return line.rstrip("\r\n")


#: How many times an interactive prompt asks before giving up.
MAX_TRIES = 3


def ask_until(
    prompt: str,
    check: Callable[[str], str | None],
    *,
    what: str,
    default: str | None = None,
    show_default: bool = True,
    hidden: bool = False,
) -> str:
    """Ask on the terminal until ``check(answer)`` finds no problem, at most MAX_TRIES times.

    Each problem is shown in the ``keybearer:`` style before asking again;
    after the last try the command ends with a CliError naming ``what``.
    """
    for _ in range(MAX_TRIES):
        answer: str = click.prompt(
            prompt, default=default, show_default=show_default, hide_input=hidden, err=True
        )
        answer = answer.strip()
        problem = check(answer)
        if problem is None:
            return answer
        error(problem)
    raise CliError(f"no usable {what} after {MAX_TRIES} tries")


def ask_twice(prompt: str, again: str, *, what: str) -> str:
    """A new secret typed twice without echo; asked again (MAX_TRIES in all) on a mismatch."""
    for _ in range(MAX_TRIES):
        first: str = click.prompt(prompt, hide_input=True, err=True)
        second: str = click.prompt(again, hide_input=True, err=True)
        if first == second:
            return first
        error("the two entries do not match; type it again")
    raise CliError(f"{what}: the two entries did not match after {MAX_TRIES} tries")


def ask(prompt: str, *, what: str, hidden: bool = False, default: str | None = None) -> str:
    """Ask on the terminal (never echoing ``hidden`` answers), or read a line in a script."""
    if stdin_is_tty():
        answer: str = click.prompt(prompt, hide_input=hidden, default=default, err=True)
        return answer
    line = read_line(what)
    return line if line or default is None else default


# -- times, as a person reads them --


def iso(timestamp: float) -> str:
    moment = _dt.datetime.fromtimestamp(timestamp, tz=_dt.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def duration(seconds: float) -> str:
    """``seconds`` (either sign) as a person says it: "45 s", "12 min", "3 h"."""
    return span(abs(seconds))


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def when(expires_at: float) -> str:
    left = expires_at - time.time()
    if left >= 0:
        return f"at {iso(expires_at)} (in {duration(left)})"
    return f"at {iso(expires_at)} ({duration(left)} ago)"


# -- a terminal's extras, by rich (imported only then): spinners, tables, wrapping --


def console(stream: IO[Any] | None = None) -> Console:
    """A rich console on ``stream`` (default stderr), plain when colour is off.

    Only for a stream the caller found to be a terminal (``stdout_is_tty()``,
    ``stderr_is_tty()``): a pipe or a file gets plain text from :func:`out`
    and :func:`say` instead, without rich.
    """
    # Lazy: rich costs tens of milliseconds to import and only a terminal needs
    # it; `keybearer token` in a script never does.
    from rich.console import Console

    target = sys.stderr if stream is None else stream
    return Console(
        file=target,
        force_terminal=True,  # the caller decided it is a terminal (tests stand in for that)
        no_color=not colour(target),
        highlight=False,
        soft_wrap=False,
    )


def table(rows: Sequence[Sequence[str]], *, styles: Sequence[Sequence[str]] = ()) -> None:
    """Rows as aligned columns on stdout; the last column wraps at the terminal's width.

    ``styles`` gives a rich style per cell (same shape as ``rows``, "" for
    none). On a terminal this is a rich table; elsewhere plain text with the
    columns two spaces apart and no style.
    """
    if not rows:
        return
    width = len(rows[0])
    if stdout_is_tty():
        from rich.table import Table  # lazy: see console()
        from rich.text import Text

        grid = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2, 0, 0))
        for index in range(width):
            last = index == width - 1
            grid.add_column(no_wrap=not last, overflow="fold" if last else "ellipsis")
        for number, row in enumerate(rows):
            cell_styles = styles[number] if number < len(styles) else ("",) * width
            grid.add_row(*(Text(cell, style=st) for cell, st in zip(row, cell_styles, strict=True)))
        console(sys.stdout).print(grid)
        return
    widths = [max(len(row[index]) for row in rows) for index in range(width - 1)]
    for row in rows:
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row[:-1])]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


@contextlib.contextmanager
def working(what: str) -> Iterator[None]:
    """A spinner with ``what`` on stderr while the block waits, on a terminal only.

    While it spins, whatever is written to stderr (a warning, a log line) goes
    above it on a line of its own, never onto the spinner's line.
    """
    if not stderr_is_tty():
        yield
        return
    with console().status(f"{what}..."):
        yield


class _Countdown:
    """The spinner's text, worked out at each refresh: the time left to sign in."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __rich__(self) -> str:
        left = max(0.0, self._deadline - time.monotonic())
        return f"Waiting for the sign-in in the browser ({clock(left)} left, Ctrl-C to cancel)"


class Waiting:
    """A spinner and countdown on stderr while the browser sign-in is pending.

    Without a terminal, one line says how long it will wait.
    """

    def __init__(self, timeout: float) -> None:
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._status: Status | None = None

    def start(self) -> None:
        if not stderr_is_tty():
            say(f"Waiting up to {duration(self._timeout)} for the sign-in in the browser...")
            return
        if self._status is None:
            self._status = console().status(_Countdown(self._deadline))
            self._status.start()

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
