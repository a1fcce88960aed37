"""Small state files changed safely: atomic replacement, and a lock around read-modify-write."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["locked", "replace_atomically"]

LOCK_TIMEOUT = 60.0  # seconds; only the fallback lock (no fcntl) can wait on a dead holder


def replace_atomically(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` so that an interrupted run leaves the old file whole.

    The bytes go to a temp file in the same directory (a rename across file systems is not
    atomic), are flushed to disk, and then replace the file in one rename; on any error the
    temp file is removed. Only a killed process can leave a temp file (`.<name>.<pid>.….tmp`)
    behind, never a broken `path`. `mode`, when given, is set on the new file before the
    rename (a rewritten source file keeps its permissions).
    """
    import secrets

    directory = path.parent
    temporary = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(handle, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view) :]
            os.fsync(handle)
        finally:
            os.close(handle)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); where a directory cannot be opened, skip it."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of `path`, across processes and threads.

    The lock is a sidecar file (`<name>.lock`), locked with `flock` and removed on release, so
    no lock file is left in the repository. Removing it is safe: a waiter that wakes up holding
    the lock of a removed file sees that the path no longer names that file, and starts over.
    Without fcntl (Windows) the sidecar is created exclusively instead, and waited for.
    """
    lock = path.with_name(path.name + ".lock")
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        with _exclusive_file(lock):
            yield
        return
    import fcntl

    while True:
        handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            held = os.fstat(handle)
            try:
                current = lock.stat()
            except FileNotFoundError:
                current = None
        except BaseException:
            os.close(handle)
            raise
        if current is not None and (current.st_ino, current.st_dev) == (held.st_ino, held.st_dev):
            break
        os.close(handle)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)  # while still holding it: see the docstring
        os.close(handle)


@contextmanager
def _exclusive_file(lock: Path) -> Iterator[None]:  # pragma: no cover - Windows only
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            handle = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{lock}: another keyguard holds this lock (delete it if none is running)"
                ) from None
            time.sleep(0.05)
    try:
        yield
    finally:
        os.close(handle)
        lock.unlink(missing_ok=True)
