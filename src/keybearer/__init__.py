"""keybearer: sign in to an Amazon Cognito user pool once, then call the API with httpx.

    import keybearer

    client = keybearer.OAuthClient.cognito(user_pool_id="us-east-1_AbCdEf123",
                                           client_id="1example23456789")
    client.login_password("alice", "Correct-Horse-1")
    with client.http(base_url="https://abc123.execute-api.us-east-1.amazonaws.com/prod") as api:
        api.get("/pets").raise_for_status()

Public names are loaded on first use, so ``import keybearer`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

__all__ = [
    "Challenge",
    "CodeChallenge",
    "CustomChallenge",
    "Diagnosis",
    "EmailOtp",
    "FileStore",
    "KeyringStore",
    "MemoryStore",
    "MfaSetup",
    "NewPasswordRequired",
    "OAuthClient",
    "RedisStore",
    "SelectChallenge",
    "SelectMfaType",
    "SmsMfa",
    "SmsOtp",
    "SoftwareTokenMfa",
    "TokenSet",
    "TokenStore",
    "TotpSetup",
    "errors",
    "explain",
]

_LAZY = {
    "OAuthClient": "._client",
    "TokenSet": "._tokens",
    "Challenge": "._challenges",
    "CodeChallenge": "._challenges",
    "CustomChallenge": "._challenges",
    "EmailOtp": "._challenges",
    "MfaSetup": "._challenges",
    "NewPasswordRequired": "._challenges",
    "SelectChallenge": "._challenges",
    "SelectMfaType": "._challenges",
    "SmsMfa": "._challenges",
    "SmsOtp": "._challenges",
    "SoftwareTokenMfa": "._challenges",
    "TotpSetup": "keybearer._challenges",
    "Diagnosis": "._diagnose",
    "TokenStore": ".stores._base",
    "MemoryStore": ".stores.memory",
    "FileStore": ".stores.file",
    "KeyringStore": ".stores.keyring",
    "RedisStore": ".stores.redis",
}

if TYPE_CHECKING:
    from keybearer import errors
    from keybearer._challenges import (
        Challenge,
        CodeChallenge,
        CustomChallenge,
        EmailOtp,
        MfaSetup,
        NewPasswordRequired,
        SelectChallenge,
        SelectMfaType,
        SmsMfa,
        SmsOtp,
        SoftwareTokenMfa,
        TotpSetup,
    )
    from keybearer._client import OAuthClient
    from keybearer._diagnose import Diagnosis
    from keybearer._tokens import TokenSet
    from keybearer.stores._base import TokenStore
    from keybearer.stores.file import FileStore
    from keybearer.stores.keyring import KeyringStore
    from keybearer.stores.memory import MemoryStore
    from keybearer.stores.redis import RedisStore


def explain(response: Any) -> Diagnosis | None:
    """Why the API refused this response's request (401/403), if keybearer sent its token."""
    # Lazy like the names in _LAZY: `import keybearer` loads no submodule it does not need.
    from keybearer._diagnose import Diagnosis

    value = getattr(response, "extensions", {}).get("keybearer.diagnosis")
    return value if isinstance(value, Diagnosis) else None


def __getattr__(name: str) -> Any:
    if name == "errors":
        return import_module(".errors", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'keybearer' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
