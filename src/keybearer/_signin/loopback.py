"""The loopback redirect catcher for browser sign-in (RFC 8252 style).

It listens on 127.0.0.1 only, on the port of the configured redirect URI,
accepts exactly one redirect to that path carrying the expected ``state``,
answers everything else with 404 (or 400 for a stale ``state``, without ending
the wait), and closes once it has its answer or the wait times out.
"""

from __future__ import annotations

import contextlib
import errno
import html
import http.server
import logging
import os
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx

from keybearer._signin.redirect import redirect_params
from keybearer.errors import ConfigurationError, LoginTimeoutError, RedirectParseError

logger = logging.getLogger("keybearer")

# A browser sign-in waits minutes, not days; more is a mistake (and Event.wait
# overflows on an infinite timeout).
_MAX_WAIT = 86400.0

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;margin:4em auto;
max-width:32em;color:#222}}h1{{font-size:1.4em}}</style></head>
<body><h1>{title}</h1><p>{text}</p></body></html>"""


def _page(title: str, text: str) -> bytes:
    return _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # POSIX SO_REUSEADDR lets a new listener past the last sign-in's connections
    # in TIME_WAIT (without it the fixed redirect port stays "taken" for a minute
    # after every sign-in); it never lets two listeners share a port, so "port
    # taken by another program" is still an error. On Windows it would let them
    # share one, so there it stays off.
    allow_reuse_address = os.name != "nt"
    # A burst of connections (a browser's preconnects, a flood) must not drop the
    # real redirect's SYN: the default backlog is 5.
    request_queue_size = 64

    def __init__(self, port: int, receiver: LoopbackReceiver) -> None:
        self.receiver = receiver
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End connections still open (idle browser preconnects): their threads end too."""
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a silent or slow client must not hold a worker forever

    def log_message(self, format: str, *args: object) -> None:
        # The default logs the request line, which holds the authorization code.
        return

    def do_GET(self) -> None:
        status, body = self.server.receiver._handle(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.send_error(405)


class LoopbackReceiver:
    """Catches one sign-in redirect on ``redirect_uri`` (``http://localhost:PORT/path``).

    Port 0 picks a free port; :attr:`redirect_uri` then names the real one
    (fine for providers that accept any loopback port; Cognito matches the
    registered URI exactly).
    """

    def __init__(self, redirect_uri: str, expected_state: str) -> None:
        url = httpx.URL(redirect_uri)
        if url.scheme != "http" or url.host not in ("localhost", "127.0.0.1"):
            raise ConfigurationError(
                "browser sign-in needs a loopback redirect_uri such as "
                f"'http://localhost:8765/callback'; got {redirect_uri!r}"
            )
        self._url = url
        self._path = url.path or "/"
        self._state = expected_state
        self._result: str | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        port = url.port if url.port is not None else 80
        try:
            self._server = _Server(port, self)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                taken = exc.errno == errno.EADDRINUSE
                reason = "is taken by another program" if taken else "needs privileges"
                raise ConfigurationError(
                    f"cannot listen for the sign-in redirect on 127.0.0.1:{port}: the "
                    f"port {reason}. Close what uses it, or register another "
                    "redirect URI port with the app client and pass it as redirect_uri."
                ) from None
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        return str(self._url.copy_with(port=self.port)) if self._url.port == 0 else str(self._url)

    def _handle(self, raw_path: str) -> tuple[int, bytes]:
        parts = urlsplit(raw_path)
        if parts.path != self._path:
            return 404, _page("Not found", "This address only receives the sign-in redirect.")
        try:
            params = redirect_params(parts.query)
        except RedirectParseError:
            params = {}  # unreadable: no state, so it is turned away below
        state = params.get("state")
        with self._lock:
            if self._done.is_set():
                return 410, _page("Already done", "This sign-in has already finished.")
            # Only a redirect carrying this sign-in's state ends the wait, errors
            # included: any web page can send the browser to 127.0.0.1 with
            # ?error=..., and must not be able to cancel the sign-in (a provider's
            # own error redirect carries the state, RFC 6749 §4.1.2.1).
            if state != self._state:
                logger.warning("ignored a redirect whose state does not match this sign-in")
                return 400, _page(
                    "Sign-in link out of date",
                    "This redirect does not belong to the sign-in in progress. "
                    "Start the sign-in again from the app.",
                )
            self._result = f"{self.redirect_uri}?{parts.query}"
            self._done.set()
        if params.get("error"):
            error = params["error"][:100]
            return 200, _page("Sign-in failed", f"The provider said: {error}. Back to the app.")
        return 200, _page("Signed in", "You can close this tab and go back to the app.")

    def wait(self, timeout: float) -> str:
        """The redirect URL received, once it arrives; closes the server either way."""
        try:
            if not (isinstance(timeout, int | float) and 0 < timeout <= _MAX_WAIT):
                raise ConfigurationError(
                    f"the sign-in wait must be between 0 and {_MAX_WAIT} seconds, got {timeout!r}"
                )
            if not self._done.wait(timeout):
                raise LoginTimeoutError(
                    f"no sign-in redirect arrived within {timeout:g} s. Finish signing in in the "
                    "browser, or sign in with paste-back: authorization_url() and complete_login()."
                )
            if self._result is None:
                # close() ended the wait: the sign-in was cancelled (Ctrl-C, a task cancelled).
                raise LoginTimeoutError("the sign-in was cancelled before the redirect arrived")
            return self._result
        finally:
            self.close()

    def close(self) -> None:
        """Stop listening, end open connections, and end a wait() in another thread."""
        with self._lock:
            self._done.set()  # a wait() elsewhere (asyncio.to_thread) returns now
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._thread.is_alive():
            self.close()
