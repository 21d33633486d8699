"""Exit codes, and the one place an error becomes one.

0 ok; 1 the API, the provider or the network failed (an HTTP status of 400
or more included); 2 a usage or configuration error; 3 there is no usable
session, log in; 130 interrupted.
"""

from __future__ import annotations

from keybearer.errors import (
    ConfigurationError,
    LoginRequiredError,
    RedirectParseError,
    StateMismatchError,
    StoreError,
)

__all__ = [
    "EXIT_API",
    "EXIT_INTERRUPTED",
    "EXIT_LOGIN_REQUIRED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "exit_code_for",
]

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_LOGIN_REQUIRED = 3
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the command reports itself, with the exit code it maps to."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error: the one place errors become exit codes."""
    if isinstance(exc, LoginRequiredError):
        return EXIT_LOGIN_REQUIRED
    if isinstance(exc, (ConfigurationError, StoreError, RedirectParseError, StateMismatchError)):
        # Settings, the place tokens live, or what the person pasted: fixable here.
        return EXIT_USAGE
    if isinstance(exc, CliError):
        return exc.code
    return EXIT_API
