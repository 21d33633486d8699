"""Run a sans-I/O flow with a real httpx client, sync or async.

Transport failures become keybearer's transient errors here, in one place, so
that flows only ever see responses. Three more rules live here for the same
reason:

- a request's ``timeout`` bounds the whole answer, not each read: a provider
  that trickles its answer a byte at a time still times out;
- an answer is read up to :data:`MAX_BODY` bytes, never more (the flows
  themselves parse at most half of that), and one whose
  encoding cannot be decoded is a ``ProtocolError``, not an httpx exception;
- a throttled call (HTTP 429, or cognito-idp's ``TooManyRequestsException``)
  is sent again a bounded number of times, after a jittered back-off that
  honours ``Retry-After`` (:class:`Retry`). Nothing else is retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

import httpx

from keybearer._chains import detached
from keybearer._protocol import Flow, responses
from keybearer._protocol.responses import aws_error_type, retry_after
from keybearer._redact import request_secrets, scrub
from keybearer.errors import (
    KeybearerError,
    NetworkError,
    ProtocolError,
    RequestTimeoutError,
    TransientError,
)

logger = logging.getLogger("keybearer")

T = TypeVar("T")

#: The largest answer read from a provider: twice what a flow will parse
#: (:data:`keybearer._protocol.responses.MAX_BODY`), so a flow can still say
#: how large the answer was.
MAX_BODY = 2 * responses.MAX_BODY

_THROTTLE_TYPES = frozenset({"TooManyRequestsException"})


@dataclass(frozen=True)
class Retry:
    """Bounded, jittered retries of throttled calls only.

    A call is sent at most ``attempts`` times. Before the n-th resend the wait
    is drawn uniformly from ``[0, base * 2**(n-1)]`` ("full jitter", so clients
    throttled together do not come back together), or is the provider's
    ``Retry-After`` plus up to ``base`` of jitter. A wait longer than ``cap`` is
    not waited: the ``ThrottledError`` (with ``retry_after``) is raised at once.
    ``sleep``/``asleep`` are injectable so tests never wait.
    """

    attempts: int = 3
    base: float = 0.5
    cap: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[float, float], float] = random.uniform

    def delay(self, response: httpx.Response, retry: int) -> float | None:
        """Seconds to wait before resend number ``retry`` (1, 2, ...), or None to give up."""
        if retry >= self.attempts:
            return None
        asked = retry_after(response)
        if asked is not None:
            wait = asked + self.jitter(0.0, self.base)
        else:
            wait = self.jitter(0.0, self.base * 2 ** (retry - 1))
        return wait if wait <= self.cap else None


#: The default policy; a session takes its own (``Session(retry=...)``).
RETRY = Retry()


def throttled(response: httpx.Response) -> bool:
    """HTTP 429, or cognito-idp's TooManyRequestsException (HTTP 400)."""
    if response.status_code == 429:
        return True
    if response.status_code != 400:
        return False
    body: object = None
    if not response.headers.get("x-amzn-errortype") and len(response.content) <= 4096:
        body = responses.json_or_none(response, "the provider's answer")
    return aws_error_type(response, body) in _THROTTLE_TYPES


def _where(request: httpx.Request) -> str:
    # Only the origin is named: flows never put secrets in URLs, but a path or
    # query is the caller's business.
    return f"{request.url.scheme}://{request.url.netloc.decode()}"


def _transport_error(exc: httpx.TransportError, request: httpx.Request) -> TransientError:
    # The OS-level reason is kept; it holds no secret.
    where = _where(request)
    reason = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"{where} did not answer in time ({reason})")
    return NetworkError(f"could not reach {where} ({reason})")


def _unreadable(exc: httpx.HTTPError, request: httpx.Request) -> ProtocolError:
    # e.g. a Content-Encoding that is not what the body is (httpx.DecodingError).
    return ProtocolError(
        f"the answer from {_where(request)} could not be read ({type(exc).__name__})"
    )


