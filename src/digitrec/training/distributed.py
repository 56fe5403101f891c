"""Training on several processes with torch.distributed (DistributedDataParallel).

    torchrun --nproc-per-node 2 -m digitrec train --recipe fast --out runs/ddp

torchrun starts one process per rank and sets RANK, WORLD_SIZE, LOCAL_RANK and the
rendezvous address; `from_environment` joins the group (gloo on CPU, NCCL on CUDA). Each
rank trains on its own shard of every batch, DDP averages the gradients, and epoch
metrics are summed over the ranks. Rank 0 alone writes the run folder, its checkpoints,
history and report; the other ranks only read (the config and training state on
--resume). Without torchrun, `SINGLE` stands for one process and nothing changes.

A script of one's own that calls `train_recipe` under torchrun ends as `digitrec train`
does: `leave(group)`, then `exit_rank()` (tests/training/ddp_reader.py is one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from digitrec.processes import die_with_parent


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """The rank that writes: the run folder, checkpoints, history, report, output."""
        return self.rank == 0

    def device(self, name: str) -> str:
        """Each rank's own GPU under CUDA; the CPU's ranks share it."""
        if self.active and name in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return name

    def sum(self, *values: torch.Tensor | float) -> list[float]:
        """Each value summed over the ranks (one all-reduce for all of them)."""
        local = torch.tensor([float(v) for v in values], dtype=torch.float64)
        if self.active:
            local = local.to(_collective_device())
            dist.all_reduce(local)
        return local.cpu().tolist()

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order (for the training state: each rank's RNGs)."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def share_buffers(self, model: torch.nn.Module) -> None:
        """Rank 0's buffers (batch-norm statistics) on every rank: each rank's last batch
        moved its own, and validation and the saved checkpoint must see one model."""
        if self.active:
            for buffer in model.buffers():
                dist.broadcast(buffer.data, src=0)


SINGLE = Distributed()


def _collective_device() -> torch.device:
    backend = dist.get_backend()
    return torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")


def from_environment() -> Distributed:
    """The group torchrun set up for this process, joined; SINGLE without torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    die_with_parent(os.getppid())  # torchrun killed (even with -9): its ranks go too, not train on alone
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
    return Distributed(rank, world, local_rank)


def leave(group: Distributed) -> None:
    """Leave the group together, at a barrier, so that no rank tears down its connections
    while rank 0 is still writing the run's last files (see also `exit_rank`)."""
    if group.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def exit_rank(code: int = 0) -> None:
    """End a rank's process now, its output flushed, skipping the interpreter's teardown:
    there a rank sometimes aborted after a finished run ("terminate called without an
    active exception", SIGABRT; seen twice in the test runs, under load), which torchrun then
    reports as the job failing."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
