"""Run under torchrun by test_distributed.py: the tiny reader trained by every rank.

It ends as `digitrec train` does under torchrun: the ranks leave the group together, then
exit without the interpreter's teardown, where a rank sometimes aborted after a finished
run (CI saw "terminate called without an active exception" here once)."""

import sys
from pathlib import Path

from digitrec.training import RunOptions, train_recipe
from digitrec.training.distributed import exit_rank, from_environment, leave
from tests.training.test_reader import tiny_reader

root, folder, out = map(Path, sys.argv[1:4])
group = from_environment()
train_recipe(tiny_reader(folder, epochs=2, steps=6), RunOptions(seed=0, device="cpu"), out, root, group=group)
leave(group)
exit_rank()
