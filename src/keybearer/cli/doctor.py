"""``keybearer doctor``: check a profile end to end and say why the API refuses the token."""

from __future__ import annotations

import sys
from typing import Any

import click

from keybearer.cli import terminal
from keybearer.cli.app import State, profile_options
from keybearer.cli.doctor_report import Report
from keybearer.cli.wording import cli_words

__all__ = ["doctor", "render"]


# -- the text a person reads --

_STYLES: dict[str, dict[str, Any]] = {
    "ok": {"fg": "green", "bold": True},
    "warn": {"fg": "yellow", "bold": True},
    "fail": {"fg": "red", "bold": True},
    "skip": {"dim": True},
}


_RICH_STYLES = {"ok": "bold green", "warn": "bold yellow", "fail": "bold red", "skip": "dim"}


def _show(report: Report) -> None:
    """On a terminal: the checklist as a table whose details wrap, then the rest."""
    terminal.table(
        [[check.status, check.name, cli_words(check.detail)] for check in report.checks],
        styles=[[_RICH_STYLES[check.status], "", ""] for check in report.checks],
    )
    console = terminal.console(sys.stdout)
    # The lines after the checklist: the diagnosis and the summary, wrapped.
    for line in render(report, colour=False)[len(report.checks) :]:
        console.print(line, markup=False)


def render(report: Report, *, colour: bool) -> list[str]:
    """The checklist, then the diagnosis and a summary, as lines for stdout."""

    def style(text: str, **styles: Any) -> str:
        return click.style(text, **styles) if colour else text

    width = max((len(check.name) for check in report.checks), default=0)
    lines = []
    for check in report.checks:
        status = style(f"{check.status:<4}", **_STYLES[check.status])
        lines.append(f"{status}  {check.name:<{width}}  {cli_words(check.detail)}")
    diagnosis = report.diagnosis
    if diagnosis is not None:
        lines.append("")
        lines.append(
            style(f"Why the API answered {diagnosis.status}: ", bold=True)
            + cli_words(diagnosis.cause)
        )
        lines.append(style("Fix: ", bold=True) + cli_words(diagnosis.fix))
        message = diagnosis.details.get("api_message")
        if message:
            lines.append(style("The API said: ", bold=True) + str(message))
    failed = sum(check.status == "fail" for check in report.checks)
    warned = sum(check.status == "warn" for check in report.checks)
    lines.append("")
    if failed:
        summary = f"{failed} check{'s' * (failed != 1)} failed"
        if warned:
            summary += f", {warned} warning{'s' * (warned != 1)}"
        lines.append(style(summary + ".", fg="red", bold=True))
        if diagnosis is not None or report.get("api") is not None:
            lines.append(
                'More on each cause: "Why do I get 401 from API Gateway?" in keybearer\'s docs '
                "(docs/why-401.md)."
            )
    elif warned:
        lines.append(style(f"All checks passed, {warned} with a warning.", fg="yellow"))
    else:
        lines.append(style("All checks passed.", fg="green"))
    return lines


@click.command()
@profile_options
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
    # Lazy: the checks import the verifier, the JWKS flow and joserfc's wrappers,
    # which no other command needs; `keybearer token` should not pay for them.
    from keybearer.cli.doctor_checks import run_doctor

    report = run_doctor(state.resolve, api=api)
    if as_json:
        terminal.print_json(report.as_dict())
    elif terminal.stdout_is_tty():
        _show(report)
    else:
        colour = terminal.colour(sys.stdout)
        for line in render(report, colour=colour):
            click.echo(line, color=colour)
    if report.exit_code:
        raise click.exceptions.Exit(report.exit_code)
