"""USER_PASSWORD_AUTH sign-in and the challenge round trips that can follow it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from keybearer._challenges import Challenge, MfaSetup, _Answers
from keybearer._protocol import Flow
from keybearer._protocol.app_client import CognitoAppClient
from keybearer._protocol.cognito_idp import Purpose, outcome, parse, request, with_secret_hash
from keybearer._tokens import TokenSet, is_text
from keybearer.errors import CodeMismatchError, InvalidCredentialsError, ProtocolError


def login(
    config: CognitoAppClient, username: str, password: str, clock: Callable[[], float]
) -> Flow[TokenSet | Challenge]:
    """InitiateAuth with USER_PASSWORD_AUTH."""
    for value in (username, password):
        if not isinstance(value, str) or (not value.isascii() and not is_text(value)):
            raise InvalidCredentialsError(
                "the username or password contains characters that are not text (bytes "
                "the terminal could not decode?); type it again"
            )
    params = with_secret_hash(config, username, {"USERNAME": username, "PASSWORD": password})
    body = {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": config.client_id,
        "AuthParameters": params,
    }
    response = yield request(config, "InitiateAuth", body)
    return outcome(parse(response, Purpose.LOGIN), config=config, username=username, now=clock())


def respond(
    config: CognitoAppClient,
    challenge: Challenge,
    answers: _Answers,
    clock: Callable[[], float],
) -> Flow[TokenSet | Challenge]:
    """RespondToAuthChallenge with the answers the challenge asks for."""
    responses = with_secret_hash(
        config, challenge.username, {"USERNAME": challenge.username, **challenge.answer(answers)}
    )
    body = {
        "ClientId": config.client_id,
        "ChallengeName": challenge.name,
        "Session": challenge.session.get_secret_value(),
        "ChallengeResponses": responses,
    }
    response = yield request(config, "RespondToAuthChallenge", body)
    data = parse(response, Purpose.LOGIN)
    return outcome(data, config=config, username=challenge.username, now=clock())


@dataclass(frozen=True, repr=False)
class TotpSetup:
    """An authenticator-app secret being set up to answer an MFA_SETUP challenge.

    Show ``secret`` (or ``uri()`` as a QR code) to the user, then answer with
    ``client.respond(setup, code=...)``.
    """

    challenge: MfaSetup
    secret: SecretStr
    session: SecretStr

    def uri(self, issuer: str = "keybearer") -> str:
        """An ``otpauth://`` URI for authenticator apps. It contains the secret."""
        label = quote(f"{issuer}:{self.challenge.username}")
        return (
            f"otpauth://totp/{label}?secret={self.secret.get_secret_value()}&issuer={quote(issuer)}"
        )

    def __repr__(self) -> str:
        return f"TotpSetup(username={self.challenge.username!r})"

    __str__ = __repr__


def begin_totp_setup(config: CognitoAppClient, challenge: MfaSetup) -> Flow[TotpSetup]:
    """AssociateSoftwareToken with the challenge's session."""
    body = {"Session": challenge.session.get_secret_value()}
    response = yield request(config, "AssociateSoftwareToken", body)
    data = parse(response, Purpose.LOGIN)
    secret, session = data.get("SecretCode"), data.get("Session")
    if not isinstance(secret, str) or not isinstance(session, str):
        raise ProtocolError("Cognito's AssociateSoftwareToken answer lacks SecretCode or Session")
    return TotpSetup(challenge=challenge, secret=SecretStr(secret), session=SecretStr(session))


def finish_totp_setup(
    config: CognitoAppClient, setup: TotpSetup, code: str, clock: Callable[[], float]
) -> Flow[TokenSet | Challenge]:
    """VerifySoftwareToken, then answer MFA_SETUP with the session it returns."""
    verify_body: dict[str, Any] = {"Session": setup.session.get_secret_value(), "UserCode": code}
    response = yield request(config, "VerifySoftwareToken", verify_body)
    data = parse(response, Purpose.LOGIN)
    session = data.get("Session")
    if data.get("Status") != "SUCCESS" or not isinstance(session, str):
        raise CodeMismatchError("Cognito did not accept the authenticator code")
    username = setup.challenge.username
    body = {
        "ClientId": config.client_id,
        "ChallengeName": "MFA_SETUP",
        "Session": session,
        "ChallengeResponses": with_secret_hash(config, username, {"USERNAME": username}),
    }
    response = yield request(config, "RespondToAuthChallenge", body)
    return outcome(parse(response, Purpose.LOGIN), config=config, username=username, now=clock())
