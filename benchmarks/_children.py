"""Child processes that speak one JSON object per line, bounded in time.

A child prints one line when it is ready (its URLs and ids), then answers one
line per command it reads. It exits when its stdin closes (so it cannot
outlive the runner) or after ``MAX_LIFETIME`` seconds, whichever comes first.
The parent waits for every line with a timeout and kills what does not stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

#: The directory that holds the ``benchmarks`` package: children run from it.
ROOT = Path(__file__).resolve().parent.parent
#: No child lives longer than this, whatever happens to the runner.
MAX_LIFETIME = 30 * 60.0
_STOP_TIMEOUT = 10.0


def exit_after(seconds: float = MAX_LIFETIME) -> None:
    """In a child: end the process after ``seconds`` even if nobody asks it to."""
    timer = threading.Timer(seconds, os._exit, args=(3,))
    timer.daemon = True
    timer.start()


def reply(message: dict[str, Any]) -> None:
    """In a child: send one line to the parent."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


class Child:
    """``python -m <module>`` as a child process with a line protocol."""

    def __init__(self, module: str, *args: str, start_timeout: float = 60.0) -> None:
        self.module = module
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())
        self._proc = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"{module}-reader", daemon=True)
        self._reader.start()
        try:
            self.ready = self._next(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.module} did not answer in {timeout:g} s") from None
        if line is None:
            raise RuntimeError(f"{self.module} exited early:\n{self.stderr()}")
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"{self.module}: {message['error']}")
        return message

    def call(self, timeout: float = 60.0, **command: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(command) + "\n")
        self._proc.stdin.flush()
        return self._next(timeout)

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def stop(self) -> None:
        """Close its stdin (it exits), wait, kill it if it does not."""
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(_STOP_TIMEOUT)
        self._reader.join(_STOP_TIMEOUT)
        self._stderr.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_commands(handlers: dict[str, Any]) -> None:
    """In a child: answer commands from stdin until it closes.

    ``handlers`` maps an ``op`` to a function taking the command's other
    fields and returning a dict to send back.
    """
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        op = command.pop("op", "")
        handler = handlers.get(op)
        if handler is None:
            reply({"error": f"unknown op {op!r}"})
            continue
        try:
            reply(handler(**command))
        except Exception as exc:
            reply({"error": f"{type(exc).__name__}: {exc}"})
