"""The machinery behind :mod:`keybearer.verify` and the checks of received tokens.

``unverified`` is the one JWT segment decoder (strict base64url, no joserfc);
``rules`` holds keybearer's header and claim rules; ``jws`` wraps joserfc (key
import, signature check) and is loaded on first use; ``jwks`` downloads and
caches an issuer's keys; ``accepted`` remembers tokens that verified;
``verifier`` is ``JwtVerifier``; ``id_token`` checks ID tokens on sign-in and
refresh with authlib's OIDC claim classes (loaded on first use).
"""
