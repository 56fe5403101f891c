"""Processes a test started, found through /proc (Linux): to check that none outlives
its parent, and to kill every one of them whatever happens; and a free port for the
servers among them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A loopback port nothing listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> set[int]:
    out = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        if f"PPid:\t{pid}" in lines and not any(line.startswith("State:\tZ") for line in lines):
            out.add(int(status.parent.name))
    return out


def workers_of(pid: int) -> set[int]:
    """The pool's worker processes (not multiprocessing's resource tracker)."""
    out = set()
    for child in children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.add(child)
        except OSError:
            continue
    return out


def alive(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def reap(server: subprocess.Popen) -> None:
    """Kill a server and every process it started, collected before it goes: after, its
    orphans would no longer be its children."""
    left = children(server.pid)
    if server.poll() is None:
        server.kill()
        server.wait()
    for pid in left:
        # ProcessLookupError: it died with the server, as a worker should
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def gone_within(pids: set[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(p) for p in pids)
