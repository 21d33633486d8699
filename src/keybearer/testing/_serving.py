"""Run a threaded HTTP server on 127.0.0.1 in a background thread, and stop it fully.

Both stand-ins (:class:`~keybearer.testing.LocalCognito` and
:class:`~keybearer.testing.ProtectedApi`) are ``socketserver`` threading servers.
Stopping one with ``shutdown()`` only ends the accept loop: worker threads that
hold an idle keep-alive connection would stay blocked in ``recv`` until the
client hangs up. :class:`ConnectionTracking` remembers every connection and its
worker thread so :func:`stop_server` can close the sockets and join the threads.
:class:`ServedInThread` is the start/stop life cycle both stand-ins share.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, cast

if TYPE_CHECKING:
    from typing_extensions import Self

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


class ServedInThread:
    """One server in one daemon thread: started once, stopped fully, a context manager.

    The life cycle both stand-ins share. A subclass names itself in
    ``_served_as`` (errors and the accept-loop thread say it) and builds its
    bound server in :meth:`_bind`. ``self._lock`` guards the server and the
    thread; a subclass may guard its own state with it too.
    """

    _served_as: ClassVar[str]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None

    def _bind(self) -> socketserver.BaseServer:
        """The server, bound to its port but not serving yet (called under the lock)."""
        raise NotImplementedError

    # The subclasses restate start() and stop() with their own docstrings, because
    # the reference docs show no inherited member.
    def start(self) -> Self:
        """Start serving and return ``self``; RuntimeError if it is already running."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError(f"{self._served_as} is already running")
            server = self._bind()
            self._thread = serve_in_thread(server, self._served_as)
            self._server = server
        return self

    def stop(self) -> None:
        """Stop the server, close its connections and join its threads. Idempotent."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None and thread is not None:
            stop_server(server, thread)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _address(self) -> str:
        """``http://<host>:<port>`` of the running server (no trailing slash)."""
        server = self._server
        if server is None:
            raise RuntimeError(f"{self._served_as} is not running: call start() first")
        host, port = cast("tuple[str, int]", server.server_address)[:2]
        return f"http://{host}:{port}"
