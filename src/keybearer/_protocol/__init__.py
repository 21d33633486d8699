"""Sans-I/O protocol flows.

Each flow is a generator that yields the ``httpx.Request`` to send, receives the
``httpx.Response`` and finally returns its result; ``keybearer._io.drive`` runs a
flow with a sync or an async httpx client. Flows never touch sockets, clocks,
stores or locks, so one flow serves both faces and tests can replay any answer.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

import httpx

T = TypeVar("T")

Flow = Generator[httpx.Request, httpx.Response, T]
