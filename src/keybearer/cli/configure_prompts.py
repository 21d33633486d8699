"""``keybearer configure`` in a terminal: each answer is checked as it is typed.

A mistyped pool id is reported at once and asked again (up to
:data:`~keybearer.cli.terminal.MAX_TRIES` times), so no answer typed before it
is lost. Questions that do not apply are not asked: without a hosted UI domain
there is no browser sign-in, so neither a redirect URI nor scopes.
"""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from keybearer._config import _CLIENT_ID
from keybearer._profiles import ProfileSettings
from keybearer.cli import terminal

__all__ = ["DEFAULT_REDIRECT", "ask_settings", "setting_problem", "shown"]

DEFAULT_REDIRECT = "http://localhost:8765/callback"

_PROMPTS = {
    "client_id": "App client id",
    "domain": "Hosted UI domain (empty: none, password sign-in only)",
    "redirect_uri": "Redirect URI registered for the app client",
    "scopes": "Scopes, space-separated",
    "api_url": "API URL (empty: none)",
    "send": "Token the API expects (id or access)",
    "password_flow": "Password sign-in: srp (console-default app clients) or user_password",
}
_OPTIONAL = frozenset({"domain", "redirect_uri", "api_url"})


def shown(value: Any) -> str:
    """A setting's value as it is typed on the command line."""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def setting_problem(key: str, text: str, *, cognito: bool) -> str | None:
    """What is wrong with ``text`` as the value of setting ``key``, or None if nothing.

    The same checks as the saved profile gets, one field at a time, in the
    words a person at the terminal reads (the setting, not a Python name).
    """
    value: Any = text.split() if key == "scopes" else text
    try:
        ProfileSettings.model_validate({key: value})
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        message = first["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
        return f"{key.replace('_', ' ')}: {message}"
    if key == "client_id" and cognito and not _CLIENT_ID.match(text):
        return (
            "client id: must be the app client id from the Cognito console (1-128 letters, "
            f"digits or underscores); got {text!r}"
        )
    return None


def _ask_setting(key: str, values: dict[str, Any]) -> None:
    """Ask for one setting, keep it in ``values`` (removed when left empty)."""
    default = values.get(key)
    if key == "redirect_uri" and default is None:
        default = DEFAULT_REDIRECT
    if key == "scopes" and default is None:
        default = "openid"
    if key == "send" and default is None:
        default = "id"
    if key == "password_flow" and default is None:
        default = "user_password"
    optional = key in _OPTIONAL
    cognito = "issuer" not in values

    def check(text: str) -> str | None:
        if not text:
            return None if optional else f"{key.replace('_', ' ')}: an answer is needed"
        return setting_problem(key, text, cognito=cognito)

    text = terminal.ask_until(
        _PROMPTS[key],
        check,
        what=key.replace("_", " "),
        default=shown(default) if default is not None else ("" if optional else None),
        show_default=default is not None,
    )
    if not text:
        values.pop(key, None)
    else:
        values[key] = text.split() if key == "scopes" else text


def _ask_provider(values: dict[str, Any]) -> None:
    def check(text: str) -> str | None:
        if not text:
            return "user pool id: an answer is needed"
        key = "issuer" if text.startswith(("https://", "http://")) else "user_pool_id"
        return setting_problem(key, text, cognito=key == "user_pool_id")

    answer = terminal.ask_until(
        "User pool id (or an OpenID Connect issuer URL)",
        check,
        what="user pool id",
        default=values.get("user_pool_id") or values.get("issuer"),
    )
    if answer.startswith(("https://", "http://")):
        values["issuer"] = answer
        values.pop("user_pool_id", None)
        values.pop("domain", None)
    else:
        values["user_pool_id"] = answer
        values.pop("issuer", None)


def ask_settings(values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The main settings, asked one by one with the current values as defaults.

    Returns the new values and the client secret typed (None: keep or none).
    """
    values = dict(values)
    _ask_provider(values)
    _ask_setting("client_id", values)
    oidc = "issuer" in values
    if not oidc:
        _ask_setting("domain", values)
    if oidc or values.get("domain"):
        # Browser sign-in: its callback and the scopes it asks for.
        _ask_setting("redirect_uri", values)
        _ask_setting("scopes", values)
    _ask_setting("api_url", values)
    _ask_setting("send", values)
    if not oidc:
        _ask_setting("password_flow", values)
        remember = click.confirm(
            "Remember this device, so MFA is asked once (if the pool remembers devices)?",
            default=bool(values.get("remember_device")),
            err=True,
        )
        if remember:
            values["remember_device"] = True
        else:
            values.pop("remember_device", None)
    hint = "Enter: keep the stored one" if values.get("confidential") else "Enter: none"
    secret: str = click.prompt(
        f"App client secret ({hint})", default="", show_default=False, hide_input=True, err=True
    )
    return values, secret.strip() or None
