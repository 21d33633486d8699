"""moto as LocalCognito runs it: a quiet threaded werkzeug server, a boto3 admin client.

Everything here imports moto, boto3 or werkzeug, so it runs only when a
LocalCognito starts.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import TYPE_CHECKING, Any

from keybearer.testing._dispatch import Dispatcher, WSGIApp
from keybearer.testing._serving import LOOPBACK, ConnectionTracking

if TYPE_CHECKING:
    import socketserver

__all__ = ["make_admin_client", "make_moto_server"]


class _SharedKeys:
    """Stands in for the ``joserfc.jwk`` module inside moto's Cognito models.

    moto builds every user pool's signing key from the same bundled
    ``jwks-private.json``, and joserfc checks the RSA private key each time:
    0.2-0.7 s per ``CreateUserPool``, most of a session fixture's start-up.
    The key is moto's own published test key (a constant, not input), so it
    is built once without the private-key consistency check and the same key
    object is handed to every pool.
    """

    def __init__(self, jwk_module: Any) -> None:
        self._real = jwk_module.RSAKey
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self.RSAKey = self

    def import_key(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(value, dict):
            return self._real.import_key(value, *args, **kwargs)
        cache_key = json.dumps(value, sort_keys=True)
        with self._lock:
            key = self._keys.get(cache_key)
            if key is None:
                key = self._keys[cache_key] = self._real.import_key(_private_key(value))
            return key


def _b64_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def _private_key(jwk: dict[str, Any]) -> Any:
    """An RSA private key from a JWK with ``n``, ``e`` and ``d``, built without re-validation."""
    # Imported here with moto, which brings cryptography in: only when a LocalCognito starts.
    from cryptography.hazmat.primitives.asymmetric import rsa

    n, e, d = _b64_int(jwk["n"]), _b64_int(jwk["e"]), _b64_int(jwk["d"])
    p, q = rsa.rsa_recover_prime_factors(n, e, d)
    numbers = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, n),
    )
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


def _share_the_pool_key() -> None:
    # Imported here: moto pulls in flask, boto and hundreds of modules.
    from moto.cognitoidp import models

    current = vars(models)["jwk"]
    if not isinstance(current, _SharedKeys):
        models.jwk = _SharedKeys(current)  # type: ignore[attr-defined,assignment]


class _QuietRequestHandlerMixin:
    """Drops werkzeug's one-line log of every request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def make_moto_server(port: int, dispatcher: Dispatcher) -> socketserver.BaseServer:
    # Imported here: moto pulls in flask, boto and hundreds of modules.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import ThreadedWSGIServer

    class _Handler(_QuietRequestHandlerMixin, MotoRequestHandler):
        pass

    class _Server(ConnectionTracking, ThreadedWSGIServer):
        thread_name = "LocalCognito"

    _share_the_pool_key()
    moto_app: WSGIApp = DomainDispatcherApplication(create_backend_app)
    dispatcher.moto_app = moto_app
    return _Server(LOOPBACK, port, dispatcher, handler=_Handler)


def make_admin_client(endpoint_url: str, region: str) -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=region,
    )
    return session.client(
        "cognito-idp",
        endpoint_url=endpoint_url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
