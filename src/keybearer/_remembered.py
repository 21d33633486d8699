"""The client's side of remembered devices: which secret a sign-in uses, what it stores after.

Kept apart from ``_client.py`` so the client only calls in: a sign-in asks
:meth:`Remembered.for_login` for its :class:`Device`, and hands the finished
:class:`Step` to :meth:`Remembered.settle`, which stores a newly confirmed
device or drops one Cognito forgot.
"""

from __future__ import annotations

import logging

from keybearer._challenges import Challenge
from keybearer._config import CognitoConfig
from keybearer._devices import DeviceSecret, delete_device, device_name, load_device, save_device
from keybearer._protocol.cognito_password import Device, Step
from keybearer._tokens import TokenSet
from keybearer.errors import StoreError
from keybearer.stores._base import TokenStore

logger = logging.getLogger("keybearer")


class Remembered:
    """Device secrets of one client's session key, in its token store."""

    def __init__(self, config: CognitoConfig, store: TokenStore) -> None:
        self._config = config
        self._store = store
        self._key = config.store_key

    def for_login(self, login_name: str) -> Device:
        """The device a sign-in as ``login_name`` proves, and whether to confirm a new one."""
        return Device(
            secret=load_device(self._store, self._key, login_name),
            remember=self._config.remember_device,
            name=device_name(),
        )

    def settings(self) -> Device:
        """Whether and as what to confirm a new device; no secret (a challenge carries its own)."""
        return Device(remember=self._config.remember_device, name=device_name())

    def settle(self, step: Step, login_name: str) -> TokenSet | Challenge:
        """Store or drop the device as ``step`` says; return its result."""
        if step.device_gone:
            self.drop(login_name)
        if step.new_device is not None and isinstance(step.result, TokenSet):
            save_device(self._store, self._key, step.new_device, login_name, step.result.username)
            logger.info("this device is now remembered for %s", step.result.username)
        return step.result

    def current(self, tokens: TokenSet | None) -> DeviceSecret | None:
        """The device secret of the signed-in user, if one is stored."""
        if tokens is None or not tokens.username:
            return None
        return load_device(self._store, self._key, tokens.username)

    def drop(self, login_name: str) -> None:
        """Drop the device secret of ``login_name``: Cognito no longer knows the device."""
        logger.info("Cognito no longer knows the remembered device; its secret is dropped")
        self._drop(None, login_name)

    def _drop(self, secret: DeviceSecret | None, *names: str | None) -> None:
        try:
            delete_device(self._store, self._key, secret, *names)
        except StoreError as exc:
            logger.warning("could not delete the device secret: %s", exc)

    def forget(self, secret: DeviceSecret | None, tokens: TokenSet | None) -> None:
        """Delete the local device secret of the signed-in user."""
        self._drop(secret, tokens.username if tokens is not None else None)
