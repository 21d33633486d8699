"""Keys and signatures through joserfc: import JWKS entries, verify a compact JWS.

This module imports joserfc (and with it cryptography) at the top, so nothing
imports it before a key is parsed or a signature checked: ``keybearer.verify``
and ``keybearer._jose.jwks`` load it on first use.

Rules kept here (joserfc imports the keys, decodes the segments strictly and checks
the signature; the verifier picks the key by ``kid`` from its table):

* Only the algorithms in :data:`SUPPORTED` can ever be allowed, and each
  verifier allows an explicit subset (Cognito: RS256 only). ``none``, the HMAC
  algorithms (signing with a public key as the HMAC secret) and the rest are
  refused before any key is looked at.
* A JWKS entry becomes a key only if its ``kty`` (and for EC its ``crv``) fits
  an allowed algorithm, its ``alg`` (if any) is allowed, its ``use`` (if any)
  is ``sig`` and its ``key_ops`` (if any) include ``verify``. Only the public
  members are imported: a private part published by mistake is never loaded.
* Keys come only from the issuer's JWKS: ``jwk``, ``jku``, ``x5u`` and ``x5c``
  in a token's header are never used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry

from keybearer._jose.unverified import show

#: The signature algorithms a verifier may allow, with the key each one needs.
SUPPORTED: Mapping[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
}

_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}

VerifyKey = RSAKey | ECKey


def import_signing_key(
    kid: str, jwk: Mapping[str, Any], allowed: Iterable[str]
) -> tuple[VerifyKey, frozenset[str]] | str:
    """One JWKS entry as a verification key and the allowed algorithms it fits.

    Returns the reason instead when it cannot verify any of them.
    """
    kty = jwk.get("kty")
    fits = [alg for alg in allowed if SUPPORTED[alg][0] == kty]
    if not fits or not isinstance(kty, str):
        wanted = " or ".join(sorted({repr(SUPPORTED[alg][0]) for alg in allowed}))
        return f"kty is {show(kty)}, not {wanted}"
    alg = jwk.get("alg")
    if alg is not None:
        if alg not in fits:
            return f"the key is for alg {show(alg)}, not {' or '.join(map(repr, fits))}"
        fits = [alg]
    if kty == "EC":
        fits = [name for name in fits if SUPPORTED[name][1] == jwk.get("crv")]
        if not fits:
            return f"the key's curve is {show(jwk.get('crv'))}, not 'P-256'"
    use = jwk.get("use", "sig")
    if use != "sig":
        return f"the key's use is {show(use)}, not 'sig'"
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return f"the key's key_ops {show(key_ops)} do not include 'verify'"
    members = {name: jwk.get(name) for name in _PUBLIC_MEMBERS[kty]}
    if not all(isinstance(value, str) and value for value in members.values()):
        return f"the key's {', '.join(members)} are not base64url strings"
    data: dict[str, Any] = {"kty": kty, "kid": kid, **members}
    if alg is not None:
        data["alg"] = alg
    key = _import(kty, data)
    if key is None:
        return f"its members are not a valid {kty} public key"
    return key, frozenset(fits)


def _import(kty: str, data: dict[str, Any]) -> VerifyKey | None:
    # None rather than a raise: the caller's reason must not carry joserfc's
    # exception (or the key material it may quote) as its context.
    try:
        key: VerifyKey = (RSAKey if kty == "RSA" else ECKey).import_key(data)
    except (JoseError, ValueError, TypeError):  # binascii.Error is a ValueError
        return None
    return key


class SignatureCheck:
    """Verify compact JWS signatures with the algorithms of one allow-list."""

    __slots__ = ("_registry",)

    def __init__(self, algorithms: Iterable[str]) -> None:
        # The header's parameters are judged by the verifier (alg, crit, kid);
        # joserfc still enforces the allow-list and refuses everything else.
        self._registry = JWSRegistry(algorithms=list(algorithms), strict_check_header=False)

    def verify(self, token: str, key: VerifyKey) -> bytes | None:
        """The payload of ``token`` if it carries a valid signature by ``key``, else None.

        joserfc decodes every segment strictly (canonical base64url only), so a
        token with another spelling of any segment fails here too.
        """
        try:
            return jws.deserialize_compact(token, key, registry=self._registry).payload
        except (JoseError, ValueError, TypeError, KeyError):
            # Whatever joserfc refuses now is the signature or a segment's spelling;
            # the caller tells the two apart.
            return None
