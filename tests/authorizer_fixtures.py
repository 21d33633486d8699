"""The API Gateway stand-in built on ``CognitoVerifier.authorize``, shared by its users.

test_authorizer_api.py defines :class:`AuthorizerApi` and tests it;
test_doctor.py runs ``keybearer doctor`` against it. One server serves both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keybearer.testing import AppClient, Pool
from test_authorizer_api import ROUTES, AuthorizerApi


@pytest.fixture(scope="session")
def authorizer_server(
    pool: Pool, public_client: AppClient, secret_client: AppClient
) -> Iterator[AuthorizerApi]:
    with AuthorizerApi(pool, [public_client.id, secret_client.id], ROUTES) as server:
        yield server


@pytest.fixture
def authorizer(authorizer_server: AuthorizerApi) -> Iterator[AuthorizerApi]:
    """``authorizer_server`` with its log reset before and after the test."""
    authorizer_server.reset()
    yield authorizer_server
    authorizer_server.reset()
