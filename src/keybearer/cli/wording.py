"""The library's messages in the spelling of the command line.

The library speaks to Python callers (``send='access'``, ``login_browser()``);
a person at the terminal types ``keybearer configure --send access`` and
``keybearer login --browser``. Every message the command shows from the
library goes through :func:`cli_words`; every command the command suggests
is spelled by :func:`command_line`.
"""

from __future__ import annotations

from keybearer._profiles.settings import DEFAULT_PROFILE

__all__ = ["cli_words", "command_line"]

# Longest first: a phrase is replaced before the names inside it.
_SPELLINGS: tuple[tuple[str, str], ...] = (
    ("e.g. with login_password() or login_browser()", "with keybearer login"),
    ("authorization_url() or login_browser()", "keybearer login"),
    (
        "sign in with login_browser and scopes=['<resource server>/<scope>']",
        "add the scope (keybearer configure --scopes 'openid <resource server>/<scope>') "
        "and sign in with keybearer login --browser",
    ),
    ("(scopes=[...])", "(keybearer configure --scopes '...')"),
    (
        "sign in with them and send='access'",
        "sign in with them and keybearer configure --send access",
    ),
    ("with send='access'", "with keybearer configure --send access"),
    ("(send='id')", "(keybearer configure --send id)"),
    ("send='id'", "keybearer configure --send id"),
    ("send='access'", "keybearer configure --send access"),
    ("(scheme=None)", "(keybearer configure --scheme none)"),
    ("login_password()", "keybearer login --password"),
    ("login_browser()", "keybearer login --browser"),
    ("login_browser", "keybearer login --browser"),
)


def cli_words(text: str) -> str:
    """``text`` with each Python spelling of the library's replaced by the command's."""
    for python, command in _SPELLINGS:
        text = text.replace(python, command)
    return text


def command_line(command: str, profile: str | None, *flags: str) -> str:
    """``keybearer <command>`` for ``profile``, then ``flags``, as a person would type it.

    ``--profile`` is left out for the default profile (and for none), which
    the command picks anyway: ``command_line("configure", "dev", "--send id")``
    is ``"keybearer configure --profile dev --send id"``.
    """
    words = ["keybearer", command]
    if profile and profile != DEFAULT_PROFILE:
        words += ["--profile", profile]
    return " ".join([*words, *flags])
