"""Local stand-ins for Amazon Cognito and an API Gateway API, for tests and demos.

Install the extra: ``pip install 'keybearer[testing]'`` (it brings moto). Two
servers, both on 127.0.0.1 with a free port, both started and stopped by you:

* :class:`LocalCognito` runs moto's ``cognito-idp`` in this process as a real
  HTTP server: point your app at :attr:`LocalCognito.url`. It counts the calls
  it gets (:attr:`LocalCognito.calls`) and can fail the next ones on purpose
  (:meth:`LocalCognito.fail_next`).
* :class:`ProtectedApi` authorizes requests like API Gateway's
  ``COGNITO_USER_POOLS`` authorizer, verifying tokens for real against the
  pool's keys.

With pytest, the plugin (registered when the extra is installed) gives the
fixtures ``local_cognito``, ``cognito_user``, ``protected_api``,
``keybearer_client``, ``frozen_clock`` and ``advance``; see
:mod:`keybearer.testing.plugin` and docs/testing.md.

Configure your app with ``cognito.url`` as the Cognito endpoint,
``pool.issuer`` as the expected issuer (the AWS form that tokens carry in
``iss``) and ``pool.jwks_url`` for the keys, and call ``api.url``.

LocalCognito reproduces, rule by rule, what moto alone gets wrong:
``SECRET_HASH`` on every operation that takes one, the app client's
``ExplicitAuthFlows``, token lifetimes from the app client on an injectable
clock, refresh-token expiry and rotation (``GetTokensFromRefreshToken``, with
the retry grace period), ``RevokeToken`` where revocation is on,
``GetClientToken`` and ``/oauth2/token`` (``refresh_token``,
``client_credentials``) with custom scopes. docs/testing.md lists what it
reproduces and what it does not.

Importing this package is cheap: moto, boto3 and werkzeug load when a
:class:`LocalCognito` starts.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "ApiRequest",
    "AppClient",
    "CallCounts",
    "FrozenClock",
    "LocalCognito",
    "Pool",
    "ProtectedApi",
    "User",
]

# Loaded on first use: the pytest plugin imports this package at start-up, and
# collecting an app's tests must not pay for httpx, cryptography or moto.
_LAZY = {
    "ApiRequest": "._api",
    "ProtectedApi": "._api",
    "CallCounts": "._calls",
    "FrozenClock": "._clock",
    "AppClient": "._cognito",
    "LocalCognito": "._cognito",
    "Pool": "._cognito",
    "User": "._cognito",
}

if TYPE_CHECKING:
    from keybearer.testing._api import ApiRequest, ProtectedApi
    from keybearer.testing._calls import CallCounts
    from keybearer.testing._clock import FrozenClock
    from keybearer.testing._cognito import AppClient, LocalCognito, Pool, User


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'keybearer.testing' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
