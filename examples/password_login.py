"""Sign in to a Cognito user pool with a username and password, then call your API.

Configure it with environment variables::

    export COGNITO_USER_POOL_ID=us-east-1_AbCdEf123
    export COGNITO_CLIENT_ID=1example23456789
    export API_URL=https://abc123.execute-api.us-east-1.amazonaws.com/prod
    # optional:
    export COGNITO_CLIENT_SECRET=...        # a confidential app client
    export API_PATH=/pets                   # what to GET (default: /pets)
    export KEYBEARER_TOKEN_FILE=~/.config/myapp/tokens.json   # no OS keyring here
    export COGNITO_IDP_URL=https://...      # a VPC endpoint instead of AWS's
    export COGNITO_PASSWORD_FLOW=srp        # console-default app clients (USER_SRP_AUTH)
    export KEYBEARER_REMEMBER_DEVICE=1      # MFA once per device, if the pool remembers devices

    python examples/password_login.py            # sign in if needed, call the API
    python examples/password_login.py --logout   # sign out, forget the tokens

The app client must allow ``ALLOW_USER_PASSWORD_AUTH``, or ``ALLOW_USER_SRP_AUTH``
with ``COGNITO_PASSWORD_FLOW=srp`` (the password then never leaves the machine).
The first run asks for the username and password (the password is never echoed)
and answers whatever Cognito asks next: a new password, an MFA code, a choice of
MFA, setting up an authenticator app. The tokens go to the OS keyring, so the
next run finds them there and calls the API without asking anything; keybearer
refreshes them when they are about to expire.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Mapping

import keybearer
from keybearer import errors

#: How many times to ask again after a refused password or code.
ATTEMPTS = 3


def client_from_env(env: Mapping[str, str] = os.environ) -> keybearer.OAuthClient:
    """An ``OAuthClient`` configured from the environment variables in the docstring."""
    try:
        pool_id, client_id = env["COGNITO_USER_POOL_ID"], env["COGNITO_CLIENT_ID"]
    except KeyError as missing:
        raise SystemExit(f"set the environment variable {missing} (see --help)") from None
    token_file = env.get("KEYBEARER_TOKEN_FILE")
    return keybearer.OAuthClient.cognito(
        pool_id,
        client_id,
        client_secret=env.get("COGNITO_CLIENT_SECRET") or None,
        # The default store is the OS keyring; a FileStore is plain text, mode 0600.
        store=keybearer.FileStore(token_file) if token_file else None,
        idp_url=env.get("COGNITO_IDP_URL") or None,
        password_flow="srp" if env.get("COGNITO_PASSWORD_FLOW") == "srp" else "user_password",
        remember_device=env.get("KEYBEARER_REMEMBER_DEVICE", "") in ("1", "true", "yes"),
    )


def sign_in(client: keybearer.OAuthClient) -> keybearer.TokenSet:
    """Ask for a username and password and answer Cognito's challenges until signed in."""
    username = input("Username: ").strip()
    result = log_in(client, username)
    while not isinstance(result, keybearer.TokenSet):
        result = answer(client, result)
    return result


def log_in(
    client: keybearer.OAuthClient, username: str
) -> keybearer.TokenSet | keybearer.Challenge:
    attempts_left = ATTEMPTS
    while True:
        password = getpass.getpass("Password: ")  # not echoed
        try:
            return client.login_password(username, password)
        except errors.InvalidCredentialsError as exc:  # the message never holds the password
            attempts_left -= 1
            if not attempts_left:
                raise
            print(f"Sign-in refused: {exc}", file=sys.stderr)


def answer(
    client: keybearer.OAuthClient, challenge: keybearer.Challenge
) -> keybearer.TokenSet | keybearer.Challenge:
    """Answer one challenge interactively; returns the tokens or the next challenge."""
    if isinstance(challenge, keybearer.NewPasswordRequired):
        return new_password(client, challenge)
    if isinstance(challenge, keybearer.SoftwareTokenMfa):
        return with_code(client, challenge, "Code from your authenticator app: ")
    if isinstance(challenge, (keybearer.SmsMfa, keybearer.SmsOtp, keybearer.EmailOtp)):
        where = challenge.destination or "you"
        return with_code(client, challenge, f"Code Cognito sent to {where}: ")
    if isinstance(challenge, keybearer.SelectMfaType):
        return select_mfa(client, challenge)
    if isinstance(challenge, keybearer.MfaSetup):
        return set_up_totp(client, challenge)
    if isinstance(challenge, keybearer.CustomChallenge):
        print(f"Your pool asks a custom question: {dict(challenge.parameters)}")
        return client.respond(challenge, answer=getpass.getpass("Answer: "))
    raise SystemExit(
        f"Cognito asks for the {challenge.name} challenge, which this script does not "
        f"handle; answer it with client.respond(challenge, {challenge.needs})"
    )


