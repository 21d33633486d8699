"""The package's layering, read from the source with ``ast`` (nothing is imported).

Imports point down only: protocol and JOSE code (pure logic) import no I/O,
configuration, session, client, CLI, profiles or store; I/O imports no
configuration, session, client, CLI or profiles; only the CLI imports the CLI.
An import inside a function is deliberate lazy loading and says why in a
``#`` comment on its line or the line above (one comment may head a run of
adjacent import lines).

All violations are reported at once, so that one run shows the whole list.
"""

from __future__ import annotations

import ast
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "keybearer"
SRC = Path(__file__).resolve().parent.parent / "src" / PACKAGE

# Which layers may not import which: (importer prefix, forbidden prefixes).
_PURE = ("_io", "_config", "_session", "_client", "_auth", "cli", "_profiles", "stores")
_IO = ("_config", "_session", "_client", "cli", "_profiles")
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("_protocol", _PURE),
    ("_jose", _PURE),
    ("_io", _IO),
)

# Imports that break a layer rule today, and why each remains. Keys are
# (importing module, imported module or a package holding it). The test also
# fails when an entry is no longer needed, so that these lists only shrink.
ALLOWED: dict[tuple[str, str], str] = {
    ("keybearer._jose.jwks", "keybearer._io.drive"): (
        "the JWKS cache runs its own download with the sync and async drivers; the "
        "fetch belongs a layer up, or the cache takes the driver as a parameter "
        "(the JOSE branch is rebuilding the cache on joserfc)"
    ),
}

# Modules whose imports inside functions do not all say why they are lazy yet.
ALLOWED_UNEXPLAINED: dict[str, str] = {
    "keybearer._jose.jwks": "rebuilt on joserfc by the JOSE branch",
    "keybearer._jose.jws": "replaced by joserfc in the JOSE branch",
    "keybearer.verify": "the nonce check moves into _jose/ in the JOSE branch",
}


@dataclass(frozen=True)
class Import:
    """One imported module, as an absolute dotted name, and where it is imported."""

    module: str  # the importing module, e.g. keybearer._protocol.oauth
    target: str  # the imported module, e.g. keybearer._io.urls
    line: int
    end_line: int
    in_function: bool


def module_name(path: Path, root: Path = SRC) -> str:
    """The dotted name of the module at ``path`` in the package at ``root``."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        # A relative import: resolve it against the importing module's package.
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1])
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    yield source
    # `from keybearer import _config` imports the submodule keybearer._config.
    for alias in node.names:
        if alias.name != "*":
            yield f"{source}.{alias.name}"


def imports(path: Path, root: Path = SRC) -> Iterator[Import]:
    """Every module the file at ``path`` imports, at module level or in a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = module_name(path, root)
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, module, is_package):
                    end = child.end_lineno or child.lineno
                    yield Import(module, target, child.lineno, end, in_function)
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            yield from visit(child, inside)

    yield from visit(tree, False)


def _within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def layer_violations(found: Import) -> Iterator[str]:
    """The rules ``found`` breaks, as keys of the form used by ALLOWED."""
    for importer, forbidden in RULES:
        if not _within(found.module, f"{PACKAGE}.{importer}"):
            continue
        for layer in forbidden:
            if _within(found.target, f"{PACKAGE}.{layer}"):
                yield f"{PACKAGE}.{importer} may not import {PACKAGE}.{layer}"
    cli = f"{PACKAGE}.cli"
    if _within(found.target, cli) and not _within(found.module, cli):
        yield f"only {cli} imports {cli}"


def comment_lines(path: Path) -> tuple[set[int], set[int]]:
    """(lines holding a comment, lines that are nothing but a comment)."""
    anywhere: set[int] = set()
    alone: set[int] = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    with path.open("rb") as source:
        for token in tokenize.tokenize(source.readline):
            if token.type == tokenize.COMMENT:
                row = token.start[0]
                anywhere.add(row)
                if lines[row - 1].lstrip().startswith("#"):
                    alone.add(row)
    return anywhere, alone