class _Body:
    """The answer's bytes, within the request's time budget and MAX_BODY."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        timeout = request.extensions.get("timeout")
        budget = timeout.get("read") if isinstance(timeout, dict) else None
        self.deadline = time.monotonic() + float(budget) if budget is not None else None
        self.size = 0
        self.chunks: list[bytes] = []

    def add(self, chunk: bytes) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise RequestTimeoutError(
                f"{_where(self.request)} did not finish its answer in time (it was still "
                "arriving when the timeout ran out)"
            )
        self.size += len(chunk)
        if self.size > MAX_BODY:
            raise ProtocolError(
                f"the answer from {_where(self.request)} is larger than {MAX_BODY} bytes, "
                "far larger than any answer keybearer expects"
            )
        self.chunks.append(chunk)

    def response(self, streamed: httpx.Response) -> httpx.Response:
        # The body is decoded already: drop the headers that described its encoding.
        headers = [
            (name, value)
            for name, value in streamed.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=b"".join(self.chunks),
            request=self.request,
        )


@detached()  # a TransportError keeps the request: its body holds the secrets
def _send_sync(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    body = _Body(request)
    try:
        streamed = client.send(request, stream=True)
        try:
            for chunk in streamed.iter_bytes():
                body.add(chunk)
        finally:
            streamed.close()
    except httpx.TransportError as exc:
        raise _transport_error(exc, request) from None
    except httpx.HTTPError as exc:
        raise _unreadable(exc, request) from None
    return body.response(streamed)


@detached()
async def _send_async(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    body = _Body(request)
    try:
        streamed = await client.send(request, stream=True)
        try:
            async for chunk in streamed.aiter_bytes():
                body.add(chunk)
        finally:
            await streamed.aclose()
    except httpx.TransportError as exc:
        raise _transport_error(exc, request) from None
    except httpx.HTTPError as exc:
        raise _unreadable(exc, request) from None
    return body.response(streamed)


@dataclass(frozen=True)
class _Sleep:
    seconds: float


def _exchanges(
    flow: Flow[T], policy: Retry
) -> Generator[httpx.Request | _Sleep, httpx.Response | None, T]:
    """The flow with the retry policy around it: yields requests to send and waits to wait.

    Written once for both drivers: each only sends a request (and sends back
    its response) or sleeps (and sends back None).
    """
    try:
        request = next(flow)
    except StopIteration as stop:
        first: T = stop.value
        return first
    while True:
        response = yield request
        assert response is not None
        _log_call(request, response)
        resent = 0
        while throttled(response):
            wait = policy.delay(response, resent + 1)
            if wait is None:
                break
            yield _Sleep(wait)
            resent += 1
            response = yield request
            assert response is not None
            _log_call(request, response)
        try:
            request = flow.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result
        except KeybearerError as exc:
            # Backstop for every flow on every endpoint: whatever it says about
            # this answer is redacted of the secrets the request carried.
            scrub(exc, request_secrets(request))
            raise


def _log_call(request: httpx.Request, response: httpx.Response) -> None:
    """One DEBUG line per provider call (the CLI's ``--debug``): what, where, the status.

    The URL goes without its query and the cognito-idp operation comes from the
    ``X-Amz-Target`` header: neither a header's value nor a body, so never a secret.
    """
    if logger.isEnabledFor(logging.DEBUG):
        target = request.headers.get("X-Amz-Target", "")
        operation = f" {target.rpartition('.')[2]}" if target else ""
        url = request.url.copy_with(query=None, fragment=None)
        logger.debug(
            "provider call: %s %s%s -> HTTP %d",
            request.method,
            url,
            operation,
            response.status_code,
        )


def run_sync(flow: Flow[T], client: httpx.Client, *, retry: Retry | None = None) -> T:
    """Drive ``flow`` to its result with a sync client."""
    policy = retry or RETRY
    steps = _exchanges(flow, policy)
    try:
        step = next(steps)
        while True:
            if isinstance(step, _Sleep):
                policy.sleep(step.seconds)
                step = steps.send(None)
            else:
                step = steps.send(_send_sync(client, step))
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()


async def run_async(flow: Flow[T], client: httpx.AsyncClient, *, retry: Retry | None = None) -> T:
    """Drive ``flow`` to its result with an async client."""
    policy = retry or RETRY
    steps = _exchanges(flow, policy)
    try:
        step = next(steps)
        while True:
            if isinstance(step, _Sleep):
                await policy.asleep(step.seconds)
                step = steps.send(None)
            else:
                step = steps.send(await _send_async(client, step))
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()
