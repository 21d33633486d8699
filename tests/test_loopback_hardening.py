"""The loopback redirect receiver under hostile or careless traffic.

It listens on 127.0.0.1 only; refuses what is not this sign-in's redirect (wrong
path, wrong or missing ``state``, another method) without ending the wait; keeps
working under a flood of bogus requests; and leaves nothing behind (no thread,
no listening socket, no open connection) when the redirect arrives, when the
wait times out, or when the person presses Ctrl-C (sync and asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import keybearer
from keybearer import errors
from keybearer._signin.loopback import LoopbackReceiver

STATE = "the-real-state-" + "s" * 20
POOL = "us-east-1_Loop1"
CLIENT = "loopbackclient"
FLOOD_THREADS = 20
FLOOD_REQUESTS = 500


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """No thread of ours survives the test, beyond a short grace for handlers to end."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not extra, f"threads left behind: {[t.name for t in extra]}"


def nothing_listens(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def raw_get(port: int, target: str, *, method: str = "GET", read: bool = True) -> bytes:
    """One HTTP/1.1 request on a fresh connection; the answer (status line first)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        if not read:
            return b""
        data = b""
        with contextlib.suppress(OSError):
            while chunk := conn.recv(65536):
                data += chunk
        return data


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def client(**options: Any) -> keybearer.OAuthClient:
    values: dict[str, Any] = {
        "domain": "https://auth.example.test",
        "redirect_uri": "http://127.0.0.1:0/callback",
        "store": keybearer.MemoryStore(),
    }
    values.update(options)
    return keybearer.OAuthClient.cognito(POOL, CLIENT, **values)


# -- where it listens --------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_it_listens_on_127_0_0_1_only(host: str, no_leftovers: None) -> None:
    with LoopbackReceiver(f"http://{host}:0/callback", STATE) as receiver:
        listening = receiver._server.socket
        assert listening.family == socket.AF_INET
        assert listening.getsockname()[0] == "127.0.0.1"
        addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
        for address in addresses - {"127.0.0.1", "127.0.1.1", "::1"}:
            with (
                pytest.raises((ConnectionRefusedError, TimeoutError)),
                socket.create_connection((address, receiver.port), 1),
            ):
                pass
        receiver.close()
    assert nothing_listens(receiver.port)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://[::1]:8765/callback",
        "http://0.0.0.0:8765/cb",
        "https://localhost:8765/cb",
        "http://app.example.test:8765/cb",
    ],
)
def test_a_redirect_uri_it_would_have_to_listen_beyond_loopback_for_is_refused(
    redirect_uri: str,
) -> None:
    with pytest.raises(errors.ConfigurationError):
        LoopbackReceiver(redirect_uri, STATE)


# -- what it refuses, without ending the wait -------------------------------------------------


BOGUS = [
    ("GET", "/", 404),
    ("GET", "/other?code=c&state=" + STATE, 404),
    ("GET", "/callback/", 404),
    ("GET", "/CALLBACK?code=c&state=" + STATE, 404),
    ("GET", "/%63allback?code=c&state=" + STATE, 404),
    ("GET", "/callback", 400),
    ("GET", "/callback?code=c", 400),
    ("GET", "/callback?code=c&state=", 400),
    ("GET", "/callback?code=c&state=forged", 400),
    ("GET", "/callback?code=c&state=" + STATE[:-1], 400),
    ("GET", "/callback?error=access_denied", 400),  # any web page can send this one
    ("GET", "/callback?error=access_denied&state=forged", 400),
    ("GET", f"/callback?code=c&state={STATE}&state=forged", 400),  # which one is real?
    ("GET", f"/callback?code=c&code=d&state={STATE}", 400),
    ("GET", f"/callback?code=c&state={STATE}&" + "&".join(f"p{i}=v" for i in range(99)), 400),
    ("POST", "/callback?code=c&state=" + STATE, 405),
    ("PUT", "/callback?code=c&state=" + STATE, 501),
]


def test_what_is_not_this_sign_ins_redirect_is_refused_and_the_wait_goes_on(
    no_leftovers: None,
) -> None:
    with LoopbackReceiver("http://127.0.0.1:0/callback", STATE) as receiver:
        port = receiver.port
        for method, target, expected in BOGUS:
            answer = raw_get(port, target, method=method)
            assert status_of(answer) == expected, (method, target, answer[:80])
            assert not receiver._done.is_set(), f"{method} {target} ended the wait"
        real = raw_get(port, "/callback?code=the-code&state=" + STATE)
        assert status_of(real) == 200
        assert receiver.wait(5).endswith("?code=the-code&state=" + STATE)
        # Once done, it is done: a late or replayed redirect changes nothing.
    assert nothing_listens(port)


def test_its_pages_echo_nothing_and_keep_the_code_out_of_referrers(no_leftovers: None) -> None:
    script = "%3Cscript%3Ealert(1)%3C/script%3E"
    with LoopbackReceiver("http://127.0.0.1:0/callback", STATE) as receiver:
        answer = raw_get(receiver.port, f"/callback?error={script}&state={STATE}")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"<script>" not in body
        assert b"cache-control: no-store" in head.lower()
        assert b"referrer-policy: no-referrer" in head.lower()
        receiver.wait(5)
        ok = LoopbackReceiver("http://127.0.0.1:0/callback", STATE)
        try:
            answer = raw_get(ok.port, f"/callback?code=secret-code-123&state={STATE}")
            assert b"secret-code-123" not in answer
            assert STATE.encode() not in answer
            assert b"referrer-policy: no-referrer" in answer.lower()
        finally:
            ok.close()


# -- a flood ----------------------------------------------------------------------------------


def test_a_flood_of_bogus_requests_does_not_stop_the_real_callback(no_leftovers: None) -> None:
    with LoopbackReceiver("http://127.0.0.1:0/callback", STATE) as receiver:
        port = receiver.port
        statuses: list[int] = []
        lock = threading.Lock()
        idle: list[socket.socket] = []
        half_time = threading.Event()
        kinds = ["path", "state", "stateless error", "garbage", "post", "huge", "idle"]

        sent = [0]

        def bogus(index: int) -> None:
            kind = kinds[index % len(kinds)]
            with lock:
                sent[0] += 1
            try:
                if kind == "idle":  # a connection that never sends a byte (a preconnect)
                    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                    with lock:
                        idle.append(conn)
                    return
                if kind == "garbage":
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                        conn.sendall(os.urandom(200) + b"\r\n\r\n")
                        with contextlib.suppress(OSError):
                            conn.recv(1024)
                    return
                target = {
                    "path": f"/x{index}?code=c&state={STATE}",
                    "state": f"/callback?code=c&state=bogus{index}",
                    "stateless error": "/callback?error=access_denied",
                    "post": f"/callback?code=c&state={STATE}",
                    "huge": "/callback?code=" + "c" * 70_000 + f"&state=bogus{index}",
                }[kind]
                answer = raw_get(port, target, method="POST" if kind == "post" else "GET")
                with lock:
                    statuses.append(status_of(answer))
            except OSError:
                with lock:
                    statuses.append(-1)  # the server may hang up on garbage: fine

        def worker(first: int) -> None:
            for index in range(first, FLOOD_REQUESTS, FLOOD_THREADS):
                bogus(index)
                if index >= FLOOD_REQUESTS // 2:
                    half_time.set()

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(FLOOD_THREADS)]
        for thread in threads:
            thread.start()
        assert half_time.wait(30)
        real = httpx.get(
            f"http://127.0.0.1:{port}/callback?code=the-code&state={STATE}", timeout=10
        )
        assert real.status_code == 200
        redirect = receiver.wait(10)
        for thread in threads:
            thread.join(30)
        for conn in idle:
            conn.close()
        elapsed = time.monotonic() - started

    assert redirect.endswith(f"?code=the-code&state={STATE}")
    assert 200 not in statuses, "a bogus request was taken for the redirect"
    assert sent == [FLOOD_REQUESTS]
    assert elapsed < 20
    assert nothing_listens(port)


# -- shutting down: the redirect, a timeout, Ctrl-C -------------------------------------------


def test_it_shuts_down_on_timeout(no_leftovers: None) -> None:
    seen: dict[str, int] = {}

    def open_url(url: str) -> None:
        port = httpx.URL(httpx.URL(url).params["redirect_uri"]).port
        assert port is not None
        seen["port"] = port

    started = time.monotonic()
    with pytest.raises(errors.LoginTimeoutError):
        client().login_browser(open_url=open_url, timeout=0.3, paste_fallback=False)

    assert time.monotonic() - started < 3
    assert nothing_listens(seen["port"])


def _interrupt_soon(delay: float) -> threading.Timer:
    timer = threading.Timer(delay, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in the main thread, as in a terminal."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_it_shuts_down_on_ctrl_c(ctrl_c: None, no_leftovers: None) -> None:
    seen: dict[str, int] = {}

    def open_url(url: str) -> None:
        port = httpx.URL(httpx.URL(url).params["redirect_uri"]).port
        assert port is not None
        seen["port"] = port
        _interrupt_soon(0.2)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        client().login_browser(open_url=open_url, timeout=30, paste_fallback=False)

    assert time.monotonic() - started < 5
    assert nothing_listens(seen["port"])


def test_ctrl_c_during_an_async_sign_in_ends_it_at_once(ctrl_c: None, no_leftovers: None) -> None:
    """asyncio.run() cancels the task on Ctrl-C, then waits for its worker threads:
    the thread waiting for the redirect must end too, not after the 10 s timeout."""
    seen: dict[str, int] = {}

    def open_url(url: str) -> None:
        port = httpx.URL(httpx.URL(url).params["redirect_uri"]).port
        assert port is not None
        seen["port"] = port
        _interrupt_soon(0.2)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(client().alogin_browser(open_url=open_url, timeout=10, paste_fallback=False))

    assert time.monotonic() - started < 5, "Ctrl-C waited for the sign-in timeout"
    assert nothing_listens(seen["port"])


def test_a_cancelled_async_sign_in_leaves_no_thread_waiting(no_leftovers: None) -> None:
    async def main() -> None:
        task = asyncio.create_task(
            client().alogin_browser(open_url=lambda url: None, timeout=10, paste_fallback=False)
        )
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 5


# -- leaving the port as it found it ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_signing_in_again_right_away_can_listen_on_the_same_port(no_leftovers: None) -> None:
    """The registered redirect URI has a fixed port. A browser keeps its connection
    open, so the receiver hangs up first and its side sits in TIME_WAIT for a minute;
    the next sign-in must still be able to listen there."""
    port = _free_port()
    redirect_uri = f"http://localhost:{port}/callback"
    first = LoopbackReceiver(redirect_uri, STATE)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as browser:
        browser.sendall(
            f"GET /callback?code=c&state={STATE} HTTP/1.1\r\nHost: localhost\r\n"
            "Connection: keep-alive\r\n\r\n".encode()
        )
        while browser.recv(65536):  # read until the receiver hangs up, then close
            pass
        first.wait(5)
        time.sleep(0.1)

    second = LoopbackReceiver(redirect_uri, "another-state")  # "port taken" today
    second.close()


def test_an_idle_connection_does_not_outlive_the_receiver(no_leftovers: None) -> None:
    """Browsers open spare connections to the redirect's host; closing the receiver
    must end them, not leave a thread blocked on each for the handler's timeout."""
    receiver = LoopbackReceiver("http://127.0.0.1:0/callback", STATE)
    spare = socket.create_connection(("127.0.0.1", receiver.port), timeout=5)
    try:
        time.sleep(0.1)
        raw_get(receiver.port, f"/callback?code=c&state={STATE}")
        receiver.wait(5)
        before = time.monotonic()
        spare.settimeout(3)
        assert spare.recv(1) == b""  # the receiver hung up on it
        assert time.monotonic() - before < 2
    finally:
        spare.close()


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), -1.0, 1e300])
def test_an_absurd_wait_is_a_configuration_error(timeout: float, no_leftovers: None) -> None:
    with pytest.raises(errors.ConfigurationError):
        client().login_browser(open_url=lambda url: None, timeout=timeout, paste_fallback=False)
