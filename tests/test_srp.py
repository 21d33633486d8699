"""keybearer's SRP maths against pycognito's, an implementation nobody here wrote."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from typing import Any

import pytest
from pycognito import aws_srp  # type: ignore[import-untyped]

from keybearer._protocol import srp
from keybearer.errors import ProtocolError

POOL_ID = "eu-west-1_AbCdEf123"
A_SMALL = int("1f" * 128, 16)  # fixed private values: the test replays known numbers
B_SMALL = int("2e" * 100, 16)
SALT_HEX = "9c3b1f0a5e7d2c4b8a6f0e1d2c3b4a59"
SECRET_BLOCK = base64.b64encode(bytes(range(256)) * 3).decode()
NOW = datetime.datetime(2017, 4, 5, 22, 42, 34, tzinfo=datetime.timezone.utc)


def _pycognito(password: str = "Correct-Horse-1") -> Any:
    reference = aws_srp.AWSSRP(
        username="alice",
        password=password,
        pool_id=POOL_ID,
        client_id="client",
        client=object(),  # never called: only the maths is used
    )
    reference.small_a_value = A_SMALL
    reference.large_a_value = reference.calculate_a()
    return reference


def _server_b(prefix: str, identity: str, secret: str, salt_hex: str) -> int:
    v = srp.verifier(prefix, identity, secret, salt_hex)
    return (srp.K * v + pow(srp.G, B_SMALL, srp.N)) % srp.N


def test_constants_match_pycognito() -> None:
    assert aws_srp.hex_to_long(aws_srp.N_HEX) == srp.N
    assert aws_srp.hex_to_long(aws_srp.G_HEX) == srp.G
    assert _pycognito().val_k == srp.K


@pytest.mark.parametrize("value", [0x1, 0xF, 0x80, 0x7F, 0xABC, 0x8000, srp.N, 12345678901234567])
def test_pad_hex_matches_pycognito(value: int) -> None:
    assert srp.pad_hex(value) == aws_srp.pad_hex(value)
    assert srp.pad_hex(f"{value:x}") == aws_srp.pad_hex(f"{value:x}")


def test_public_value_and_password_key_match_pycognito() -> None:
    reference = _pycognito()
    mine = srp.Ephemeral(A_SMALL)
    big_b = _server_b("AbCdEf123", "alice-sub", "Correct-Horse-1", SALT_HEX)

    assert mine.public == reference.large_a_value
    assert mine.public_hex == aws_srp.long_to_hex(reference.large_a_value)
    key = mine.key(
        prefix="AbCdEf123",
        identity="alice-sub",
        secret="Correct-Horse-1",
        salt_hex=SALT_HEX,
        b_hex=f"{big_b:x}",
    )
    assert key == reference.get_password_authentication_key(
        "alice-sub", "Correct-Horse-1", big_b, SALT_HEX
    )
    assert len(key) == 16


def test_password_claim_matches_pycognito(monkeypatch: pytest.MonkeyPatch) -> None:
    class FixedClock(datetime.datetime):
        @classmethod
        def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
            return NOW.replace(tzinfo=None)

    monkeypatch.setattr(aws_srp.datetime, "datetime", FixedClock)
    reference = _pycognito()
    big_b = _server_b("AbCdEf123", "alice-sub", "Correct-Horse-1", SALT_HEX)
    parameters = {
        "USERNAME": "alice-internal",
        "USER_ID_FOR_SRP": "alice-sub",
        "SALT": SALT_HEX,
        "SRP_B": f"{big_b:x}",
        "SECRET_BLOCK": SECRET_BLOCK,
    }
    expected = reference.process_challenge(parameters, {"USERNAME": "alice"})

    answer = srp.Ephemeral(A_SMALL).answer(
        prefix=srp.pool_name(POOL_ID),
        identity="alice-sub",
        secret="Correct-Horse-1",
        salt_hex=SALT_HEX,
        b_hex=f"{big_b:x}",
        secret_block=SECRET_BLOCK,
        now=NOW.timestamp(),
    )
    assert answer["TIMESTAMP"] == expected["TIMESTAMP"] == "Wed Apr 5 22:42:34 UTC 2017"
    assert answer["PASSWORD_CLAIM_SECRET_BLOCK"] == SECRET_BLOCK
    assert answer["PASSWORD_CLAIM_SIGNATURE"] == expected["PASSWORD_CLAIM_SIGNATURE"]


def test_a_wrong_password_gives_another_signature() -> None:
    big_b = _server_b("AbCdEf123", "alice", "Correct-Horse-1", SALT_HEX)
    common: dict[str, Any] = {
        "prefix": "AbCdEf123",
        "identity": "alice",
        "salt_hex": SALT_HEX,
        "b_hex": f"{big_b:x}",
        "secret_block": SECRET_BLOCK,
        "now": NOW.timestamp(),
    }
    right = srp.Ephemeral(A_SMALL).answer(secret="Correct-Horse-1", **common)
    wrong = srp.Ephemeral(A_SMALL).answer(secret="Correct-Horse-2", **common)
    assert right["PASSWORD_CLAIM_SIGNATURE"] != wrong["PASSWORD_CLAIM_SIGNATURE"]


def test_device_key_matches_pycognito() -> None:
    reference = _pycognito()
    big_b = _server_b("group-key", "us-east-1_device", "device-password", SALT_HEX)
    mine = srp.Ephemeral(A_SMALL).key(
        prefix="group-key",
        identity="us-east-1_device",
        secret="device-password",
        salt_hex=SALT_HEX,
        b_hex=f"{big_b:x}",
    )
    assert mine == reference.get_device_authentication_key(
        "group-key", "us-east-1_device", "device-password", big_b, SALT_HEX
    )


def test_device_verifier_is_the_one_pycognito_would_make(monkeypatch: pytest.MonkeyPatch) -> None:
    password, config = srp.new_device_secret("group-key", "us-east-1_device")
    salt_hex = base64.b64decode(config["Salt"]).hex()
    # pycognito's generator, fed the same salt and password, gives the same verifier.
    monkeypatch.setattr(aws_srp, "get_random", lambda n: int(salt_hex, 16))
    monkeypatch.setattr(aws_srp.os, "urandom", lambda n: base64.b64decode(password))
    theirs_password, theirs = aws_srp.generate_hash_device("group-key", "us-east-1_device")

    assert theirs_password == password
    assert int.from_bytes(base64.b64decode(config["PasswordVerifier"]), "big") == int.from_bytes(
        base64.b64decode(theirs["PasswordVerifier"]), "big"
    )
    assert len(base64.b64decode(password)) == 40


def test_timestamp_pads_no_day_and_ignores_locale() -> None:
    assert srp.timestamp(NOW.timestamp()) == "Wed Apr 5 22:42:34 UTC 2017"
    late = datetime.datetime(2026, 12, 25, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert srp.timestamp(late.timestamp()) == "Fri Dec 25 03:04:05 UTC 2026"


@pytest.mark.parametrize("b_hex", ["0", f"{srp.N:x}", f"{2 * srp.N:x}"])
def test_b_that_is_zero_mod_n_is_refused(b_hex: str) -> None:
    with pytest.raises(ProtocolError, match="B mod N"):
        srp.Ephemeral().key(prefix="p", identity="i", secret="s", salt_hex="ab", b_hex=b_hex)


@pytest.mark.parametrize(("b_hex", "salt"), [("xyz", "ab"), ("ab", "not hex"), ("a" * 5000, "ab")])
def test_garbage_b_or_salt_is_a_protocol_error(b_hex: str, salt: str) -> None:
    with pytest.raises(ProtocolError):
        srp.Ephemeral().key(prefix="p", identity="i", secret="s", salt_hex=salt, b_hex=b_hex)


def test_u_of_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(srp, "_hash_hex", lambda text: 0)
    with pytest.raises(ProtocolError, match="u = H"):
        srp.scramble(5, 7)


def test_ephemerals_differ_and_never_show_a() -> None:
    one, two = srp.Ephemeral(), srp.Ephemeral()
    assert one.public != two.public
    assert repr(one) == "Ephemeral(<secret>)"
    assert not hasattr(one, "__dict__")


def test_signature_is_hmac_of_the_documented_message() -> None:
    key = bytes(16)
    block = base64.b64encode(b"block").decode()
    expected = hmac.new(key, b"poolalice" + b"block" + b"stamp", hashlib.sha256).digest()
    assert (
        srp.claim_signature(key, "pool", "alice", block, "stamp")
        == base64.b64encode(expected).decode()
    )


def test_a_lone_surrogate_in_a_quoted_name_does_not_crash() -> None:
    big_b = _server_b("AbCdEf123", "alice", "pw", SALT_HEX)
    answer = srp.Ephemeral(A_SMALL).answer(
        prefix="AbCdEf123",
        identity="ali\udce9ce",
        secret="pw",
        salt_hex=SALT_HEX,
        b_hex=f"{big_b:x}",
        secret_block=SECRET_BLOCK,
        now=NOW.timestamp(),
    )
    assert answer["PASSWORD_CLAIM_SIGNATURE"]
