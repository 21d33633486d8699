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

import datetime as _dt
import json
import logging
import os
import sys
import threading
import time
from typing import IO, Any

import click

from keybearer.cli.exits import CliError

__all__ = [
    "Waiting",
    "ask",
    "clock",
    "colour",
    "duration",
    "error",
    "iso",
    "out",
    "print_json",
    "read_line",
    "say",
    "setup_logging",
    "stderr_is_tty",
    "stdin_is_tty",
    "warn",
    "when",
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


class _StderrHandler(logging.Handler):
    """The library's warnings, on whatever stderr is now (click's runner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:  # pragma: no cover - logging's own contract
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            warn(message)
        else:
            say(f"keybearer: {message}", dim=True)


_handler = _StderrHandler()


def setup_logging(verbose: int) -> None:
    """Send the library's log to stderr: warnings, then -v INFO, -vv DEBUG."""
    if _handler not in logger.handlers:
        logger.addHandler(_handler)
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logger.setLevel(level)


# -- reading answers: a terminal prompt, or a line of stdin in a script --


def stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
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
    seconds = int(abs(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def when(expires_at: float) -> str:
    left = expires_at - time.time()
    if left >= 0:
        return f"at {iso(expires_at)} (in {duration(left)})"
    return f"at {iso(expires_at)} ({duration(left)} ago)"


# -- waiting --


class Waiting:
    """A spinner and countdown on stderr while the browser sign-in is pending."""

    _UNICODE = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    _ASCII = "|/-\\"

    def __init__(self, timeout: float) -> None:
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live = stderr_is_tty()

    def start(self) -> None:
        if not self._live:
            say(f"Waiting up to {duration(self._timeout)} for the sign-in in the browser...")
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._spin, name="keybearer-wait", daemon=True)
            self._thread.start()

    def _spin(self) -> None:
        stream = sys.stderr
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        frames = self._UNICODE if encoding == "utf8" else self._ASCII
        index = 0
        while not self._stop.wait(0.1):
            left = max(0.0, self._deadline - time.monotonic())
            frame = frames[index % len(frames)]
            index += 1
            line = f"\r{frame} Waiting for the sign-in in the browser ({clock(left)} left, "
            click.echo(line + "Ctrl-C to cancel) ", err=True, nl=False)
        click.echo("\r\x1b[K", err=True, nl=False)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
