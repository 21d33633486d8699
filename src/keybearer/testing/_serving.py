"""Run a threaded HTTP server on 127.0.0.1 in a background thread, and stop it fully.

Both stand-ins (:class:`~keybearer.testing.LocalCognito` and
:class:`~keybearer.testing.ProtectedApi`) are ``socketserver`` threading servers.
Stopping one with ``shutdown()`` only ends the accept loop: worker threads that
hold an idle keep-alive connection would stay blocked in ``recv`` until the
client hangs up. :class:`ConnectionTracking` remembers every connection and its
worker thread so :func:`stop_server` can close the sockets and join the threads.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from typing import Any

#: Bind address of every stand-in. Loopback only, never a public interface.
LOOPBACK = "127.0.0.1"

#: How often the accept loop checks for a shutdown request, in seconds. The
#: default of 0.5 s would make every ``stop()`` take up to half a second.
_POLL_INTERVAL = 0.05

#: How long ``stop()`` waits for each worker thread after closing its socket.
_JOIN_TIMEOUT = 5.0


class ConnectionTracking(socketserver.ThreadingMixIn):
    """A ``ThreadingMixIn`` that can close its open connections when stopped.

    Put it first in the bases of a threading server class. Worker threads are
    daemon threads, so a server nobody stops cannot hang interpreter exit.
    """

    daemon_threads = True
    #: Worker threads are named ``<thread_name>-conn`` (the accept loop: ``thread_name``).
    thread_name = "keybearer-testing"
    # socketserver's default backlog of 5 drops connections under a burst of
    # 50 concurrent clients; the kernel then retries the SYN only after ~1 s.
    request_queue_size = 128

    _conn_lock: threading.Lock
    _conns: dict[threading.Thread, socket.socket]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._conn_lock = threading.Lock()
        self._conns = {}
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{self.thread_name}-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._conns[worker] = request
        worker.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._conns.pop(threading.current_thread(), None)
        super().shutdown_request(request)  # type: ignore[misc]

    def close_connections(self) -> None:
        """Close every open client connection and join its worker thread."""
        with self._conn_lock:
            conns = list(self._conns.items())
        for _, sock in conns:
            with contextlib.suppress(OSError):  # already closed by the peer or the worker
                sock.shutdown(socket.SHUT_RDWR)
        for worker, _ in conns:
            worker.join(_JOIN_TIMEOUT)


def serve_in_thread(server: socketserver.BaseServer, name: str) -> threading.Thread:
    """Start ``server.serve_forever()`` in a daemon thread and return the thread."""
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_INTERVAL},
        name=name,
        daemon=True,
    )
    thread.start()
    return thread


def stop_server(server: socketserver.BaseServer, thread: threading.Thread) -> None:
    """Stop the accept loop, close open connections, join every thread, free the port."""
    server.shutdown()  # returns once serve_forever() has left its loop
    thread.join(_JOIN_TIMEOUT)
    if isinstance(server, ConnectionTracking):
        server.close_connections()
    server.server_close()
