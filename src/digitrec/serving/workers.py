"""`digitrec serve --workers N`: N server processes, each with the model loaded once and
its own listening socket on the same port (SO_REUSEPORT), bound by the pool (listen.py).

Why not uvicorn's own workers: they share one socket, and the worker that wakes first
accepts every connection waiting. Keep-alive clients that connect together (a load test,
a proxy's pool) can then all land on one worker while the other idles; on a 2-core
machine one run in seven of 16 clients went 16/0. With a socket per worker the kernel
spreads the connections as they arrive, whichever worker happens to be running.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from digitrec.processes import start_worker
from digitrec.serving.app import ServerConfig
from digitrec.serving.listen import PortClaim

RESTART_PAUSE = 1.0  # seconds before restarting a worker that died, so a crash loop cannot spin


def balanced_workers_supported() -> bool:
    # Linux spreads connections over a SO_REUSEPORT group; other systems either lack the
    # option or hand every connection to one socket of the group.
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _worker(model: str, runtime: str, config: ServerConfig, sock: socket.socket, ready, parent: int) -> None:
    from digitrec.serving.app import load_app, serve_on

    app = start_worker(lambda: load_app(model, runtime, config), parent)
    ready.set()
    serve_on(app, sock, config)


class WorkerPool:
    """Starts a worker per socket of `claim`, restarts one that dies after it started, and
    stops them all on SIGINT or SIGTERM. A worker that dies while starting stops the pool:
    its cause (a bad model) would kill every restart too. The pool keeps the sockets: a
    replaced worker takes over its predecessor's, with the connections waiting on it."""

    def __init__(self, model: Path, runtime: str, config: ServerConfig, claim: PortClaim):
        self.args = (str(model), runtime, config)
        self.claim = claim
        self.workers = len(claim.sockets)
        self.context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked threads or locks
        self.processes: list = []
        self.ready: list = []
        self.stopping = threading.Event()

    def _start(self, index: int) -> None:
        ready = self.context.Event()
        process = self.context.Process(
            target=_worker,
            args=(*self.args, self.claim.sockets[index], ready, os.getpid()),
            name=f"digitrec-worker-{index}",
            daemon=True,
        )
        process.start()
        if index < len(self.processes):
            self.processes[index], self.ready[index] = process, ready
        else:
            self.processes.append(process)
            self.ready.append(ready)

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; the exit status: 0, or 1 if a worker failed to start."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        for i in range(self.workers):
            self._start(i)
        status = 0
        while not self.stopping.wait(0.2):
            for i, process in enumerate(self.processes):
                if process.is_alive():
                    continue
                if not self.ready[i].is_set():
                    print(
                        f"digitrec: worker {i} failed while starting (exit code {process.exitcode}); stopping",
                        file=sys.stderr,
                    )
                    status = 1
                    self.stopping.set()
                    break
                print(
                    f"digitrec: worker {i} (pid {process.pid}) died with exit code {process.exitcode}; restarting it",
                    file=sys.stderr,
                )
                time.sleep(RESTART_PAUSE)
                self._start(i)
        self.stop()
        return status

    def stop(self, timeout: float = 30) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # uvicorn finishes the requests in flight, then exits
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
