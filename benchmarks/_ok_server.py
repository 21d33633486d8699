"""Child process: a trivial HTTP/1.1 API on 127.0.0.1 that answers ``200 []``.

It checks nothing: the figures that use it measure the client. Keep-alive is
on (every answer has a Content-Length), so a client reuses its connection as
it would with API Gateway. Run by the runner as ``python -m benchmarks._ok_server``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks._children import exit_after, reply, serve_commands

_BODY = b"[]"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes; with Nagle's algorithm on, the
    # second waits for the client's delayed ACK (40 ms on Linux) on a kept-alive
    # connection.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_BODY)))
        self.end_headers()
        self.wfile.write(_BODY)

    do_GET = do_POST = _answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main() -> None:
    exit_after()
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    host, port = server.server_address[:2]
    reply({"url": f"http://{host!s}:{port}"})
    try:
        serve_commands({})
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
