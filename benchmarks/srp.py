"""Figure 10: the client's cost of one SRP sign-in, keybearer against pycognito.

One sign-in's worth of arithmetic, as each client does it: make a private
``a`` and ``A = g^a mod N`` (what InitiateAuth sends), then, given Cognito's
``SRP_B``, salt and secret block, derive the session key and sign the
PASSWORD_VERIFIER answer. Three modular exponentiations in the 3072-bit group
dominate (``g^a``, ``g^x`` and ``S``), so this is the cost the user waits for
on the client between the two round trips. No network: ``B`` comes from a
verifier computed once beforehand. keybearer: ``srp.Ephemeral()`` and its
``answer()``; pycognito: ``AWSSRP(...)`` (with a dummy boto3 client, so none is
built) and its ``process_challenge``. Bar: at most 1.0x pycognito.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

from benchmarks._harness import Bar, Row, Settings, Timed, alternate, compared, unavailable

FIGURE = 10
BAR = Bar("ratio", 1.0)
POOL_ID = "us-east-1_AbCdEf123"
USER = "7d8ca528-4931-4254-9273-ea5ee853f271"
PASSWORD = "Correct-Horse-1"
SALT = "9c3b1f0a5e7d2c4b8a6f0e1d2c3b4a59"
BLOCK = base64.b64encode(bytes(range(256)) * 4).decode()

_NAMES = {
    "keybearer": "keybearer SRP sign-in maths (A, key, signature)",
    "pycognito": "pycognito AWSSRP (A, key, signature)",
}

SignIn = Callable[[], object]


def _server_b() -> str:
    from keybearer._protocol import srp

    v = srp.verifier(srp.pool_name(POOL_ID), USER, PASSWORD, SALT)
    return f"{(srp.K * v + pow(srp.G, 123456789, srp.N)) % srp.N:x}"


def _keybearer(b_hex: str) -> SignIn:
    from keybearer._protocol import srp

    prefix = srp.pool_name(POOL_ID)

    def sign_in() -> object:
        ephemeral = srp.Ephemeral()
        _ = ephemeral.public_hex  # sent with InitiateAuth
        return ephemeral.answer(
            prefix=prefix,
            identity=USER,
            secret=PASSWORD,
            salt_hex=SALT,
            b_hex=b_hex,
            secret_block=BLOCK,
            now=time.time(),
        )

    return sign_in


def _pycognito(b_hex: str) -> SignIn | str:
    try:
        from pycognito.aws_srp import AWSSRP  # type: ignore[import-untyped]
    except ImportError:
        return "pycognito is not installed"
    parameters = {
        "USERNAME": USER,
        "USER_ID_FOR_SRP": USER,
        "SALT": SALT,
        "SRP_B": b_hex,
        "SECRET_BLOCK": BLOCK,
    }
    dummy = object()  # AWSSRP builds a boto3 client unless given one; it is never called

    def sign_in() -> object:
        srp = AWSSRP(USER, PASSWORD, POOL_ID, "client", client=dummy)
        _ = srp.get_auth_params()  # sent with InitiateAuth
        return srp.process_challenge(parameters, {"USERNAME": USER})

    return sign_in


def _loop(sign_in: SignIn) -> Timed:
    def run(n: int) -> int:
        started = time.perf_counter_ns()
        for _ in range(n):
            sign_in()
        return time.perf_counter_ns() - started

    return run


def run(settings: Settings) -> list[Row]:
    b_hex = _server_b()
    timers: dict[str, Timed] = {"keybearer": _loop(_keybearer(b_hex))}
    missing: list[Row] = []
    made = _pycognito(b_hex)
    if isinstance(made, str):
        return [unavailable(FIGURE, _NAMES["pycognito"], made)]
    timers["pycognito"] = _loop(made)
    results = alternate(
        timers,
        rounds=settings.rounds(41, 11),
        n=settings.count(20, 8),
        warmup=5,
    )
    rows = compared(
        FIGURE,
        results,
        "pycognito",
        unit="ms/sign-in",
        scale=1_000_000.0,
        bars={"keybearer": BAR},
        names=_NAMES,
    )
    return rows + missing
