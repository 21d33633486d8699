"""Typed Cognito challenges: what Cognito wants answered before it hands out tokens.

``login_password`` returns one of these instead of a ``TokenSet`` when Cognito
answers with a challenge; ``OAuthClient.respond(challenge, ...)`` answers it.
Each class says which keyword of ``respond`` it needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import SecretStr

from keybearer._devices import DeviceSecret
from keybearer.errors import ChallengeAnswerError, ProtocolError


@dataclass(frozen=True, repr=False)
class Challenge:
    """A challenge Cognito sent back. ``session`` is secret and never shown.

    ``username`` is the username Cognito knows (``ChallengeParameters.USERNAME``),
    which every answer and its SECRET_HASH must use.
    """

    name: str
    session: SecretStr
    username: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    available_challenges: tuple[str, ...] = ()
    login_name: str = field(default="", compare=False)
    """The name typed at sign-in (a remembered device is filed under it)."""
    device: DeviceSecret | None = field(default=None, compare=False)
    """The remembered device this sign-in uses; its repr is redacted."""

    needs: ClassVar[str] = "responses={...} with the raw ChallengeResponses keys"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, username={self.username!r})"

    __str__ = __repr__

    def answer(self, answers: _Answers) -> dict[str, str]:
        """The ChallengeResponses keys for this challenge (without USERNAME/SECRET_HASH)."""
        if not answers.responses:
            raise ChallengeAnswerError(
                f"Cognito's {self.name} challenge is not one keybearer knows; answer it with "
                f"{self.needs}"
            )
        return dict(answers.responses)


@dataclass(frozen=True)
class _Answers:
    code: str | None = field(default=None, repr=False)
    new_password: str | None = field(default=None, repr=False)
    attributes: Mapping[str, str] | None = None
    mfa: str | None = None
    answer: str | None = field(default=None, repr=False)
    responses: Mapping[str, str] | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)


def _need(value: str | None, keyword: str, challenge: Challenge) -> str:
    if not value:
        raise ChallengeAnswerError(
            f"answer the {challenge.name} challenge with respond(challenge, {keyword}=...)"
        )
    return value


@dataclass(frozen=True, repr=False)
class NewPasswordRequired(Challenge):
    """The user signed in with a temporary password and must choose a new one.

    Answer with ``new_password=`` and, for every name in ``required_attributes``,
    a value in ``attributes={name: value}``.
    """

    required_attributes: tuple[str, ...] = ()
    needs: ClassVar[str] = "new_password=... (and attributes={...} if required_attributes)"

    def answer(self, answers: _Answers) -> dict[str, str]:
        extra = {"NEW_PASSWORD": _need(answers.new_password, "new_password", self)}
        attributes = dict(answers.attributes or {})
        missing = [name for name in self.required_attributes if not attributes.get(name)]
        if missing:
            raise ChallengeAnswerError(
                "the NEW_PASSWORD_REQUIRED challenge also needs these user attributes: "
                + ", ".join(missing)
                + "; pass attributes={name: value}"
            )
        for name, value in attributes.items():
            extra[f"userAttributes.{name}"] = value
        return extra


@dataclass(frozen=True, repr=False)
class CodeChallenge(Challenge):
    """Any challenge answered with a one-time code: ``respond(challenge, code=...)``."""

    response_key: ClassVar[str] = ""
    needs: ClassVar[str] = "code='123456'"

    @property
    def destination(self) -> str | None:
        """Where the code was sent, masked by Cognito (e.g. ``a***@e***``)."""
        return self.parameters.get("CODE_DELIVERY_DESTINATION")

    def answer(self, answers: _Answers) -> dict[str, str]:
        return {self.response_key: _need(answers.code, "code", self)}


@dataclass(frozen=True, repr=False)
class SoftwareTokenMfa(CodeChallenge):
    """Enter the current code from the user's authenticator app (``code=``)."""

    response_key: ClassVar[str] = "SOFTWARE_TOKEN_MFA_CODE"


@dataclass(frozen=True, repr=False)
class SmsMfa(CodeChallenge):
    """Enter the code Cognito sent by SMS (``code=``)."""

    response_key: ClassVar[str] = "SMS_MFA_CODE"


@dataclass(frozen=True, repr=False)
class EmailOtp(CodeChallenge):
    """Enter the code Cognito sent by email (``code=``)."""

    response_key: ClassVar[str] = "EMAIL_OTP_CODE"


@dataclass(frozen=True, repr=False)
class SmsOtp(CodeChallenge):
    """Enter the one-time code Cognito sent by SMS (``code=``)."""

    response_key: ClassVar[str] = "SMS_OTP_CODE"


@dataclass(frozen=True, repr=False)
class SelectMfaType(Challenge):
    """Choose one of ``options`` (e.g. ``"SOFTWARE_TOKEN_MFA"``) with ``mfa=``."""

    options: tuple[str, ...] = ()
    needs: ClassVar[str] = "mfa='SOFTWARE_TOKEN_MFA' (one of challenge.options)"

    def answer(self, answers: _Answers) -> dict[str, str]:
        choice = _need(answers.mfa, "mfa", self)
        if self.options and choice not in self.options:
            raise ChallengeAnswerError(
                f"mfa={choice!r} is not offered; choose one of: {', '.join(self.options)}"
            )
        return {"ANSWER": choice}


