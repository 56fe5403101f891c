"""Run under torchrun by test_distributed.py: the tiny reader trained by every rank."""

import sys
from pathlib import Path

from digitrec.training import RunOptions, train_recipe
from tests.training.test_reader import tiny_reader

root, folder, out = map(Path, sys.argv[1:4])
train_recipe(tiny_reader(folder, epochs=2, steps=6), RunOptions(seed=0, device="cpu"), out, root)
