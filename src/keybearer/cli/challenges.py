"""Answering Cognito's sign-in challenges at the terminal (or from stdin in a script).

A new password, an MFA code, the choice of a second factor, setting up an
authenticator app, a custom challenge: each is asked for as it comes.
"""

from __future__ import annotations

import click

from keybearer._challenges import (
    Challenge,
    CustomChallenge,
    EmailOtp,
    MfaSetup,
    NewPasswordRequired,
    SelectChallenge,
    SelectMfaType,
    SmsMfa,
    SmsOtp,
    SoftwareTokenMfa,
)
from keybearer._client import OAuthClient
from keybearer._tokens import TokenSet
from keybearer.cli import terminal
from keybearer.cli.exits import CliError
from keybearer.errors import LoginError

__all__ = ["answer", "choose", "new_password"]

_CODES = ("EMAIL_OTP", "SMS_OTP")


def new_password() -> str:
    """The new password: typed twice without echo, or one line of stdin."""
    if terminal.stdin_is_tty():
        return terminal.ask_twice(
            "New password", "Repeat the new password", what="the new password"
        )
    return terminal.read_line("the new password")


def answer(client: OAuthClient, challenge: Challenge) -> TokenSet | Challenge:
    """Answer one challenge by asking the person (or reading stdin in a script)."""
    if isinstance(challenge, NewPasswordRequired):
        terminal.say("You signed in with a temporary password: choose a new one.", bold=True)
        chosen = new_password()
        attributes = {
            name: terminal.ask(f"Your {name}", what=f"the {name} attribute")
            for name in challenge.required_attributes
        }
        return client.respond(challenge, new_password=chosen, attributes=attributes or None)
    if isinstance(challenge, (SoftwareTokenMfa, SmsMfa, EmailOtp, SmsOtp)):
        labels: dict[type[Challenge], str] = {
            SoftwareTokenMfa: "Code from your authenticator app",
            SmsMfa: "Code sent by SMS",
            EmailOtp: "Code sent by email",
            SmsOtp: "Code sent by SMS",
        }
        label = labels[type(challenge)]
        if challenge.destination:
            label += f" to {challenge.destination}"
        code = terminal.ask(label, what="the code").strip()
        return client.respond(challenge, code=code)
    if isinstance(challenge, SelectMfaType):
        options = challenge.options or ("SOFTWARE_TOKEN_MFA", "SMS_MFA")
        if terminal.stdin_is_tty():
            choice = terminal.ask_until(
                f"Second factor to use ({', '.join(options)})",
                lambda answer: None if answer in options else f"choose one of {', '.join(options)}",
                what="second factor",
                default=options[0],
            )
        else:
            choice = terminal.read_line("the MFA type (" + " or ".join(options) + ")").strip()
        return client.respond(challenge, mfa=choice)
    if isinstance(challenge, MfaSetup):
        return _setup_totp(client, challenge)
    if isinstance(challenge, SelectChallenge):
        return choose(client, challenge)
    if isinstance(challenge, CustomChallenge):
        answer = terminal.ask("Answer to the sign-in challenge", what="the answer", hidden=True)
        return client.respond(challenge, answer=answer)
    raise LoginError(
        f"Cognito asks for the {challenge.name} challenge, which keybearer login cannot "
        "answer; sign in with the hosted UI (keybearer login --browser) instead"
    )


def _setup_totp(client: OAuthClient, challenge: MfaSetup) -> TokenSet | Challenge:
    if challenge.options and "SOFTWARE_TOKEN_MFA" not in challenge.options:
        raise LoginError(
            "the user pool wants MFA set up, but only by "
            + ", ".join(challenge.options)
            + "; set it up in the hosted UI (keybearer login --browser)"
        )
    if not (terminal.stdin_is_tty() and terminal.stderr_is_tty()):
        raise CliError(
            "this account must set up an authenticator app first, which shows a secret key: "
            "run keybearer login --password in a terminal"
        )
    setup = client.begin_totp_setup(challenge)
    terminal.say(
        "This account must set up an authenticator app (TOTP) before it can sign in.", bold=True
    )
    terminal.say(
        "The next lines show the app's secret key. Anyone who sees it can make sign-in codes "
        "for this account: make sure nobody can see your screen and that this terminal is "
        "not being recorded or logged.",
        fg="yellow",
    )
    click.confirm("Show the secret key now?", default=True, abort=True, err=True)
    terminal.say(f"  {setup.uri(issuer='keybearer')}")
    terminal.say(f"  secret key: {setup.secret.get_secret_value()}")
    terminal.say("Add it to your authenticator app (paste the otpauth:// link, or type the key).")
    code = terminal.ask("Code from the app", what="the code").strip()
    return client.respond(setup, code=code)


def choose(
    client: OAuthClient, challenge: SelectChallenge, *, codes_only: bool = False
) -> TokenSet | Challenge:
    """Pick how to sign in from what Cognito offers (USER_AUTH); ask for the password if needed.

    Passkeys are left out (they need the browser); ``codes_only`` leaves out the
    password too (``keybearer login --passwordless``).
    """
    offered = [o for o in challenge.options if o != "WEB_AUTHN"]
    if codes_only:
        offered = [o for o in offered if o in _CODES]
    if not offered:
        wanted = "an emailed or texted code" if codes_only else "anything but a passkey"
        raise LoginError(
            f"Cognito offers this user no sign-in by {wanted}; use keybearer login --browser "
            "(managed login supports passkeys)"
        )
    if len(offered) == 1:
        choice = offered[0]
    elif terminal.stdin_is_tty():
        choice = click.prompt(
            "Sign in with", type=click.Choice(offered), default=offered[0], err=True
        )
    else:
        choice = terminal.read_line("the sign-in choice (" + " or ".join(offered) + ")").strip()
    if choice in ("PASSWORD", "PASSWORD_SRP"):
        password = terminal.ask("Password", what="the password", hidden=True)
        return client.respond(challenge, answer=choice, password=password)
    return client.respond(challenge, answer=choice)
