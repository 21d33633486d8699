"""What the cognito-idp flows read from an app client's settings.

The flows take a :class:`CognitoAppClient` rather than the configuration
model, so the protocol layer imports nothing above it: ``keybearer._config``
(which imports the protocol layer for its endpoint types) satisfies this
protocol structurally, and a test can pass any object with these attributes.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import SecretStr

PasswordFlow = Literal["user_password", "srp"]
"""How a password sign-in proves the password: sent (USER_PASSWORD_AUTH) or by SRP."""


class CognitoAppClient(Protocol):
    """One app client of a Cognito user pool, read-only, as the flows use it.

    ``keybearer._config.CognitoConfig`` is the implementation; its fields are
    already validated (ids, https URLs), so the flows trust these values.
    """

    @property
    def client_id(self) -> str:
        """The app client id (``ClientId`` in every cognito-idp call)."""
        ...

    @property
    def client_secret(self) -> SecretStr | None:
        """The app client secret; None for a public client (no SECRET_HASH sent)."""
        ...

    @property
    def user_pool_id(self) -> str:
        """``<region>_<id>``: named in messages, and SRP's salt uses the id part."""
        ...

    @property
    def issuer(self) -> str:
        """The issuer the pool's tokens carry (``https://cognito-idp.<region>.amazonaws.com/<pool>``)."""
        ...

    @property
    def idp_url(self) -> str:
        """Where the cognito-idp JSON API is (AWS's, a VPC endpoint, or a local stand-in)."""
        ...

    @property
    def scopes(self) -> tuple[str, ...]:
        """The OAuth scopes this client asks for."""
        ...

    @property
    def timeout(self) -> float:
        """Seconds each cognito-idp call may take."""
        ...

    @property
    def password_flow(self) -> PasswordFlow:
        """Which sign-in a password login starts (and which a choice prefers)."""
        ...

    @property
    def rotate_refresh_tokens(self) -> bool:
        """Whether the app client rotates refresh tokens (GetTokensFromRefreshToken)."""
        ...
