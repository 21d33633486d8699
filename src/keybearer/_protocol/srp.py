"""Cognito's SRP-6a: the maths behind USER_SRP_AUTH and remembered devices.

Cognito uses SRP-6a over the 3072-bit group of RFC 5054 (g = 2, H = SHA-256)
with a few conventions of its own, as AWS's JavaScript SDK (and so Amplify)
implements them:

- a number is hashed as AWS's ``padHex``: lowercase hex of even length, with
  ``00`` in front when the top bit of the first byte is set (so the hex would
  read as a positive two's-complement number);
- ``k = H(padHex(N) | padHex(g))``, ``u = H(padHex(A) | padHex(B))``;
- ``x = H(padHex(salt) | H(prefix | identity | ":" | secret))`` where for a
  user the prefix is the pool name (the part of the pool id after ``_``), the
  identity ``USER_ID_FOR_SRP`` and the secret the password, and for a device
  the prefix is the device group key, the identity the device key and the
  secret the device password;
- the session key is HKDF-SHA256(ikm = padHex(S), salt = padHex(u), info =
  "Caldera Derived Key"), 16 bytes;
- the answer is ``HMAC-SHA256(key, prefix | identity | secretBlock | timestamp)``
  in Base64, with the timestamp as ``EEE MMM d HH:mm:ss UTC yyyy`` (day not
  padded: Cognito refuses ``Apr 05``).

Secrets stay local: the private ephemeral ``a``, ``x``, ``S`` and the key live
in the frames of the functions below and are never logged, kept on an object
that outlives the exchange, or put in an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from keybearer.errors import ProtocolError

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
"""The 3072-bit prime of RFC 5054, appendix A."""
N = int(N_HEX, 16)
G = 2
_INFO = b"Caldera Derived Key"
# B and the salt are at most 3072 bits; anything much longer is not Cognito talking.
_MAX_HEX = 2048
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def pad_hex(value: int | str) -> str:
    """AWS's ``padHex``: even-length hex, ``00``-prefixed when the top bit is set."""
    text = f"{value:x}" if isinstance(value, int) else value
    if len(text) % 2:
        return "0" + text
    if text[:1] in "89abcdefABCDEF" and text:
        return "00" + text
    return text


def _hash_hex(hex_text: str) -> int:
    return int.from_bytes(hashlib.sha256(bytes.fromhex(hex_text)).digest(), "big")


K = _hash_hex(pad_hex(N) + pad_hex(G))
"""SRP-6a's multiplier ``k = H(padHex(N) | padHex(g))``."""


def _text(value: str) -> bytes:
    # surrogatepass: a name Cognito quoted back may hold a lone surrogate; Cognito
    # then refuses the answer, the SDK must not crash on it.
    return value.encode("utf-8", "surrogatepass")


def _x(prefix: str, identity: str, secret: str, salt_hex: str) -> int:
    inner = hashlib.sha256(_text(f"{prefix}{identity}:{secret}")).hexdigest()
    return _hash_hex(pad_hex(salt_hex) + inner)


def scramble(big_a: int, big_b: int) -> int:
    """``u = H(padHex(A) | padHex(B))``; zero would let either side cheat."""
    u = _hash_hex(pad_hex(big_a) + pad_hex(big_b))
    if u == 0:
        raise ProtocolError("SRP exchange failed: u = H(A, B) is zero; sign in again")
    return u


def session_key(secret_s: int, u: int) -> bytes:
    """HKDF-SHA256 of ``S`` with ``u`` as salt and info "Caldera Derived Key", 16 bytes."""
    prk = hmac.new(bytes.fromhex(pad_hex(u)), bytes.fromhex(pad_hex(secret_s)), "sha256").digest()
    return hmac.new(prk, _INFO + b"\x01", "sha256").digest()[:16]


def verifier(prefix: str, identity: str, secret: str, salt_hex: str) -> int:
    """The password verifier ``v = g^x mod N`` a server keeps instead of the secret."""
    return pow(G, _x(prefix, identity, secret, salt_hex), N)


