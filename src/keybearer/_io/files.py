"""Writing a small file so that a crash leaves the old content or the new, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, text: str, *, mode: int = 0o600, dir_mode: int = 0o700) -> None:
    """Replace ``path``'s content with ``text`` (UTF-8, ``\\n`` line ends) atomically.

    A missing parent directory is created with ``dir_mode``; the file ends up
    with ``mode`` (it is created ``0600`` by ``mkstemp``, so it is never
    readable by others in between). The data and the rename are fsynced.

    Raises:
        OSError: the file could not be written; the caller turns it into its
            own typed error (the message holds no content of the file).
    """
    directory = path.parent
    if not directory.is_dir():
        directory.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    # mkstemp creates the file 0600 and in the same directory, so the final
    # os.replace is a rename within one file system: atomic.
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        if mode != 0o600:
            os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open a
    # directory this way, and the data is already safe in either file.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