@dataclass(frozen=True, repr=False)
class MfaSetup(Challenge):
    """The pool requires MFA and the user has none yet.

    ``options`` lists what can be set up (``MFAS_CAN_SETUP``). For an
    authenticator app: ``setup = client.begin_totp_setup(challenge)``, show
    ``setup.secret`` or its ``uri()`` to the user, then
    ``client.respond(setup, code=...)`` with a code from the app.
    """

    options: tuple[str, ...] = ()
    needs: ClassVar[str] = "client.begin_totp_setup(challenge), then respond(setup, code=...)"

    def answer(self, answers: _Answers) -> dict[str, str]:
        raise ChallengeAnswerError(
            "answer MFA_SETUP with setup = client.begin_totp_setup(challenge), then "
            "client.respond(setup, code=...)"
        )


@dataclass(frozen=True, repr=False)
class CustomChallenge(Challenge):
    """A challenge defined by the pool's Lambda triggers; answer with ``answer=``."""

    needs: ClassVar[str] = "answer='...'"

    def answer(self, answers: _Answers) -> dict[str, str]:
        extra = {"ANSWER": _need(answers.answer, "answer", self)}
        extra.update(answers.responses or {})
        return extra


@dataclass(frozen=True, repr=False)
class SelectChallenge(Challenge):
    """Choice-based sign-in (``USER_AUTH``): pick one of ``options`` to go on.

    ``options`` are Cognito's ``AvailableChallenges`` (``EMAIL_OTP``,
    ``SMS_OTP``, ``PASSWORD``, ``PASSWORD_SRP``, ``WEB_AUTHN``). Answer with
    ``respond(challenge, answer="EMAIL_OTP")`` (Cognito sends a code, and the
    next challenge asks for it) or ``respond(challenge, password=...)`` (the
    password, by SRP when offered and ``password_flow="srp"``).
    ``WEB_AUTHN`` (passkeys) needs a browser: use ``login_browser()``.
    """

    needs: ClassVar[str] = "answer='EMAIL_OTP' (one of challenge.options), or password=..."

    @property
    def options(self) -> tuple[str, ...]:
        """The ways Cognito offers to go on (``AvailableChallenges``)."""
        return self.available_challenges

    def choice(self, answers: _Answers, prefer_srp: bool) -> str:
        """The option the answers pick; the password picks PASSWORD_SRP or PASSWORD."""
        choice = answers.answer
        if not choice and answers.password:
            srp_first = ("PASSWORD_SRP", "PASSWORD") if prefer_srp else ("PASSWORD", "PASSWORD_SRP")
            offered = [name for name in srp_first if name in self.options or not self.options]
            choice = offered[0] if offered else "PASSWORD"
        choice = _need(choice, "answer", self)
        if choice == "WEB_AUTHN":
            raise ChallengeAnswerError(WEB_AUTHN_HELP)
        if self.options and choice not in self.options:
            raise ChallengeAnswerError(
                f"answer={choice!r} is not offered; choose one of: {', '.join(self.options)}"
            )
        if choice in ("PASSWORD", "PASSWORD_SRP") and not answers.password:
            raise ChallengeAnswerError(
                f"answer the {choice} choice with respond(challenge, password=...)"
            )
        return choice


WEB_AUTHN_HELP = (
    "Cognito offers a passkey (WEB_AUTHN), which needs a browser: sign in with "
    "client.login_browser() (managed login supports passkeys), or choose another option"
)


_CLASSES: dict[str, type[Challenge]] = {
    "SELECT_CHALLENGE": SelectChallenge,
    "NEW_PASSWORD_REQUIRED": NewPasswordRequired,
    "SOFTWARE_TOKEN_MFA": SoftwareTokenMfa,
    "SMS_MFA": SmsMfa,
    "EMAIL_OTP": EmailOtp,
    "SMS_OTP": SmsOtp,
    "SELECT_MFA_TYPE": SelectMfaType,
    "MFA_SETUP": MfaSetup,
    "CUSTOM_CHALLENGE": CustomChallenge,
}


def _json_list(raw: object) -> tuple[str, ...]:
    # Cognito sends these lists as JSON text inside a string; be lenient with
    # a real JSON array too (moto sends one).
    if isinstance(raw, list):
        value: object = raw
    elif isinstance(raw, str) and raw:
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return ()
    else:
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def challenge_from_response(body: Mapping[str, Any], *, username: str) -> Challenge:
    """The typed challenge in an InitiateAuth/RespondToAuthChallenge answer."""
    name = body.get("ChallengeName")
    session = body.get("Session")
    if not isinstance(name, str) or not isinstance(session, str) or not session:
        raise ProtocolError("Cognito sent a challenge without a name or a session")
    raw = body.get("ChallengeParameters")
    raw_parameters: dict[str, Any] = raw if isinstance(raw, dict) else {}
    parameters = {
        k: v for k, v in raw_parameters.items() if isinstance(k, str) and isinstance(v, str)
    }
    available = body.get("AvailableChallenges")
    common: dict[str, Any] = {
        "name": name,
        "session": SecretStr(session),
        # Cognito checks later calls against its own username, not the alias typed.
        "username": parameters.get("USERNAME") or parameters.get("USER_ID_FOR_SRP") or username,
        "parameters": parameters,
        "available_challenges": tuple(a for a in available if isinstance(a, str))
        if isinstance(available, list)
        else (),
    }
    cls = _CLASSES.get(name, Challenge)
    if cls is NewPasswordRequired:
        required = tuple(
            item.removeprefix("userAttributes.")
            for item in _json_list(raw_parameters.get("requiredAttributes"))
        )
        return NewPasswordRequired(**common, required_attributes=required)
    if cls is SelectMfaType:
        return SelectMfaType(**common, options=_json_list(raw_parameters.get("MFAS_CAN_CHOOSE")))
    if cls is MfaSetup:
        return MfaSetup(**common, options=_json_list(raw_parameters.get("MFAS_CAN_SETUP")))
    return cls(**common)


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
