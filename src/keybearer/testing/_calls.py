"""What :class:`~keybearer.testing.LocalCognito` observed and what it was told to break.

:class:`CallCounts` counts the calls the server received; :class:`Failures`
holds the answers planned with ``LocalCognito.fail_next`` until a matching call
takes them.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["CallCounts", "Failure", "Failures"]


class CallCounts(Mapping[str, int]):
    """Thread-safe counts of the calls :class:`LocalCognito` received.

    Keys are operation names (``"InitiateAuth"``, ``"RespondToAuthChallenge"``,
    ``"GlobalSignOut"``, ``"AdminCreateUser"``, ...), ``"InitiateAuth:<AuthFlow>"``
    (e.g. ``"InitiateAuth:REFRESH_TOKEN_AUTH"``), ``"JWKS"`` for downloads of a
    pool's ``jwks.json`` and ``"OpenIdConfiguration"``. Like
    :class:`collections.Counter`, a key never seen counts ``0``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def __getitem__(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._counts

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._counts))

    def __len__(self) -> int:
        with self._lock:
            return len(self._counts)

    def __repr__(self) -> str:
        return f"CallCounts({self.snapshot()!r})"

    def snapshot(self) -> dict[str, int]:
        """Return a plain copy of the counts at this moment."""
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()

    def _add(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._counts.update(keys)


@dataclass(frozen=True)
class Failure:
    status: int
    error_type: str | None
    body: bytes


class Failures:
    """Planned failures, by counter key; the most specific key is used first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Failure]] = {}

    def add(self, key: str, failure: Failure, times: int) -> None:
        with self._lock:
            self._queues.setdefault(key, deque()).extend([failure] * times)

    def take(self, keys: Sequence[str]) -> Failure | None:
        with self._lock:
            for key in reversed(keys):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
        return None

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
