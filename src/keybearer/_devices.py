"""Remembered-device secrets and where they live in the token store.

A device secret sits next to the session it belongs to, under
``<session key>:device:<username>``, one per user: the name typed at sign-in
(the only one known before Cognito answers) and, if Cognito's own username
differs, that one too, so :meth:`OAuthClient.forget_device` finds it from the
tokens. Nothing here ever shows the secret: its repr is redacted.
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass, field

from pydantic import SecretStr

from keybearer.errors import StoreError
from keybearer.stores._base import TokenStore

logger = logging.getLogger("keybearer")


@dataclass(frozen=True, repr=False)
class DeviceSecret:
    """A remembered device: its key, its group key and the password only this machine knows.

    ``names`` are the usernames it is stored under. All three secrets are kept
    out of every repr.
    """

    device_key: str = field(repr=False)
    group_key: str = field(repr=False)
    password: SecretStr = field(repr=False)
    names: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return "DeviceSecret(<redacted>)"

    __str__ = __repr__

    def to_json(self) -> str:
        return json.dumps(
            {
                "device_key": self.device_key,
                "group_key": self.group_key,
                "password": self.password.get_secret_value(),
                "names": list(self.names),
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> DeviceSecret:
        try:
            data = json.loads(raw)
            values = (data["device_key"], data["group_key"], data["password"])
            names = data.get("names", [])
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            raise StoreError("the stored device secret is damaged") from None
        if not all(isinstance(value, str) and value for value in values) or not isinstance(
            names, list
        ):
            raise StoreError("the stored device secret is damaged")
        return cls(
            values[0],
            values[1],
            SecretStr(values[2]),
            tuple(name for name in names if isinstance(name, str)),
        )


def device_name() -> str:
    """The name ConfirmDevice gives this machine (Cognito shows it in the user's device list)."""
    return f"keybearer on {socket.gethostname() or 'this computer'}"[:1024]


def _key(session_key: str, username: str) -> str:
    return f"{session_key}:device:{username}"


def load_device(store: TokenStore, session_key: str, username: str) -> DeviceSecret | None:
    """The device secret for ``username``; an unreadable or damaged one counts as none."""
    try:
        raw = store.load(_key(session_key, username))
        return DeviceSecret.from_json(raw) if raw is not None else None
    except StoreError as exc:
        logger.warning("signing in without the remembered device: %s", exc)
        return None


def save_device(
    store: TokenStore, session_key: str, secret: DeviceSecret, *usernames: str | None
) -> DeviceSecret:
    """Store ``secret`` under each distinct username given; returns it with those names."""
    names = tuple(dict.fromkeys(name for name in usernames if name))
    secret = DeviceSecret(secret.device_key, secret.group_key, secret.password, names)
    try:
        for name in names:
            store.save(_key(session_key, name), secret.to_json())
    except StoreError as exc:
        logger.warning("the device is confirmed but its secret was not stored: %s", exc)
    return secret


def delete_device(
    store: TokenStore, session_key: str, secret: DeviceSecret | None, *usernames: str | None
) -> None:
    """Remove the device secret stored under ``usernames`` and under the names it records."""
    names = set(secret.names if secret is not None else ()) | {n for n in usernames if n}
    for name in names:
        store.delete(_key(session_key, name))
