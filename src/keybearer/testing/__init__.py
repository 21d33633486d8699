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

In your ``conftest.py``::

    import pytest
    from keybearer.testing import LocalCognito, ProtectedApi

    @pytest.fixture(scope="session")
    def cognito():
        with LocalCognito() as cognito:
            yield cognito

    @pytest.fixture(scope="session")
    def pool(cognito):
        return cognito.create_pool()

    @pytest.fixture(scope="session")
    def app_client(cognito, pool):
        return cognito.create_app_client(pool)  # secret=True for a confidential one

    @pytest.fixture(scope="session")
    def alice(cognito, pool):
        return cognito.create_user(pool, "alice", "Correct-Horse-1")

    @pytest.fixture(scope="session")
    def api(pool, app_client):
        with ProtectedApi(pool.jwks_url, pool.issuer, [app_client.id]) as api:
            yield api

    @pytest.fixture(autouse=True)
    def _fresh(request):
        # only for tests that use the servers: reset counts, failures, the API log
        if "cognito" in request.fixturenames:
            cognito = request.getfixturevalue("cognito")
            cognito.reset_counts()
            cognito.clear_failures()
        if "api" in request.fixturenames:
            request.getfixturevalue("api").reset()

Then configure your app with ``cognito.url`` as the Cognito endpoint,
``pool.issuer`` as the expected issuer (the AWS form that moto writes into
``iss``) and ``pool.jwks_url`` for the keys, and call ``api.url``.

Known differences from real Cognito (moto 5.2.5): no hosted UI (``/oauth2/*``);
``RevokeToken`` is answered by LocalCognito itself (moto lacks it);
``SECRET_HASH`` is checked only on ``REFRESH_TOKEN_AUTH``;
token lifetime is fixed at one hour (use ``ProtectedApi.clock`` to expire
tokens); ID and access tokens share one signing key (``kid`` ``"dummy"``).

Importing this package is cheap: moto, boto3 and werkzeug load when a
:class:`LocalCognito` starts.
"""

from __future__ import annotations

from keybearer.testing._api import ApiRequest, ProtectedApi
from keybearer.testing._cognito import AppClient, CallCounts, LocalCognito, Pool, User

__all__ = [
    "ApiRequest",
    "AppClient",
    "CallCounts",
    "LocalCognito",
    "Pool",
    "ProtectedApi",
    "User",
]
