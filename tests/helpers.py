"""Data the tests make themselves: learnable synthetic digits, idx files, Kaggle CSVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from digitrec.data.dataset import DigitDataset
from digitrec.data.idx import write_idx


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 28, 28) images and labels: each class is a fixed random stroke pattern
    placed with jitter and noise, so a small model can learn it in one or two epochs."""
    rng = np.random.default_rng(seed)
    templates = (np.random.default_rng(1234).random((10, 20, 20)) > 0.7).astype(np.float32) * 255
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = np.zeros((n, 28, 28), np.float32)
    offsets = rng.integers(2, 7, (n, 2))
    for i, (label, (dy, dx)) in enumerate(zip(labels, offsets)):
        images[i, dy : dy + 20, dx : dx + 20] = templates[label]
    images += rng.normal(0, 20, images.shape)
    return np.clip(images, 0, 255).astype(np.uint8), labels


def synthetic_dataset(n: int, seed: int = 0) -> DigitDataset:
    images, labels = synthetic_digits(n, seed)
    return DigitDataset(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)), "synthetic")


def write_kaggle_csv(path: Path, images: np.ndarray, labels: np.ndarray | None) -> Path:
    header = (["label"] if labels is not None else []) + [f"pixel{i}" for i in range(784)]
    flat = images.reshape(len(images), -1).astype(int)
    rows = flat if labels is None else np.column_stack([labels.astype(int), flat])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    return path


def write_kaggle_root(root: Path, n_train: int = 600, n_test: int = 100) -> Path:
    """A data root with kaggle/train.csv and kaggle/test.csv of synthetic digits."""
    images, labels = synthetic_digits(n_train, seed=1)
    write_kaggle_csv(root / "kaggle" / "train.csv", images, labels)
    test_images, _ = synthetic_digits(n_test, seed=2)
    write_kaggle_csv(root / "kaggle" / "test.csv", test_images, None)
    return root


def write_mnist_like(folder: Path, n: int = 50, seed: int = 0) -> dict[str, Path]:
    """Tiny idx.gz files with MNIST's names (their checksums are of course not MNIST's)."""
    images, labels = synthetic_digits(n, seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, count in (("train", n), ("t10k", n // 2)):
        paths[f"{split}-images"] = write_idx(folder / f"{split}-images-idx3-ubyte.gz", images[:count])
        paths[f"{split}-labels"] = write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels[:count])
    return paths


def tiny_recipe(epochs: int = 1, batch_size: int = 32):
    """`fast` on a network a few thousand parameters big: trains on synthetic data in a
    second, to exercise what reads and writes runs, not to be accurate."""
    from digitrec.models import ModelConfig
    from digitrec.training import get_recipe

    return get_recipe("fast").with_overrides(
        model=ModelConfig("fastnet", {"conv1": 8, "conv2": 16, "hidden": 32}), epochs=epochs, batch_size=batch_size
    )


def train_tiny_run(data_root: Path, run_dir: Path, epochs: int = 1, batch_size: int = 32) -> Path:
    """A finished run folder of `tiny_recipe` trained on the Kaggle-format data in `data_root`."""
    from digitrec.training import RunOptions, train_recipe

    train_recipe(tiny_recipe(epochs, batch_size), RunOptions(dataset="kaggle", device="cpu"), run_dir, data_root)
    return run_dir
