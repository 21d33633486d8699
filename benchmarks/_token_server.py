"""Child process: a client-credentials token endpoint and a trivial API on 127.0.0.1.

``POST /oauth2/token`` answers any ``grant_type=client_credentials`` request
with a new opaque token living ``TTL`` seconds and counts it; ``GET /api``
answers ``200 []``; ``/.well-known/openid-configuration`` makes it an OIDC
issuer. Commands: ``{"op": "count"}`` and ``{"op": "reset"}``. It checks no
credentials: the figures that use it count requests, they do not test security.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks._children import exit_after, reply, serve_commands

TTL = 3600

_counts = {"token": 0}
_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # see _ok_server
    issuer = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/.well-known/openid-configuration":
            issuer = self.issuer
            document = {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/oauth2/authorize",
                "token_endpoint": f"{issuer}/oauth2/token",
                "jwks_uri": f"{issuer}/.well-known/jwks.json",
            }
            self._send(json.dumps(document).encode())
        else:
            self._send(b"[]")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length).decode()
        if self.path != "/oauth2/token" or "grant_type=client_credentials" not in form:
            self._send(b'{"error":"unsupported_grant_type"}', 400)
            return
        with _lock:
            _counts["token"] += 1
        token: dict[str, object] = {"access_token": secrets.token_urlsafe(32)}
        token["token_type"] = "Bearer"
        token["expires_in"] = TTL
        self._send(json.dumps(token).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def _count() -> dict[str, Any]:
    with _lock:
        return dict(_counts)


def _reset() -> dict[str, Any]:
    with _lock:
        _counts["token"] = 0
    return {}


def main() -> None:
    exit_after()
    server = _Server(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    _Handler.issuer = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    reply({"url": _Handler.issuer})
    try:
        serve_commands({"count": _count, "reset": _reset})
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
