"""The real server side of SRP, remembered devices and ``USER_AUTH`` for :class:`LocalCognito`.

moto answers ``USER_SRP_AUTH`` with random ``SRP_B``/``SALT`` and accepts any
``PASSWORD_CLAIM_SIGNATURE``; it has no ``ConfirmDevice``, no device SRP and
no ``USER_AUTH``. :class:`AuthServer` sits in front of moto and does these the
way Cognito does:

- a verifier ``v = g^x`` is derived once per user and password (the password
  itself is moto's), with a random salt; ``PASSWORD_VERIFIER`` carries a real
  ``B = kv + g^b``, and the signature is checked (wrong → NotAuthorized);
- with device tracking on (:meth:`AuthServer.track_devices`), tokens carry
  ``NewDeviceMetadata``, ``ConfirmDevice`` stores the device's verifier,
  ``UpdateDeviceStatus``/``ForgetDevice`` work, and a sign-in that sends a
  remembered ``DEVICE_KEY`` must pass ``DEVICE_SRP_AUTH`` and
  ``DEVICE_PASSWORD_VERIFIER``, after which MFA is skipped if configured;
- ``USER_AUTH`` offers ``PASSWORD``, ``PASSWORD_SRP`` and (for users with an
  email) ``EMAIL_OTP``, whose codes tests read with :meth:`AuthServer.email_code`.

Once a password is proved, the handlers this one wraps (``_idp.py``, then
moto) take over: they issue the tokens or the next challenge (MFA, a new
password), so those behave as before. Tokens this module issues itself (a code,
device SRP skipping MFA) are signed by the same ``IdpState``.

:meth:`AuthServer.install` puts the handlers in LocalCognito's dispatch table,
wrapping ``InitiateAuth`` and ``RespondToAuthChallenge`` and adding
``ConfirmDevice``, ``UpdateDeviceStatus`` and ``ForgetDevice``.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from keybearer._protocol import srp
from keybearer.testing._dispatch import Call, CognitoError, Handler, Moto, Reply
from keybearer.testing._srp_exchanges import WRONG, Exchanges
from keybearer.testing._state import ClientView, IdpState

_MFA = ("SOFTWARE_TOKEN_MFA", "SMS_MFA")


@dataclass
class _Device:
    key: str
    group: str
    pool_id: str
    username: str
    salt_hex: str = ""
    verifier: int = field(default=0, repr=False)
    confirmed: bool = False
    remembered: bool = False
    name: str = ""


@dataclass(frozen=True)
class _Tracking:
    skip_mfa: bool
    prompt_user: bool


def _ok(document: dict[str, Any]) -> Reply:
    return Reply.json(document)


@contextmanager
def _moto_errors() -> Iterator[None]:
    """moto's own refusals (no such user, ...) in Cognito's wire format."""
    from moto.core.exceptions import JsonRESTError  # moto loads only once a server runs

    try:
        yield
    except JsonRESTError as error:
        raise CognitoError(error.error_type, error.message, int(error.code)) from None


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


class AuthServer:
    """Cognito's SRP, device and USER_AUTH logic for one :class:`LocalCognito`."""

    def __init__(self, state: IdpState) -> None:
        self._state = state
        self._lock = threading.RLock()
        self._srp = Exchanges()
        # DEVICE_SRP_AUTH sessions: the answer the device proof unlocks, user, device key.
        self._pending: dict[str, tuple[dict[str, Any], str, str]] = {}
        self._choices: dict[str, tuple[str, str, str]] = {}
        self._codes: dict[str, tuple[str, str, str, str]] = {}
        self._last_code: dict[str, str] = {}
        self._devices: dict[tuple[str, str], _Device] = {}
        self._groups: dict[tuple[str, str], str] = {}
        self._tracking: dict[str, _Tracking] = {}

    # -- test hooks --

    def track_devices(
        self, pool_id: str, *, skip_mfa: bool = True, prompt_user: bool = False
    ) -> None:
        """Turn device tracking on for a pool, as its DeviceConfiguration would.

        ``skip_mfa``: a remembered device proved by device SRP gets tokens
        without the MFA challenge. ``prompt_user``: ConfirmDevice answers
        ``UserConfirmationNecessary`` and the device is remembered only after
        ``UpdateDeviceStatus``.
        """
        with self._lock:
            self._tracking[pool_id] = _Tracking(skip_mfa, prompt_user)

    def email_code(self, username: str) -> str | None:
        """The last EMAIL_OTP code "sent" to ``username`` (as typed or internal)."""
        with self._lock:
            return self._last_code.get(username)

    def devices(self, pool_id: str, username: str) -> list[str]:
        """Keys of the confirmed devices of a user, remembered or not."""
        with self._lock:
            return [
                d.key
                for d in self._devices.values()
                if d.pool_id == pool_id and d.username == username and d.confirmed
            ]

    # -- the dispatch table --

    def install(self, table: MutableMapping[str, Handler]) -> None:
        """Wrap InitiateAuth and RespondToAuthChallenge in ``table``; add the device calls."""
        table["InitiateAuth"] = self._guarded(self._initiate, table["InitiateAuth"])
        table["RespondToAuthChallenge"] = self._guarded(
            self._respond, table["RespondToAuthChallenge"]
        )
        table["ConfirmDevice"] = self._device_call(self._confirm_device)
        table["UpdateDeviceStatus"] = self._device_call(self._update_device)
        table["ForgetDevice"] = self._device_call(self._forget_device)

    def _device_call(self, handler: Callable[[dict[str, Any]], Reply]) -> Handler:
        def handle(call: Call, moto: Moto) -> Reply:
            with self._lock, _moto_errors():
                return handler(call.json())

        return handle

    def _guarded(
        self, handler: Callable[[Call, Moto, Handler], Reply], previous: Handler
    ) -> Handler:
        def handle(call: Call, moto: Moto) -> Reply:
            with self._lock, _moto_errors():
                return handler(call, moto, previous)

        return handle

    def _initiate(self, call: Call, moto: Moto, previous: Handler) -> Reply:
        doc = call.json()
        flow = doc.get("AuthFlow")
        if flow not in ("USER_SRP_AUTH", "USER_AUTH", "USER_PASSWORD_AUTH"):
            return previous(call, moto)
        pool, client = self._client(doc)
        self._state.require_flow(client, str(flow))
        params = doc.get("AuthParameters") or {}
        if flow == "USER_SRP_AUTH":
            return self._srp_start(pool, client, params)
        if flow == "USER_AUTH":
            return self._user_auth(pool, client, params)
        if pool.id not in self._tracking:
            return previous(call, moto)
        self._known_device(pool.id, params.get("DEVICE_KEY"))
        reply = previous(call, moto)
        document = reply.document()
        if reply.status != 200 or not isinstance(document, dict):
            return reply
        username = self._state.internal_username(pool, str(params.get("USERNAME")))
        return _ok(self._after_primary(pool, client, username, document, params))

    def _respond(self, call: Call, moto: Moto, previous: Handler) -> Reply:
        doc = call.json()
        name = doc.get("ChallengeName")
        responses = doc.get("ChallengeResponses") or {}
        if name == "PASSWORD_VERIFIER":
            return self._password_verifier(call, moto, previous, responses)
        if name == "DEVICE_SRP_AUTH":
            return self._device_srp(doc, responses)
        if name == "DEVICE_PASSWORD_VERIFIER":
            return self._device_verifier(doc, responses)
        if name == "SELECT_CHALLENGE":
            return self._select(doc, responses)
        if name == "EMAIL_OTP":
            return self._email_otp_answer(doc, responses)
        pool, _ = self._client(doc)
        if name in _MFA and pool.id in self._tracking:
            reply = previous(call, moto)
            document = reply.document()
            if reply.status != 200 or not isinstance(document, dict):
                return reply
            username = self._state.internal_username(pool, str(responses.get("USERNAME")))
            return _ok(self._new_device(pool, username, document, responses))
        return previous(call, moto)

    # -- lookups --

    def _client(self, doc: dict[str, Any]) -> tuple[Any, ClientView]:
        pool, client = self._state.find_client(doc.get("ClientId"))
        return pool, client

    def _tokens(self, pool: Any, client: ClientView, username: str) -> dict[str, Any]:
        """A fresh sign-in's tokens, signed like every other LocalCognito sign-in."""
        origin, now = str(uuid.uuid4()), int(self._state.clock())
        result = self._state.user_tokens(pool, client, username, origin_jti=origin, auth_time=now)
        result["RefreshToken"] = self._state.new_refresh_token(
            pool, client, username, origin_jti=origin, auth_time=now
        )
        return {"AuthenticationResult": result, "ChallengeParameters": {}}

    def _user(self, pool: Any, username: object) -> Any:
        if not isinstance(username, str) or not username:
            raise CognitoError("InvalidParameterException", "Missing required parameter USERNAME")
        user = self._state.backend().admin_get_user(pool.id, username)
        if not user.enabled:
            raise CognitoError("NotAuthorizedException", "User is disabled.")
        return user

    def _known_device(self, pool_id: str, device_key: object) -> _Device | None:
        if device_key is None:
            return None
        device = self._devices.get((pool_id, str(device_key)))
        if device is None:
            raise CognitoError("ResourceNotFoundException", "Device does not exist.")
        return device

    def _srp_start(self, pool: Any, client: ClientView, params: dict[str, Any]) -> Reply:
        username = params.get("USERNAME")
        self._state.check_secret_hash(client, str(username), params.get("SECRET_HASH"))
        user = self._user(pool, username)
        device = self._known_device(pool.id, params.get("DEVICE_KEY"))
        salt, v = self._srp.user_verifier(pool, user)
        exchange, parameters = self._srp.start(
            pool_id=pool.id,
            client_id=client.id,
            username=user.username,
            prefix=srp.pool_name(pool.id),
            identity=user.id,
            a_hex=params.get("SRP_A"),
            verifier=v,
            salt_hex=salt,
        )
        exchange.device_key = device.key if device is not None else None
        parameters["USER_ID_FOR_SRP"] = user.id
        return _ok(
            {
                "ChallengeName": "PASSWORD_VERIFIER",
                "Session": str(uuid.uuid4()),
                "ChallengeParameters": parameters,
            }
        )

    def _password_verifier(
        self, call: Call, moto: Moto, previous: Handler, responses: dict[str, Any]
    ) -> Reply:
        doc = call.json()
        pool, client = self._client(doc)
        exchange = self._srp.prove(responses)
        if exchange.client_id != client.id:
            raise CognitoError("NotAuthorizedException", WRONG)
        # Proved: the wrapped handler checks SECRET_HASH and moto goes on (MFA, a new
        # password, tokens); moto finds its session by the secret block here.
        block = str(responses["PASSWORD_CLAIM_SECRET_BLOCK"])
        self._state.backend().sessions[block] = (exchange.username, pool)
        reply = previous(call, moto)
        document = reply.document()
        if reply.status != 200 or not isinstance(document, dict):
            return reply
        device_key = responses.get("DEVICE_KEY") or exchange.device_key
        return _ok(
            self._after_primary(
                pool, client, exchange.username, document, {"DEVICE_KEY": device_key}
            )
        )

    # -- devices --

    def _after_primary(
        self,
        pool: Any,
        client: ClientView,
        username: str,
        result: dict[str, Any],
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """After the password: ask for device SRP if a remembered device was named."""
        key = params.get("DEVICE_KEY")
        device = self._devices.get((pool.id, str(key))) if key else None
        provable = (
            device is not None
            and device.username == username
            and device.confirmed
            and device.remembered
            and pool.id in self._tracking
        )
        if provable and ("AuthenticationResult" in result or result.get("ChallengeName") in _MFA):
            session = str(uuid.uuid4())
            self._pending[session] = (result, username, str(key))
            return {
                "ChallengeName": "DEVICE_SRP_AUTH",
                "Session": session,
                "ChallengeParameters": {"USERNAME": username},
            }
        return self._new_device(pool, username, result, params)

    def _new_device(
        self, pool: Any, username: str, result: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        """Tokens in a tracking pool carry a new device, unless a known one was proved."""
        tokens = result.get("AuthenticationResult")
        if not isinstance(tokens, dict) or pool.id not in self._tracking:
            return result
        known = self._devices.get((pool.id, str(params.get("DEVICE_KEY"))))
        if known is not None and known.username == username:
            return result
        group = self._groups.setdefault((pool.id, username), f"-{secrets.token_hex(8)}")
        key = f"us-east-1_{uuid.uuid4()}"
        self._devices[(pool.id, key)] = _Device(key, group, pool.id, username)
        tokens["NewDeviceMetadata"] = {"DeviceKey": key, "DeviceGroupKey": group}
        return result

    def _device_srp(self, doc: dict[str, Any], responses: dict[str, Any]) -> Reply:
        pool, client = self._client(doc)
        session = doc.get("Session")
        if session is None:
            # pycognito sends no Session here; Cognito finds the sign-in by its device key.
            key = responses.get("DEVICE_KEY")
            session = next((s for s, (_, _, k) in self._pending.items() if k == key), None)
        pending = self._pending.pop(str(session), None)
        if pending is None:
            raise CognitoError("NotAuthorizedException", "Invalid session for the user.")
        result, username, key = pending
        device = self._known_device(pool.id, responses.get("DEVICE_KEY"))
        if device is None or device.key != key:
            raise CognitoError("NotAuthorizedException", "Invalid device key given.")
        exchange, parameters = self._srp.start(
            pool_id=pool.id,
            client_id=client.id,
            username=username,
            prefix=device.group,
            identity=device.key,
            a_hex=responses.get("SRP_A"),
            verifier=device.verifier,
            salt_hex=device.salt_hex,
        )
        exchange.device_key = device.key
        exchange.pending = result
        parameters["DEVICE_KEY"] = device.key
        return _ok(
            {
                "ChallengeName": "DEVICE_PASSWORD_VERIFIER",
                "Session": str(uuid.uuid4()),
                "ChallengeParameters": parameters,
            }
        )

    def _device_verifier(self, doc: dict[str, Any], responses: dict[str, Any]) -> Reply:
        pool, client = self._client(doc)
        exchange = self._srp.prove(responses)
        result = exchange.pending or {}
        if result.get("ChallengeName") in _MFA and self._tracking[pool.id].skip_mfa:
            self._state.backend().sessions.pop(result.get("Session"), None)
            result = self._tokens(pool, client, exchange.username)
        return _ok(result)

    def _user_for_token(self, doc: dict[str, Any]) -> tuple[Any, str]:
        token = doc.get("AccessToken")
        for pool in self._state.backend().user_pools.values():
            owner = pool.access_tokens.get(token)
            if owner is not None:
                return pool, owner[1]
        raise CognitoError("NotAuthorizedException", "Invalid Access Token")

    def _own_device(self, pool: Any, username: str, key: object) -> _Device:
        device = self._devices.get((pool.id, str(key)))
        if device is None or device.username != username:
            raise CognitoError("ResourceNotFoundException", "Device does not exist.")
        return device

    def _confirm_device(self, doc: dict[str, Any]) -> Reply:
        pool, username = self._user_for_token(doc)
        device = self._own_device(pool, username, doc.get("DeviceKey"))
        config = doc.get("DeviceSecretVerifierConfig") or {}
        try:
            verifier = int.from_bytes(base64.b64decode(config["PasswordVerifier"]), "big")
            salt = base64.b64decode(config["Salt"]).hex()
        except (KeyError, TypeError, ValueError):
            raise CognitoError(
                "InvalidParameterException", "DeviceSecretVerifierConfig is invalid"
            ) from None
        device.verifier, device.salt_hex, device.confirmed = verifier, salt, True
        device.name = str(doc.get("DeviceName") or "")
        prompt = self._tracking.get(pool.id, _Tracking(True, False)).prompt_user
        device.remembered = not prompt
        return _ok({"UserConfirmationNecessary": prompt})

    def _update_device(self, doc: dict[str, Any]) -> Reply:
        pool, username = self._user_for_token(doc)
        device = self._own_device(pool, username, doc.get("DeviceKey"))
        status = doc.get("DeviceRememberedStatus")
        if status not in ("remembered", "not_remembered"):
            raise CognitoError("InvalidParameterException", "DeviceRememberedStatus is invalid")
        device.remembered = status == "remembered"
        return _ok({})

    def _forget_device(self, doc: dict[str, Any]) -> Reply:
        pool, username = self._user_for_token(doc)
        device = self._own_device(pool, username, doc.get("DeviceKey"))
        del self._devices[(pool.id, device.key)]
        return _ok({})

    # -- USER_AUTH: choice-based sign-in --

    def _options(self, user: Any) -> list[str]:
        options = ["PASSWORD", "PASSWORD_SRP"]
        if self._email(user):
            options.append("EMAIL_OTP")
        return options

    @staticmethod
    def _email(user: Any) -> str | None:
        for attribute in user.attributes:
            if attribute.get("Name") == "email":
                return str(attribute.get("Value"))
        return None

    def _user_auth(self, pool: Any, client: ClientView, params: dict[str, Any]) -> Reply:
        username = params.get("USERNAME")
        self._state.check_secret_hash(client, str(username), params.get("SECRET_HASH"))
        user = self._user(pool, username)
        self._known_device(pool.id, params.get("DEVICE_KEY"))
        preferred = params.get("PREFERRED_CHALLENGE")
        options = self._options(user)
        if preferred in options:
            return self._start_choice(pool, client, user, str(preferred), params, str(username))
        session = str(uuid.uuid4())
        self._choices[session] = (pool.id, client.id, user.username)
        return _ok(
            {
                "ChallengeName": "SELECT_CHALLENGE",
                "Session": session,
                "ChallengeParameters": {},
                "AvailableChallenges": options,
            }
        )

    def _start_choice(
        self,
        pool: Any,
        client: ClientView,
        user: Any,
        choice: str,
        params: dict[str, Any],
        typed: str,
    ) -> Reply:
        if choice == "EMAIL_OTP":
            code = f"{secrets.randbelow(10**8):08d}"
            session = str(uuid.uuid4())
            self._codes[session] = (pool.id, client.id, user.username, code)
            self._last_code[user.username] = self._last_code[typed] = code
            email = self._email(user) or ""
            return _ok(
                {
                    "ChallengeName": "EMAIL_OTP",
                    "Session": session,
                    "ChallengeParameters": {
                        "USERNAME": user.username,
                        "CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
                        "CODE_DELIVERY_DESTINATION": _mask(email),
                    },
                }
            )
        if choice == "PASSWORD_SRP":
            return self._srp_start(pool, client, {**params, "USERNAME": user.username})
        password = params.get("PASSWORD")
        if not isinstance(password, str) or not hmac.compare_digest(
            password.encode(), str(user.password).encode()
        ):
            raise CognitoError("NotAuthorizedException", WRONG)
        result = self._tokens(pool, client, user.username)
        return _ok(self._after_primary(pool, client, user.username, result, params))

    def _select(self, doc: dict[str, Any], responses: dict[str, Any]) -> Reply:
        pool, client = self._client(doc)
        choice = self._choices.pop(str(doc.get("Session")), None)
        if choice is None or choice[1] != client.id:
            raise CognitoError("NotAuthorizedException", "Invalid session for the user.")
        self._state.check_secret_hash(client, choice[2], responses.get("SECRET_HASH"))
        user = self._user(pool, choice[2])
        answer = responses.get("ANSWER")
        if answer not in self._options(user):
            raise CognitoError(
                "InvalidParameterException", f"{answer} is not an available challenge"
            )
        return self._start_choice(pool, client, user, str(answer), responses, user.username)

    def _email_otp_answer(self, doc: dict[str, Any], responses: dict[str, Any]) -> Reply:
        pool, client = self._client(doc)
        session = str(doc.get("Session"))
        pending = self._codes.get(session)
        if pending is None or pending[1] != client.id:
            raise CognitoError("NotAuthorizedException", "Invalid session for the user.")
        self._state.check_secret_hash(client, pending[2], responses.get("SECRET_HASH"))
        code = responses.get("EMAIL_OTP_CODE")
        if not isinstance(code, str) or not hmac.compare_digest(code, pending[3]):
            raise CognitoError("CodeMismatchException", "Invalid code or auth state for the user.")
        del self._codes[session]
        result = self._tokens(pool, client, pending[2])
        return _ok(self._new_device(pool, pending[2], result, responses))
