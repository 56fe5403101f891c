"""What every worker process of digitrec shares (the server's and the batch job's): it
dies with its parent, and it runs one thread of each library, with an allocator that
keeps freed memory for the next picture."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

# --- tuning --------------------------------------------------------------------------
PARENT_POLL = 0.5  # seconds between a worker's checks that its parent process is alive
ALLOCATOR_MMAP_THRESHOLD = 16 << 20  # blocks up to this size come from the heap, not mmap:
# a photo's working arrays (1-3 MB each, a dozen per request) were mapped and unmapped on
# every request, and their page faults were a quarter of a photo's preprocessing time
ALLOCATOR_TRIM_THRESHOLD = 64 << 20  # free heap kept for the next request before it is
# returned to the system; larger pictures (a 6300x6300 scan) still map and unmap theirs
TRAINING_MMAP_THRESHOLD = 32 << 20  # glibc's largest: a training step's activations (a batch
# of 64 cheque boxes makes 30 MB tensors) were mapped and unmapped every step, a third of
# its time in the kernel; kept on the heap, a 320-wide batch trains in 0.93 s against 1.24
TRAINING_TRIM_THRESHOLD = 1 << 30  # a training process keeps its working set
T = TypeVar("T")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def available_cores() -> int:
    """The cores this process may run on (its affinity; a container may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def prepare_worker_process() -> None:
    """For a server or batch worker process: its concurrency comes from requests (or
    pictures) and from worker processes, one per core. Thread pools inside OpenCV and
    PyTorch would only contend with them (PyTorch's spin-waiting threads cut two
    workers' throughput tenfold) and save nothing on images this small. The allocator
    keeps the memory a request freed for the next. Process-wide, so `digitrec serve` and
    the batch workers call it, not `load_app`."""
    import cv2

    cv2.setNumThreads(1)
    if "torch" in sys.modules:  # never import it for an ONNX server
        sys.modules["torch"].set_num_threads(1)
    keep_freed_memory()


def start_worker(load: Callable[[], T], parent: int | None = None) -> T:
    """A worker process's start-up, for every kind of worker (batch, server, Ray actor):
    tied to its parent where it has one (it dies with it, and watches it), its model
    loaded once (`load`), then `prepare_worker_process`: after the load, which sets
    PyTorch's threads."""
    if parent is not None:
        die_with_parent(parent)
        watch_parent(parent)
    loaded = load()
    prepare_worker_process()
    return loaded


def keep_freed_memory(
    mmap_threshold: int = ALLOCATOR_MMAP_THRESHOLD, trim_threshold: int = ALLOCATOR_TRIM_THRESHOLD
) -> None:
    """Raise glibc's mmap and trim thresholds (a worker's ALLOCATOR_*, a training
    process's TRAINING_*); elsewhere, nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt(M_MMAP_THRESHOLD, mmap_threshold)
    mallopt(M_TRIM_THRESHOLD, trim_threshold)


PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies


def die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGTERM this process when its parent (a pool) dies, whatever
    kills it (a SIGKILL gives the pool no chance to stop its workers). If the pool is
    already gone by now, exit at once."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return  # not Linux-like: daemon processes and stop() remain
    if os.getppid() != parent:
        os._exit(0)


def watch_parent(parent: int) -> None:
    """A second guard beside the parent-death signal (which other systems lack, and which
    follows the parent's thread, not its process): SIGTERM this process, so that uvicorn
    finishes its requests and exits, once the pool process is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="digitrec-parent-watch", daemon=True).start()
