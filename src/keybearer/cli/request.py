"""``keybearer get|post|put|patch|delete PATH``: one HTTP request to the API, signed in.

The status line goes to stderr, the body to stdout (JSON pretty-printed
unless ``--raw``). The token goes only to the ``api_url``'s host or one of
``api_hosts``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click
import httpx

from keybearer import explain
from keybearer._io.hosts import HostAllowList
from keybearer.cli import terminal
from keybearer.cli.app import State, profile_options
from keybearer.cli.exits import EXIT_API, CliError
from keybearer.cli.session import need_session
from keybearer.cli.wording import cli_words

__all__ = ["delete", "get", "patch", "post", "put", "request_command"]
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


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
    headers = []
    for raw in values:
        name, sep, value = raw.partition(":")
        name = name.strip()
        if not sep or not _TOKEN.fullmatch(name):
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
    if data is not None and json_body is not None:
        raise CliError("pass either -d/--data or --data-json, not both")
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
            raise CliError(f"--data-json: the body is not valid JSON ({exc})") from None
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
    need_session(client, profile)
    options: dict[str, Any] = {"timeout": settings.timeout}
    if settings.api_url:
        options["base_url"] = settings.api_url
    try:
        with (
            terminal.refusal_warning_held(),
            terminal.working(f"{method} {path}"),
            client.http(**options) as http,
        ):
            response = http.request(method, path, content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise CliError(f"could not reach the API: {_failure(exc)}", EXIT_API) from None

    ok = response.status_code < 400
    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    terminal.say(status, fg="green" if ok else "red", bold=True)
    diagnosis = explain(response)
    if diagnosis is not None:
        terminal.say(f"Why: {cli_words(diagnosis.cause)}.")
        terminal.say(f"Fix: {cli_words(diagnosis.fix)}.")
    body = response.content
    if body:
        if not raw and "json" in response.headers.get("content-type", ""):
            try:
                terminal.out(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
            except ValueError:
                click.echo(body, nl=False)
        else:
            click.echo(body, nl=False)
    if not ok:
        if response.status_code in (401, 403):
            terminal.say(f"For a checklist: keybearer doctor --api {path}", dim=True)
        raise click.exceptions.Exit(EXIT_API)


def _failure(exc: httpx.HTTPError) -> str:
    """The URL's host and port, then what went wrong: "host:port (ConnectError: ...)"."""
    try:
        url = exc.request.url
    except RuntimeError:  # an error raised before any request was made
        return f"{type(exc).__name__}: {exc}"
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.scheme}://{url.host}:{port} ({type(exc).__name__}: {exc})"


def request_command(method: str) -> click.Command:
    @click.command(
        name=method.lower(),
        help=f"Send {method} PATH to the profile's api_url, signed in.\n\n"
        "PATH is relative to api_url (/pets, /pets?limit=2) or a full URL on an allowed "
        "host. The status goes to stderr, the body to stdout (JSON pretty-printed). "
        "Exit code 1 for a status of 400 or more.",
    )
    @profile_options
    @click.argument("path")
    @click.option("-d", "--data", metavar="TEXT|@FILE|@-", help="Request body, as is.")
    @click.option(
        "--data-json",
        "json_body",
        metavar="JSON|@FILE|@-",
        help="JSON request body (sets Content-Type and Accept to application/json).",
    )
    @click.option("--json", "old_json_body", metavar="JSON|@FILE|@-", hidden=True)
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
        old_json_body: str | None,
        headers: tuple[str, ...],
        raw: bool,
    ) -> None:
        if old_json_body is not None:
            terminal.warn(
                "--json (the request body) is now --data-json; the old spelling will go in a "
                "later release"
            )
            if json_body is not None:
                raise CliError("pass the JSON body once, with --data-json")
            json_body = old_json_body
        _send(state, method, path, data, json_body, headers, raw)

    return command


get = request_command("GET")
post = request_command("POST")
put = request_command("PUT")
patch = request_command("PATCH")
delete = request_command("DELETE")
