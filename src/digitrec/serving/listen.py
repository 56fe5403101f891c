"""Claiming a port for one `digitrec serve`, whole: a lock per address, then every
listening socket bound in the server process before any worker starts.

Why both: a port check followed by the workers' own binds left a window (a model load
long) in which a second `digitrec serve --workers 2` passed the same check, and the two
servers' workers formed one SO_REUSEPORT group, splitting connections between servers
that may hold different models. The lock makes two digitrec servers exclusive however
close together they start; the bind without SO_REUSEPORT before the group exists keeps
out any other program that listens there already.
"""

from __future__ import annotations

import re
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from digitrec.errors import DigitrecError
from digitrec.fileio import LockHeld, take_lock

BACKLOG = 2048  # pending connections per socket: a burst of clients waits, not refused


class PortTakenError(DigitrecError):
    """Another server holds the address."""


@dataclass
class PortClaim:
    """The lock on an address and the sockets listening on it; `close` gives both back."""

    host: str
    port: int
    sockets: list[socket.socket]
    lock: object = field(repr=False)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.lock.close()  # closing the file releases the lock


def lock_path(host: str, port: int) -> Path:
    safe = re.sub(r"[^0-9A-Za-z.]", "_", host)
    return Path(tempfile.gettempdir()) / f"digitrec-serve-{safe}-{port}.lock"


def _lock(host: str, port: int):
    path = lock_path(host, port)
    try:
        return take_lock(path)
    except LockHeld as e:
        raise PortTakenError(
            f"{host}:{port} is already served by digitrec (pid {e.holder}, lock {path}); stop it or pick another --port"
        ) from None


def _socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT of an earlier run
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as e:
        sock.close()
        raise PortTakenError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def claim_port(host: str, port: int, listeners: int = 1) -> PortClaim:
    """Lock the address and bind `listeners` sockets on it (more than one: a SO_REUSEPORT
    group, one per worker, so the kernel spreads connections over the workers)."""
    lock = _lock(host, port)
    sockets: list[socket.socket] = []
    try:
        if listeners == 1:
            sockets.append(_socket(host, port, reuse_port=False))
        else:
            # Bound without SO_REUSEPORT first, a socket fails against anything already
            # listening there, even a SO_REUSEPORT group.
            _socket(host, port, reuse_port=False).close()
            sockets += [_socket(host, port, reuse_port=True) for _ in range(listeners)]
    except BaseException:
        for sock in sockets:
            sock.close()
        lock.close()
        raise
    return PortClaim(host, port, sockets, lock)