def timestamp(now: float) -> str:
    """Cognito's ``EEE MMM d HH:mm:ss UTC yyyy`` for a Unix time, in English, day unpadded."""
    t = time.gmtime(now)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} UTC {t.tm_year}"
    )


def claim_signature(key: bytes, prefix: str, identity: str, secret_block: str, stamp: str) -> str:
    """Base64 of HMAC-SHA256(key, prefix | identity | secretBlock bytes | timestamp)."""
    try:
        block = base64.b64decode(secret_block, validate=True)
    except ValueError:
        raise ProtocolError("Cognito's SECRET_BLOCK is not Base64") from None
    message = _text(prefix) + _text(identity) + block + stamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def pool_name(user_pool_id: str) -> str:
    """The pool id after its region: what Cognito mixes into the user's SRP hash."""
    return user_pool_id.split("_", 1)[1]


class Ephemeral:
    """The client's one-use SRP key pair: ``a`` from ``secrets``, ``A = g^a mod N``.

    Make one per exchange and drop it afterwards; it has no repr of ``a``.
    ``a`` may be given only by tests that replay known values.
    """

    __slots__ = ("_a", "public")

    def __init__(self, a: int | None = None) -> None:
        # 1024 random bits, as AWS's SDKs use; g^a mod N is never 0 for a prime N.
        self._a = a if a is not None else secrets.randbits(1024) | 1
        self.public = pow(G, self._a, N)

    @property
    def public_hex(self) -> str:
        """``SRP_A`` as Cognito takes it: plain hex."""
        return f"{self.public:x}"

    def __repr__(self) -> str:
        return "Ephemeral(<secret>)"

    def key(self, *, prefix: str, identity: str, secret: str, salt_hex: str, b_hex: str) -> bytes:
        """The shared session key, checking ``B mod N != 0`` and ``u != 0`` first."""
        if len(b_hex) > _MAX_HEX or len(salt_hex) > _MAX_HEX:
            raise ProtocolError("Cognito's SRP_B or SALT is far longer than SRP uses")
        try:
            big_b = int(b_hex, 16)
            int(salt_hex, 16)
        except ValueError:
            raise ProtocolError("Cognito's SRP_B or SALT is not hex") from None
        if big_b % N == 0:
            raise ProtocolError("Cognito's SRP_B is invalid (B mod N is zero); sign in again")
        u = scramble(self.public, big_b)
        x = _x(prefix, identity, secret, salt_hex)
        base = (big_b - K * pow(G, x, N)) % N
        return session_key(pow(base, self._a + u * x, N), u)

    def answer(
        self,
        *,
        prefix: str,
        identity: str,
        secret: str,
        salt_hex: str,
        b_hex: str,
        secret_block: str,
        now: float,
    ) -> dict[str, str]:
        """``TIMESTAMP``, ``PASSWORD_CLAIM_SECRET_BLOCK`` and ``PASSWORD_CLAIM_SIGNATURE``."""
        key = self.key(
            prefix=prefix, identity=identity, secret=secret, salt_hex=salt_hex, b_hex=b_hex
        )
        stamp = timestamp(now)
        return {
            "TIMESTAMP": stamp,
            "PASSWORD_CLAIM_SECRET_BLOCK": secret_block,
            "PASSWORD_CLAIM_SIGNATURE": claim_signature(key, prefix, identity, secret_block, stamp),
        }


def new_device_secret(device_group_key: str, device_key: str) -> tuple[str, dict[str, str]]:
    """A random device password and the ``DeviceSecretVerifierConfig`` for ConfirmDevice.

    The verifier and salt go to Cognito (Base64 of their padHex bytes); the
    password stays on this machine, in the token store.
    """
    password = base64.b64encode(secrets.token_bytes(40)).decode()
    # As a number, as AWS's SDKs do: leading zero bytes dropped, then padHex.
    salt_hex = pad_hex(secrets.randbits(128))
    v = verifier(device_group_key, device_key, password, salt_hex)
    config = {
        "PasswordVerifier": base64.b64encode(bytes.fromhex(pad_hex(v))).decode(),
        "Salt": base64.b64encode(bytes.fromhex(salt_hex)).decode(),
    }
    return password, config
