"""Data sources (MNIST, Kaggle CSV), turned into uint8 tensors, with splits and folds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from digitrec.data.dataset import DigitDataset
from digitrec.data.kaggle import KAGGLE_URL, read_kaggle_csv
from digitrec.data.mnist import DATA_ENV_VAR, MnistSource, data_root_from
from digitrec.data.splits import kfold_indices, train_val_indices
from digitrec.errors import DataError

DATASETS = ("mnist", "kaggle")


def is_labelled_folder(dataset: str | None) -> bool:
    """Whether a --dataset names a labelled folder (images and labels.csv, as FOLDER or
    FOLDER:PART) rather than one of the digit data sets; None is a model's own data set."""
    return dataset is not None and dataset not in DATASETS


def load_dataset(
    name: str, split: str, data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> DigitDataset:
    """Load split 'train' or 'test' of data set 'mnist' or 'kaggle'.

    The local data root (`data_dir`, else $DIGITREC_DATA) holds `mnist/` and `kaggle/`.
    Without one, MNIST comes from the user cache and is downloaded when missing.
    """
    root = data_root_from(data_dir)
    if name == "mnist":
        return MnistSource(data_root=root, download=download).load(split)
    if name == "kaggle":
        if split not in ("train", "test"):
            raise DataError(f"the Kaggle data has splits 'train' and 'test', not {split!r}")
        if root is None:
            raise DataError(
                f"the Kaggle CSVs cannot be downloaded without a Kaggle login; put train.csv and test.csv "
                f"from {KAGGLE_URL} in DIR/kaggle/ and pass --data-dir DIR (or set {DATA_ENV_VAR})"
            )
        return read_kaggle_csv(Path(root) / "kaggle" / f"{split}.csv", labelled=(split == "train"))
    raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")


def describe_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Each split of a data set: its size, image shape, whether it is labelled and its
    images per class (none when unlabelled), for `digitrec data info`."""
    splits = {}
    for split in ("train", "test"):
        data = load_dataset(name, split, data_dir)
        splits[split] = {
            "size": len(data),
            "image_shape": list(data.images.shape[1:]),
            "labelled": data.labelled,
            "class_counts": data.class_counts(),
        }
    return {"dataset": name, "splits": splits}


__all__ = [
    "DATASETS",
    "DigitDataset",
    "MnistSource",
    "describe_dataset",
    "is_labelled_folder",
    "kfold_indices",
    "load_dataset",
    "read_kaggle_csv",
    "train_val_indices",
]
