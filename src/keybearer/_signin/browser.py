"""Showing the sign-in URL to a person: a browser tab, a notebook link, a prompt."""

from __future__ import annotations

import contextlib
import html
import importlib
import sys
from typing import Any


def in_notebook() -> bool:
    """True inside a Jupyter/IPython kernel (where stdout is not a terminal)."""
    if "IPython" not in sys.modules:
        return False  # no kernel or shell loaded it: not a notebook, and no import here
    # By name: IPython is optional, and the type checker needs no stubs for it.
    ipython: Any = importlib.import_module("IPython")
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def show_link(url: str) -> None:
    """Offer ``url`` to the person: a clickable link in a notebook, a line elsewhere."""
    if in_notebook():
        try:
            # IPython exists only where a notebook runs; importing it by name keeps
            # the type checker from needing it.
            display_module: Any = importlib.import_module("IPython.display")
            HTML, display = display_module.HTML, display_module.display
            link = html.escape(url, quote=True)
            display(
                HTML(
                    f'<p>Sign in: <a href="{link}" target="_blank" rel="noopener noreferrer">'
                    "open the sign-in page</a></p>"
                )
            )
            return
        except ImportError:
            pass
    # stderr: stdout may be what a script pipes on.
    print(
        f"Sign in in your browser. If it did not open, open this URL:\n  {url}",
        file=sys.stderr,
        flush=True,
    )


def open_in_browser(url: str) -> None:
    """The default ``open_url``: try the system browser, and always show the link."""
    if not in_notebook():
        # Lazy: webbrowser (and the subprocess machinery it loads) only for a browser sign-in.
        import webbrowser

        # No browser (a server, a container) is normal: the link below still works.
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(url, new=1, autoraise=True)
    show_link(url)


def can_prompt() -> bool:
    """Whether a person can be asked to paste a URL back."""
    try:
        return in_notebook() or sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def prompt_for_redirect() -> str:
    return input(
        "The browser could not reach this program. After signing in, copy the whole URL "
        "from the browser's address bar and paste it here: "
    )
