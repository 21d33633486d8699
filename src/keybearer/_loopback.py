"""The loopback redirect catcher for browser sign-in (RFC 8252 style).

It listens on 127.0.0.1 only, on the port of the configured redirect URI,
accepts exactly one redirect to that path carrying the expected ``state``,
answers everything else with 404 (or 400 for a stale ``state``, without ending
the wait), and closes once it has its answer or the wait times out.
"""

from __future__ import annotations

import errno
import html
import http.server
import logging
import threading
from urllib.parse import parse_qs, urlsplit

import httpx

from .errors import ConfigurationError, LoginTimeoutError

logger = logging.getLogger("keybearer")

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;margin:4em auto;
max-width:32em;color:#222}}h1{{font-size:1.4em}}</style></head>
<body><h1>{title}</h1><p>{text}</p></body></html>"""


def _page(title: str, text: str) -> bytes:
    return _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Never reuse a port another process holds: "port taken" must be an error.
    allow_reuse_address = False

    def __init__(self, port: int, receiver: LoopbackReceiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", port), _Handler)


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
        params = parse_qs(parts.query)
        state = params.get("state", [None])[0]
        with self._lock:
            if self._done.is_set():
                return 410, _page("Already done", "This sign-in has already finished.")
            # An error redirect may come without the state (the provider could
            # not read the request): show its error rather than wait it out.
            stateless_error = state is None and "error" in params
            if state != self._state and not stateless_error:
                logger.warning("ignored a redirect whose state does not match this sign-in")
                return 400, _page(
                    "Sign-in link out of date",
                    "This redirect does not belong to the sign-in in progress. "
                    "Start the sign-in again from the app.",
                )
            self._result = f"{self.redirect_uri}?{parts.query}"
            self._done.set()
        if "error" in params:
            error = params["error"][0][:100]
            return 200, _page("Sign-in failed", f"The provider said: {error}. Back to the app.")
        return 200, _page("Signed in", "You can close this tab and go back to the app.")

    def wait(self, timeout: float) -> str:
        """The redirect URL received, once it arrives; closes the server either way."""
        try:
            if not self._done.wait(timeout):
                raise LoginTimeoutError(
                    f"no sign-in redirect arrived within {timeout:g} s. Finish signing in in the "
                    "browser, or sign in with paste-back: authorization_url() and complete_login()."
                )
            assert self._result is not None
            return self._result
        finally:
            self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._thread.is_alive():
            self.close()
