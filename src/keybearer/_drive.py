"""Run a sans-I/O flow with a real httpx client, sync or async.

Transport failures become keybearer's transient errors here, in one place, so
that flows only ever see responses.
"""

from __future__ import annotations

from typing import TypeVar

import httpx

from .errors import NetworkError, RequestTimeoutError, TransientError
from .flows import Flow

T = TypeVar("T")


def _transport_error(exc: httpx.TransportError, request: httpx.Request) -> TransientError:
    # Only the origin is named: flows never put secrets in URLs, but a path or
    # query is the caller's business. The OS-level reason is kept; it holds none.
    where = f"{request.url.scheme}://{request.url.netloc.decode()}"
    reason = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"{where} did not answer in time ({reason})")
    return NetworkError(f"could not reach {where} ({reason})")


def run_sync(flow: Flow[T], client: httpx.Client) -> T:
    """Drive ``flow`` to its result with a sync client."""
    try:
        request = next(flow)
        while True:
            try:
                response = client.send(request)
                response.read()
            except httpx.TransportError as exc:
                raise _transport_error(exc, request) from None
            request = flow.send(response)
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()


async def run_async(flow: Flow[T], client: httpx.AsyncClient) -> T:
    """Drive ``flow`` to its result with an async client."""
    try:
        request = next(flow)
        while True:
            try:
                response = await client.send(request)
                await response.aread()
            except httpx.TransportError as exc:
                raise _transport_error(exc, request) from None
            request = flow.send(response)
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()
