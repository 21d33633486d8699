"""pytest fixtures for the oidc-provider peer (Cognito's hosted UI stand-in).

Use them from a test module with ``pytest_plugins = ["oidc_fixtures"]`` (or list
the module in ``tests/conftest.py``). ``oidc`` starts one peer per session, on
a free 127.0.0.1 port, and installs its npm packages first if needed; it fails
when Node.js is not installed (never skips). ``oidc_clean`` is the same peer with the
start settings (rotation off, 60 s tokens) and zero counts, before and after
the test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from peers.oidc_peer import OidcPeer


@pytest.fixture(scope="session")
def oidc() -> Iterator[OidcPeer]:
    if shutil.which("node") is None:
        # A missing peer fails the tests that need it: a skip would hide them in CI.
        pytest.fail("Node.js (`node`) is not installed: the oidc-provider peer needs Node 20+")
    with OidcPeer() as peer:
        yield peer


@pytest.fixture
def oidc_clean(oidc: OidcPeer) -> Iterator[OidcPeer]:
    oidc.reset()
    yield oidc
    oidc.reset()