def unexplained_lazy_imports(path: Path, found: list[Import]) -> Iterator[Import]:
    """Imports in function bodies with no reason: no comment on them or just above.

    A comment above the first of a run of import statements covers the run
    (statements separated by nothing but blank lines, as import groups are).
    """
    anywhere, alone = comment_lines(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    statements = sorted({(item.line, item.end_line) for item in found if item.in_function})
    explained_until = 0  # the last line of a run of imports that has its reason; 0: none
    for line, end in statements:
        on_it = any(row in anywhere for row in range(line, end + 1))
        gap = lines[explained_until : line - 1]
        continues_run = explained_until > 0 and not any(text.strip() for text in gap)
        if on_it or (line - 1) in alone or continues_run:
            explained_until = end
            continue
        explained_until = 0
        yield next(item for item in found if item.line == line)


def python_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_the_source_tree_is_where_this_test_looks() -> None:
    # Guards the rest: an empty scan would pass everything.
    names = {module_name(path) for path in python_files()}
    assert {"keybearer._protocol.oauth", "keybearer._io.drive", "keybearer._config"} <= names


def test_imports_point_down_and_lazy_imports_give_a_reason() -> None:
    problems: list[str] = []
    used: set[tuple[str, str]] = set()
    used_modules: set[str] = set()
    for path in python_files():
        found = list(imports(path))
        where = path.relative_to(SRC.parent)
        reported: set[tuple[int, str]] = set()
        for item in found:
            for rule in layer_violations(item):
                allowed = [
                    key for key in ALLOWED if key[0] == item.module and _within(item.target, key[1])
                ]
                used.update(allowed)
                if not allowed and (item.line, rule) not in reported:
                    # `from a.b import c` names a.b and a.b.c: one line per statement.
                    reported.add((item.line, rule))
                    problems.append(f"{where}:{item.line}: imports {item.target}: {rule}")
        for item in unexplained_lazy_imports(path, found):
            if item.module in ALLOWED_UNEXPLAINED:
                used_modules.add(item.module)
                continue
            problems.append(
                f"{where}:{item.line}: imports {item.target} inside a function without a "
                "'#' comment (on the line or the one above) saying why it is lazy"
            )
    for key in sorted(ALLOWED.keys() - used):
        problems.append(f"ALLOWED{key} is no longer needed: remove it from this test")
    for name in sorted(ALLOWED_UNEXPLAINED.keys() - used_modules):
        problems.append(
            f"ALLOWED_UNEXPLAINED[{name!r}] is no longer needed: remove it from this test"
        )
    assert not problems, f"{len(problems)} layering problem(s):\n" + "\n".join(problems)


def test_the_checker_sees_each_kind_of_violation(tmp_path: Path) -> None:
    # The scan above passes on a clean tree; this shows it would not pass a dirty one.
    source = (
        "from keybearer import _config\n"
        "from .. import cli\n"
        "def lazy():\n"
        "    import json\n"
        "    # a reason\n"
        "    import csv\n"
        "    import zlib\n"
        "\n"
        "    import gzip\n"
        "    x = 1\n"
        "    import bz2\n"
        "    import lzma  # a reason\n"
    )
    package = tmp_path / PACKAGE / "_protocol"
    package.mkdir(parents=True)
    path = package / "bad.py"
    path.write_text(source, encoding="utf-8")
    found = list(imports(path, tmp_path / PACKAGE))
    assert {item.module for item in found} == {f"{PACKAGE}._protocol.bad"}
    rules = sorted({rule for item in found for rule in layer_violations(item)})
    assert rules == [
        "keybearer._protocol may not import keybearer._config",
        "keybearer._protocol may not import keybearer.cli",
        "only keybearer.cli imports keybearer.cli",
    ]
    # json: no comment; csv's comment covers zlib and, across the blank line,
    # gzip; bz2 follows code, not an import, so it needs its own.
    assert [item.target for item in unexplained_lazy_imports(path, found)] == ["json", "bz2"]


def test_a_hash_in_a_string_is_no_comment(tmp_path: Path) -> None:
    path = tmp_path / "strings.py"
    path.write_text('s = "# not a comment"\n# a comment\nt = 1  # trailing\n', encoding="utf-8")
    assert comment_lines(path) == ({2, 3}, {2})
