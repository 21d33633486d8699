"""The machinery behind :mod:`keybearer.verify`.

``jws`` splits and decodes a compact JWS and checks an RS256 signature;
``jwks`` downloads, parses and caches an issuer's signing keys. Only
``keybearer.verify`` is public; ``cryptography`` and ``httpx`` are imported on
first use, so importing any of these stays cheap.
"""
