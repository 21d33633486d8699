"""keybearer's pytest plugin: a local Cognito, a protected API and a signed-in client.

Installed with ``pip install 'keybearer[testing]'`` and registered through the
``pytest11`` entry point, so an app's tests need no ``conftest.py``::

    def test_pets(keybearer_client, cognito_user, protected_api):
        user = cognito_user()
        keybearer_client.login_password(user.username, user.password)
        with keybearer_client.http(base_url=protected_api.url) as http:
            assert http.get("/pets").status_code == 200

Fixtures:

* ``local_cognito`` (session): a :class:`~keybearer.testing.LocalCognito` on
  127.0.0.1; ``cognito_pool`` and ``cognito_app_client`` (session): a user pool
  and a public app client allowing ``USER_PASSWORD_AUTH`` and refresh.
* ``cognito_user`` (factory): ``cognito_user(username=None, password=None, *,
  attributes=None, mfa=None, temporary=False)`` creates a user in the pool.
* ``protected_api``: a :class:`~keybearer.testing.ProtectedApi` that accepts the
  app client's tokens like API Gateway's Cognito authorizer: ID tokens, or an
  access token with one of a path's scopes after ``require_scopes``. Its log,
  revocations and scopes are reset for every test.
* ``keybearer_client``: an :class:`~keybearer.OAuthClient` for the pool and app
  client, with a :class:`~keybearer.MemoryStore` and the ``frozen_clock``.
* ``frozen_clock`` and ``advance``: a :class:`~keybearer.testing.FrozenClock`
  shared by the client, LocalCognito and the API for the test, and its
  ``advance(seconds)``: tokens expire when the test says so.

Every cognito-idp exchange of a test that uses ``local_cognito`` is checked
against botocore's service model; a request or answer that does not fit fails
the test (``keybearer_check_shapes = false`` in the ini file turns it off).

Importing the plugin loads nothing heavy: moto, boto3 and keybearer itself are
imported by the fixtures that need them, so test collection stays fast and a
project without moto only sees an error in the tests that use these fixtures.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Literal

import pytest

if TYPE_CHECKING:
    from keybearer import OAuthClient
    from keybearer.testing import AppClient, FrozenClock, LocalCognito, Pool, ProtectedApi, User
    from keybearer.testing._shapes import ShapeChecker

_INSTALL = "pip install 'keybearer[testing]'"
_names = itertools.count(1)
#: A password that passes Cognito's default policy.
DEFAULT_PASSWORD = "Correct-Horse-Battery-1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "keybearer_check_shapes",
        "check every cognito-idp exchange with local_cognito against botocore's service model",
        type="bool",
        default=True,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "keybearer_no_shape_check: do not check this test's cognito-idp exchanges"
    )


def _need_moto() -> None:
    try:
        import moto  # noqa: F401  # only to tell a missing extra from a broken set-up
    except ImportError:
        pytest.fail(
            f"keybearer's Cognito fixtures need moto, which is not installed: {_INSTALL}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def local_cognito() -> Iterator[LocalCognito]:
    """A local Cognito (moto plus Cognito's rules) on 127.0.0.1, for the whole session."""
    _need_moto()
    from keybearer.testing import LocalCognito  # lazy: keep collection fast

    with LocalCognito() as cognito:
        yield cognito


@pytest.fixture(scope="session")
def cognito_pool(local_cognito: LocalCognito) -> Pool:
    """A user pool in ``local_cognito``."""
    return local_cognito.create_pool()


@pytest.fixture(scope="session")
def cognito_app_client(local_cognito: LocalCognito, cognito_pool: Pool) -> AppClient:
    """A public app client of ``cognito_pool`` (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH)."""
    return local_cognito.create_app_client(cognito_pool, "keybearer-tests")


@pytest.fixture
def cognito_user(local_cognito: LocalCognito, cognito_pool: Pool) -> Callable[..., User]:
    """A factory of users in ``cognito_pool``.

    ``cognito_user(username=None, password=None, *, attributes=None, mfa=None,
    temporary=False)``: a unique username and a valid password unless given;
    ``mfa`` is ``"SMS_MFA"`` or ``"SOFTWARE_TOKEN_MFA"``; ``temporary=True``
    makes the first sign-in answer ``NEW_PASSWORD_REQUIRED``.
    """

    def make(
        username: str | None = None,
        password: str | None = None,
        *,
        attributes: dict[str, str] | None = None,
        mfa: Literal["SMS_MFA", "SOFTWARE_TOKEN_MFA"] | None = None,
        temporary: bool = False,
    ) -> User:
        return local_cognito.create_user(
            cognito_pool,
            username or f"user-{next(_names)}-{time.monotonic_ns() % 1_000_000}",
            password or DEFAULT_PASSWORD,
            attributes=attributes,
            mfa=mfa,
            temporary=temporary,
        )

    return make


@pytest.fixture(scope="session")
def _keybearer_api_server(
    cognito_pool: Pool, cognito_app_client: AppClient
) -> Iterator[ProtectedApi]:
    from keybearer.testing import ProtectedApi  # lazy: keep collection fast

    with ProtectedApi(cognito_pool.jwks_url, cognito_pool.issuer, [cognito_app_client.id]) as api:
        yield api


@pytest.fixture
def protected_api(_keybearer_api_server: ProtectedApi) -> Iterator[ProtectedApi]:
    """An API behind a Cognito authorizer for ``cognito_app_client``, fresh for each test."""
    _keybearer_api_server.reset()
    yield _keybearer_api_server
    _keybearer_api_server.reset()


@pytest.fixture
def frozen_clock(request: pytest.FixtureRequest) -> Iterator[FrozenClock]:
    """A clock that moves only with ``advance``; LocalCognito and the API follow it too."""
    from keybearer.testing import FrozenClock  # lazy: keep collection fast

    clock = FrozenClock()
    servers = [
        request.getfixturevalue(name)
        for name in ("local_cognito", "protected_api")
        if name in request.fixturenames
    ]
    for server in servers:
        server.clock = clock
    yield clock
    for server in servers:
        server.clock = time.time


@pytest.fixture
def advance(frozen_clock: FrozenClock) -> Callable[[float], float]:
    """``advance(seconds)``: move the ``frozen_clock`` forward; returns the new time."""
    return frozen_clock.advance


@pytest.fixture
def keybearer_client(
    local_cognito: LocalCognito,
    cognito_pool: Pool,
    cognito_app_client: AppClient,
    frozen_clock: FrozenClock,
) -> Iterator[OAuthClient]:
    """An OAuthClient for ``cognito_app_client`` with a MemoryStore, not signed in yet."""
    import keybearer  # lazy: keep collection fast

    client = keybearer.OAuthClient.cognito(
        cognito_pool.id,
        cognito_app_client.id,
        idp_url=local_cognito.url,
        store=keybearer.MemoryStore(),
        clock=frozen_clock,
    )
    yield client
    client.close()


def _shape_checker(config: pytest.Config) -> ShapeChecker:
    from keybearer.testing._shapes import ShapeChecker  # lazy: botocore loads its model

    checker: ShapeChecker | None = config.stash.get(_CHECKER, None)
    if checker is None:
        checker = ShapeChecker()
        config.stash[_CHECKER] = checker
    return checker


_CHECKER = pytest.StashKey["ShapeChecker"]()


@pytest.fixture(autouse=True)
def _keybearer_local_cognito_per_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """For tests that use ``local_cognito``: fresh counts and failures, the shape check."""
    if "local_cognito" not in request.fixturenames:
        yield
        return
    cognito: LocalCognito = request.getfixturevalue("local_cognito")
    cognito.reset_counts()
    cognito.clear_failures()
    check = bool(request.config.getini("keybearer_check_shapes")) and (
        request.node.get_closest_marker("keybearer_no_shape_check") is None
    )
    if not check:
        yield
        return
    checker = _shape_checker(request.config)
    checker.take()
    cognito.add_observer(checker)
    try:
        yield
    finally:
        cognito.remove_observer(checker)
    violations = checker.take()
    if violations:
        listed = "\n".join(f"  - {v}" for v in dict.fromkeys(violations))
        pytest.fail(
            "cognito-idp exchanges that do not fit botocore's service model:\n" + listed,
            pytrace=False,
        )
