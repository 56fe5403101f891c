"""Choosing the compute device and CPU threads."""

from __future__ import annotations

import os

import torch

from digitrec.errors import ConfigError
from digitrec.processes import available_cores


def threads_per_rank(cores: int) -> int:
    """One thread per core, the cores shared among the ranks that torchrun started on
    this machine (LOCAL_WORLD_SIZE), so that N ranks do not run N x cores threads; or
    OMP_NUM_THREADS where the user set it (a training left one core of two for other work)."""
    asked = os.environ.get("OMP_NUM_THREADS", "").strip()
    if asked:
        try:
            return max(1, int(asked))
        except ValueError:
            raise ConfigError(f"OMP_NUM_THREADS must be a whole number of threads, got {asked!r}") from None
    return max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def select_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit device must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but PyTorch sees no CUDA GPU; use --device cpu or auto")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' was asked for but is not available; use --device cpu or auto")
    if device.type == "cpu":
        # One thread per core: PyTorch sometimes defaults to fewer in containers.
        torch.set_num_threads(threads_per_rank(available_cores()))
    return device


PRECISIONS = ("auto", "fp32", "bf16")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")


def precision_name(autocast: torch.dtype | None) -> str:
    """What a run or benchmark records: the precision `autocast_dtype` resolved to."""
    return "bf16" if autocast is torch.bfloat16 else "fp32"


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype the training forward pass autocasts to, or None for plain fp32.

    'auto' is bf16 on a CUDA GPU that has it (Ampere and later), where tensor cores run it
    several times faster than fp32 and its fp32-sized exponent needs no loss scaling, and
    fp32 elsewhere: on most CPUs bf16 matmuls are emulated and slower. Weights, optimiser
    state and evaluation stay fp32.
    """
    check_precision(precision)
    if precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return None


def describe_machine() -> dict[str, object]:
    """What a benchmark ran on: CPU model, PyTorch's threads, GPU (or None), versions."""
    import contextlib
    import platform
    from pathlib import Path

    cpu = platform.processor() or platform.machine()
    # Linux names the model; platform.processor() often says just "x86_64"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "threads": torch.get_num_threads(),
        "gpu": gpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