def new_password(
    client: keybearer.OAuthClient, challenge: keybearer.NewPasswordRequired
) -> keybearer.TokenSet | keybearer.Challenge:
    print("You signed in with a temporary password; choose a new one.")
    attributes = {name: input(f"{name}: ").strip() for name in challenge.required_attributes}
    attempts_left = ATTEMPTS
    while True:
        password = getpass.getpass("New password: ")
        if password != getpass.getpass("New password again: "):
            print("The two passwords differ; once more.", file=sys.stderr)
            continue
        try:
            return client.respond(challenge, new_password=password, attributes=attributes)
        except errors.InvalidPasswordError as exc:  # the pool's password policy said no
            attempts_left -= 1
            if not attempts_left:
                raise
            print(f"Not accepted: {exc}", file=sys.stderr)


def with_code(
    client: keybearer.OAuthClient, challenge: keybearer.Challenge, prompt: str
) -> keybearer.TokenSet | keybearer.Challenge:
    # A one-time code is short-lived, so it is echoed like an authenticator shows it.
    return client.respond(challenge, code=input(prompt).strip())


def select_mfa(
    client: keybearer.OAuthClient, challenge: keybearer.SelectMfaType
) -> keybearer.TokenSet | keybearer.Challenge:
    labels = {"SOFTWARE_TOKEN_MFA": "authenticator app", "SMS_MFA": "text message"}
    options = challenge.options or ("SOFTWARE_TOKEN_MFA", "SMS_MFA")
    for number, option in enumerate(options, 1):
        print(f"  {number}. {labels.get(option, option)}")
    while True:
        choice = input(f"Second factor [1-{len(options)}]: ").strip()
        if choice.isdigit() and 1 <= int(choice) <= len(options):
            return client.respond(challenge, mfa=options[int(choice) - 1])


def set_up_totp(
    client: keybearer.OAuthClient, challenge: keybearer.MfaSetup
) -> keybearer.TokenSet | keybearer.Challenge:
    # Cognito lists what can be set up; try an authenticator app if it did not say.
    if challenge.options and "SOFTWARE_TOKEN_MFA" not in challenge.options:
        raise SystemExit(
            f"Your pool requires MFA set-up of a kind this script cannot do: {challenge.options}"
        )
    print("Your user pool requires an authenticator app (TOTP) and you have none yet.")
    print()
    print("WARNING: the next line contains the secret of your second factor. Anyone who")
    print("sees it can generate your codes. Make sure nobody is watching your screen,")
    print("that this terminal is not recorded or shared, and clear it afterwards.")
    if input("Show it now? [y/N] ").strip().lower() not in ("y", "yes"):
        raise SystemExit("MFA set-up cancelled; sign in again when you are ready.")
    setup = client.begin_totp_setup(challenge)
    print(f"\n    {setup.uri(issuer='keybearer-example')}\n")
    print("Add it to your authenticator app (paste it, or make a QR code of it).")
    return client.respond(setup, code=input("Then enter the app's current code: ").strip())


def call_api(client: keybearer.OAuthClient, api_url: str, path: str) -> int:
    with client.http(base_url=api_url, timeout=30) as http:
        response = http.get(path)
    print(f"GET {path} -> {response.status_code}")
    print(response.text[:2000])
    return 0 if response.is_success else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logout", action="store_true", help="sign out and forget the tokens")
    args = parser.parse_args(argv)

    with client_from_env() as client:
        try:
            if args.logout:
                revoked = client.logout()
                print("Signed out." if revoked else "Signed out here; Cognito was not reached.")
                return 0
            api_url = os.environ.get("API_URL")
            if not api_url:
                raise SystemExit("set the environment variable API_URL (see --help)")

            tokens = client.tokens  # from the keyring, if an earlier run signed in
            if tokens is None:
                tokens = sign_in(client)
                print(f"Signed in as {tokens.username}; the session is saved for the next run.")
            else:
                print(f"Using the saved session of {tokens.username}: no sign-in needed.")

            path = os.environ.get("API_PATH", "/pets")
            try:
                return call_api(client, api_url, path)
            except errors.LoginRequiredError as exc:
                # The refresh token expired or was revoked: sign in again, once.
                print(f"The saved session has ended ({exc}); please sign in again.")
                sign_in(client)
                return call_api(client, api_url, path)
        except errors.KeyringUnavailableError as exc:
            raise SystemExit(f"{exc}\n(or set KEYBEARER_TOKEN_FILE=<path>)") from None
        except errors.KeybearerError as exc:  # every keybearer message is safe to show
            raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
