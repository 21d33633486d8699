"""A griffe extension for the docs site: keybearer's reST docstring markup, as Markdown.

The docstrings are written for ``help()`` and IDEs, with Sphinx roles
(``:class:`~keybearer.errors.TokenInvalidError```) and ``::`` before literal
blocks. mkdocstrings reads docstrings as Markdown, where both would show as
written. This extension, loaded by ``mkdocs.yml``, rewrites them as Markdown
in the docs build only; the source is not changed.

* ``:role:`target``` becomes inline code of the target; ``~`` keeps its last
  dotted part, and ``title <target>`` keeps the title.
* A paragraph ending in ``::`` ends in ``:`` (a ``::`` alone on its line is
  dropped); the indented block after it is already a Markdown code block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|exc|mod|obj|const):`([^`]+)`")
_TITLED = re.compile(r"^(.*?)\s*<([^>]+)>$")
_LITERAL_MARK = re.compile(r"(\S)::$", re.MULTILINE)
_LONE_MARK = re.compile(r"^[ \t]*::[ \t]*$\n?", re.MULTILINE)


def _role_text(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    titled = _TITLED.match(target)
    if titled:
        return f"`{titled.group(1)}`"
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


def to_markdown(text: str) -> str:
    """The docstring ``text`` with Sphinx roles and ``::`` markers rewritten."""
    text = _ROLE.sub(_role_text, text)
    text = _LONE_MARK.sub("", text)
    return _LITERAL_MARK.sub(r"\1:", text)


class SphinxRolesToMarkdown(griffe.Extension):
    """Rewrite each object's docstring once the object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
