"""A number reader's data: the digit bank for synthetic numbers, real labelled fields."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from digitrec.data import DATASETS, is_labelled_folder, load_dataset
from digitrec.data.folders import FieldDataset, load_fields, split_spec
from digitrec.data.mnist import data_root_from
from digitrec.data.synthetic import DigitBank, NumberMaker, frame_like_mnist
from digitrec.data.synthetic_fields import CutFieldMaker, FieldMaker
from digitrec.errors import ConfigError, DataError
from digitrec.training.config import ReaderConfig
from digitrec.training.tasks import ReaderTask

# Single-digit sets kept as npz files in the data root (see its README), white on black.
NPZ_DIGITS = {"optdigits": "optdigits-windep/optdigits-windep-32x32.npz", "usps": "usps/usps-train.npz"}


def digit_bank(sources: tuple[str, ...], data_dir: str | Path | None, device: torch.device) -> DigitBank:
    """Training digits of every source, MNIST-framed, in one bank on `device`."""
    images, labels = [], []
    root = data_root_from(data_dir)
    for source in sources:
        if source in DATASETS:
            data = load_dataset(source, "train", data_dir)
            if data.labels is None:
                raise DataError(f"the {source} training set has no labels to build numbers from")
            images.append(data.images.cpu())
            labels.append(data.labels.cpu())
        elif source in NPZ_DIGITS:
            if root is None:
                raise DataError(
                    f"digit source {source} is read from the data root: pass --data-dir or set DIGITREC_DATA"
                )
            path = root / NPZ_DIGITS[source]
            if not path.exists():
                raise DataError(f"digit source {source}: {path} does not exist")
            with np.load(path) as z:
                images.append(torch.from_numpy(frame_like_mnist(z["images"])))
                labels.append(torch.from_numpy(z["labels"].astype(np.int64)))
        else:
            raise ConfigError(f"unknown digit source {source!r}; use {', '.join((*DATASETS, *NPZ_DIGITS))}")
    return DigitBank.from_images(torch.cat(images).to(device), torch.cat(labels).to(device))


def _limited(data: FieldDataset, limit: int | None, seed: int) -> FieldDataset:
    if limit is None or limit >= len(data):
        return data
    chosen = np.sort(np.random.default_rng(seed).permutation(len(data))[:limit])
    return data.subset(chosen)


def validation_specs(recipe_sets: tuple[str, ...] | list[str], dataset: str) -> tuple[str, ...]:
    """The labelled folders a reader run chooses its checkpoints on: its recipe's, or the
    validation part of the folder it was given with --dataset."""
    if not is_labelled_folder(dataset):
        return tuple(recipe_sets)
    folder, _ = split_spec(dataset)
    return (f"{folder}:validation",)


def reader_task(config: ReaderConfig, options, data_dir: str | Path | None, device: torch.device) -> ReaderTask:
    """The recipe's own real sets, or, with `--dataset FOLDER`, one's own labelled folder
    (its fixed training part is trained on, its validation part chooses the checkpoint)."""
    root = data_root_from(data_dir)
    if not is_labelled_folder(options.dataset):
        real_specs, weights = config.real, config.real_weights
    else:
        folder, part = split_spec(options.dataset)
        if part is not None:
            raise ConfigError(
                "--dataset takes a labelled folder; "
                f"its train and validation parts are chosen for you ({options.dataset})"
            )
        real_specs, weights = (f"{folder}:train",), (1.0,)
    val_specs = validation_specs(config.validation, options.dataset)
    if len(weights) != len(real_specs):
        raise ConfigError(f"the reader recipe lists {len(real_specs)} real sets but {len(weights)} weights")
    whole = config.fields.height if config.fields is not None else None
    finder = config.finder
    if finder == "shipped":
        from digitrec.shipped import FINDER

        finder = str(FINDER)
    if finder is not None and not Path(finder).is_file():
        raise ConfigError(
            f"the recipe cuts real fields with the number finder {finder}, which does not exist "
            "(ship one: python -m digitrec.shipped)"
        )
    others = not whole and finder is None
    real = [
        _limited(load_fields(s, root, others=others, whole=whole, finder=finder), options.limit, options.seed)
        for s in real_specs
    ]
    val = [load_fields(s, root, whole=whole, finder=finder) for s in val_specs]
    numbers = NumberMaker(digit_bank(config.digit_sources, data_dir, device), config.synthetic)
    maker = FieldMaker(numbers, config.fields) if config.fields is not None else numbers
    if config.cut_fields is not None:  # never with `fields` (ReaderConfig.validate)
        maker = CutFieldMaker(numbers, config.cut_fields, config.cut_share)
    return ReaderTask(maker, real, tuple(weights), val, config.real_share)
