"""Signing out: revoke the session at the provider, then forget it here.

Kept beside the refresh's rules: a logout holds the same locks as a refresh
(so no refresh here or in another process rotates the token meanwhile) and
re-reads the store first (so it revokes the newest refresh token, not one
another process has already spent).
"""

from __future__ import annotations

import logging

from keybearer._config import CognitoConfig
from keybearer._protocol import Flow, oauth
from keybearer._protocol.cognito_logout import revoke as cognito_revoke
from keybearer._session import Session
from keybearer._tokens import TokenSet
from keybearer.errors import ConfigurationError, KeybearerError, StoreError

logger = logging.getLogger("keybearer")


def revoke_flow(session: Session, tokens: TokenSet, everywhere: bool) -> Flow[bool]:
    """Revoke ``tokens`` where they came from; True if the provider revoked them."""
    config = session.config
    if tokens.origin == "client_credentials":  # [m2m] nothing to revoke: it just expires
        return False
    if tokens.origin == "hosted_ui":
        if everywhere and isinstance(config, CognitoConfig):
            # First, while the access token still works: revoking kills it.
            yield from cognito_revoke(config, tokens, everywhere=True, refresh=False)
        endpoints = yield from session.endpoints_flow()
        return (yield from oauth.revoke(endpoints, config.oauth_client, tokens))
    if tokens.origin == "implicit" and not everywhere:
        return False
    if not isinstance(config, CognitoConfig):
        raise ConfigurationError("logout is a Cognito user pool API; use OAuthClient.cognito()")
    yield from cognito_revoke(config, tokens, everywhere=everywhere, refresh=True)
    return True


def sign_out(session: Session, *, everywhere: bool) -> bool:
    """The whole of ``OAuthClient.logout()``; see its docstring for the contract."""
    revoked = False
    failure: KeybearerError | None = None
    problem: str | None = None
    with session.exclusive():  # no refresh here or elsewhere rotates the token meanwhile
        tokens = session.reread()
        if tokens is not None:
            try:
                if everywhere and tokens.expires_at <= session.clock():
                    # GlobalSignOut takes the access token, so it must be alive.
                    tokens = session.refresh_held(seen=None, rejected=False)
                revoked = session.run_sync(revoke_flow(session, tokens, everywhere))
            except KeybearerError as exc:
                failure = exc
        try:
            session.cache.clear()
        except StoreError as exc:
            problem = str(exc)
    if problem is not None:
        outcome = "revoked it" if revoked else "did not revoke it"
        # Raised outside the except block: no __context__ to carry anything along.
        raise StoreError(
            f"not signed out: the token store still holds the session ({problem}); "
            f"the provider {outcome}"
        )
    if failure is not None:
        logger.warning("signed out locally, but the provider did not revoke: %s", failure)
    return revoked
