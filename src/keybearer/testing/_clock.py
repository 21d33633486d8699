"""A clock for tests: stands still until told to move."""

from __future__ import annotations

import threading
import time

__all__ = ["FrozenClock"]


class FrozenClock:
    """A ``time.time`` stand-in that moves only when :meth:`advance` is called.

    Give the same instance to ``LocalCognito.clock``, ``ProtectedApi.clock`` and
    ``OAuthClient.cognito(clock=...)``: then tokens expire, refresh tokens run
    out and grace periods end exactly when the test says, never by sleeping.
    """

    def __init__(self, start: float | None = None) -> None:
        """Start at ``start`` seconds since the epoch (default: now, on a whole second)."""
        self._lock = threading.Lock()
        self._now = float(int(time.time()) if start is None else start)

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (not backward) and return the new time."""
        if seconds < 0:
            raise ValueError("a FrozenClock only moves forward")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"FrozenClock({self():.0f})"
