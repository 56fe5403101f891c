"""Atomic file writes: a reader (or a crash) never sees half a file."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from digitrec.errors import WriteError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by the owner only; finished files get the usual mode.
_FILE_MODE = 0o666 & ~_current_umask()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    The rename is atomic on POSIX and Windows, so `path` holds either the old or the new
    content, never a mixture, even after `kill -9` or a power cut (hence the fsync).
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk, a read-only folder: say which file, and that nothing was lost
            reason = e.strerror or str(e)
            raise WriteError(
                f"cannot write {path.name} in {path.parent}: {reason}; what was there before is unchanged"
            ) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class LockHeld(Exception):
    """Another process holds the lock; `holder` is the pid it wrote, or "unknown"."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is held by pid {holder}")
        self.path, self.holder = path, holder


def take_lock(path: str | os.PathLike[str]):
    """An exclusive lock on `path` (created if need be) for as long as the returned file
    stays open, with this process's pid written in it. The kernel releases it when the
    process dies, however it dies, so a crash never leaves a stale lock."""
    path = Path(path)
    handle = open(path, "a+")  # noqa: SIM115 - returned: the lock lasts as long as it stays open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise LockHeld(path, holder) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
