from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from digitrec.data import load_dataset
from tests.helpers import train_tiny_run, write_kaggle_root


@pytest.fixture(autouse=True)
def _isolated_environment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test may touch the user's cache, and none may download: the cache points into
    a temporary folder. DIGITREC_DATA (the real MNIST, when set) is left for the tests
    marked `mnist`, and removed for the rest so that defaults are tested honestly."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    if request.node.get_closest_marker("mnist") is None:
        monkeypatch.delenv("DIGITREC_DATA", raising=False)
    torch.set_num_threads(THREADS)


# pytest-xdist runs the suite in WORKERS processes (pyproject's addopts): each gets its
# share of the cores, or their thread pools spin against each other (a test that trains
# beside another then runs several times slower).
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, (os.cpu_count() or 1) // WORKERS)
if WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = str(THREADS)  # the subprocesses tests start (CLI, torchrun)


MNIST_ROOT = os.environ.get("DIGITREC_DATA")
HAVE_MNIST = bool(MNIST_ROOT) and (Path(MNIST_ROOT) / "mnist" / "train-images-idx3-ubyte.gz").exists()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAVE_MNIST:
        return
    skip = pytest.mark.skip(reason="needs the real MNIST files: set DIGITREC_DATA to a folder holding mnist/")
    for item in items:
        if "mnist" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    assert MNIST_ROOT
    return Path(MNIST_ROOT)


@pytest.fixture(scope="session")
def mnist_train(mnist_root: Path):
    return load_dataset("mnist", "train", mnist_root)


@pytest.fixture(scope="session")
def mnist_test(mnist_root: Path):
    return load_dataset("mnist", "test", mnist_root)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A small model on synthetic digits: enough to exercise the API, not to be accurate."""
    root = write_kaggle_root(tmp_path_factory.mktemp("data"), n_train=300, n_test=10)
    return train_tiny_run(root, tmp_path_factory.mktemp("runs") / "tiny", epochs=1, batch_size=32)
