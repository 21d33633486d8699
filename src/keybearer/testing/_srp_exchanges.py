"""The server's half of Cognito's SRP for LocalCognito: verifiers, ``B``, checking the claim.

Used by ``_srp.py`` for both password SRP (``PASSWORD_VERIFIER``) and device
SRP (``DEVICE_PASSWORD_VERIFIER``); the maths is keybearer's own
(:mod:`keybearer._protocol.srp`), which the suite checks against pycognito.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from keybearer._protocol import srp
from keybearer.testing._dispatch import CognitoError

#: Cognito's TIMESTAMP: English names, the day of the month not padded.
_TIMESTAMP = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"[1-9]\d? \d\d:\d\d:\d\d UTC \d{4}$"
)
WRONG = "Incorrect username or password."


@dataclass
class Exchange:
    """One SRP exchange in flight, found again by its secret block."""

    pool_id: str
    client_id: str
    username: str
    prefix: str
    identity: str
    big_a: int
    small_b: int = field(repr=False)
    big_b: int
    verifier: int = field(repr=False)
    device_key: str | None = None
    pending: dict[str, Any] | None = None


class Exchanges:
    """The exchanges in flight and the verifiers of users' passwords."""

    def __init__(self) -> None:
        self._exchanges: dict[str, Exchange] = {}
        self._verifiers: dict[tuple[str, str, str], tuple[str, int]] = {}

    def user_verifier(self, pool: Any, user: Any) -> tuple[str, int]:
        """The user's salt and verifier, derived once per password (moto keeps the password)."""
        ident = (pool.id, user.username, user.password)
        if ident not in self._verifiers:
            salt = srp.pad_hex(secrets.randbits(128))
            v = srp.verifier(srp.pool_name(pool.id), user.id, user.password, salt)
            self._verifiers[ident] = (salt, v)
        return self._verifiers[ident]

    def start(
        self,
        *,
        pool_id: str,
        client_id: str,
        username: str,
        prefix: str,
        identity: str,
        a_hex: object,
        verifier: int,
        salt_hex: str,
    ) -> tuple[Exchange, dict[str, str]]:
        """A new exchange for ``A``: ``B = kv + g^b``; returns it and SALT/SRP_B/SECRET_BLOCK."""
        try:
            big_a = int(str(a_hex), 16)
        except ValueError:
            raise CognitoError("InvalidParameterException", "SRP_A is not hex") from None
        if big_a % srp.N == 0:
            raise CognitoError("InvalidParameterException", "SRP_A is invalid")
        small_b = secrets.randbits(1024)
        big_b = (srp.K * verifier + pow(srp.G, small_b, srp.N)) % srp.N
        exchange = Exchange(
            pool_id, client_id, username, prefix, identity, big_a, small_b, big_b, verifier
        )
        block = base64.b64encode(secrets.token_bytes(64)).decode()
        self._exchanges[block] = exchange
        parameters = {
            "SALT": salt_hex,
            "SRP_B": f"{big_b:x}",
            "SECRET_BLOCK": block,
            "USERNAME": username,
        }
        return exchange, parameters

    def prove(self, responses: dict[str, Any]) -> Exchange:
        """Check PASSWORD_CLAIM_SIGNATURE against the exchange its secret block names."""
        block = responses.get("PASSWORD_CLAIM_SECRET_BLOCK")
        exchange = self._exchanges.pop(str(block), None)
        if exchange is None:
            raise CognitoError("NotAuthorizedException", "Invalid session for the user.")
        stamp = responses.get("TIMESTAMP")
        signature = responses.get("PASSWORD_CLAIM_SIGNATURE")
        if (
            not isinstance(stamp, str)
            or not _TIMESTAMP.match(stamp)
            or not isinstance(signature, str)
        ):
            raise CognitoError("NotAuthorizedException", WRONG)
        u = srp.scramble(exchange.big_a, exchange.big_b)
        shared = pow(exchange.big_a * pow(exchange.verifier, u, srp.N), exchange.small_b, srp.N)
        key = srp.session_key(shared, u)
        expected = srp.claim_signature(key, exchange.prefix, exchange.identity, str(block), stamp)
        if not hmac.compare_digest(expected, signature):
            raise CognitoError("NotAuthorizedException", WRONG)
        return exchange
