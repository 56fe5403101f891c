"""Kaggle's Digit Recognizer CSV files and its submission format.

train.csv: a header `label,pixel0,...,pixel783`, then one row per image.
test.csv:  a header `pixel0,...,pixel783`. A submission is `ImageId,Label`, ImageId from 1.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from digitrec.data.dataset import DigitDataset
from digitrec.errors import DataError
from digitrec.fileio import atomic_write_text

PIXEL_COLUMNS = [f"pixel{i}" for i in range(784)]
KAGGLE_URL = "https://www.kaggle.com/competitions/digit-recognizer/data"


def read_kaggle_csv(path: str | Path, labelled: bool) -> DigitDataset:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; download {path.name} from {KAGGLE_URL}")
    expected = (["label"] if labelled else []) + PIXEL_COLUMNS
    try:
        with open(path, encoding="utf-8", newline="") as f:
            header = f.readline().strip().split(",")
            if header != expected:
                raise DataError(_header_problem(path, header, expected))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "no data": reported below, by name
                    table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
            except ValueError as e:
                raise DataError(f"{path} has a malformed row: {e}") from None
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not a text CSV (byte {e.start} is not UTF-8); is it the Kaggle {path.name}?"
        ) from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if table.shape[0] == 0:
        raise DataError(f"{path} has a header but no rows")
    if table.shape[1] != len(expected):
        raise DataError(f"{path} has {table.shape[1]} columns per row, expected {len(expected)}")
    pixels = table[:, 1:] if labelled else table
    bad = np.argwhere((pixels < 0) | (pixels > 255))
    if len(bad):
        row, col = bad[0]
        raise DataError(f"{path} row {row + 2} has pixel{col} = {pixels[row, col]}, outside 0-255")
    labels = None
    if labelled:
        labels_np = table[:, 0]
        bad_labels = np.flatnonzero((labels_np < 0) | (labels_np > 9))
        if len(bad_labels):
            r = bad_labels[0]
            raise DataError(f"{path} row {r + 2} has label {labels_np[r]}, not a digit 0-9")
        labels = torch.from_numpy(labels_np.copy())
    images = torch.from_numpy(pixels.astype(np.uint8).reshape(-1, 28, 28))
    return DigitDataset(images, labels, f"kaggle-{path.stem}")


def _header_problem(path: Path, header: list[str], expected: list[str]) -> str:
    if header == expected[1:] or header == ["label", *expected]:
        kind = "a labelled train.csv" if "label" in expected else "an unlabelled test.csv"
        return f"{path} has the header of the other Kaggle file; expected {kind}"
    if len(header) != len(expected):
        return f"{path} has {len(header)} header columns, expected {len(expected)} ({expected[0]},...,{expected[-1]})"
    first_bad = next(i for i, (a, b) in enumerate(zip(header, expected)) if a != b)
    return f"{path} header column {first_bad + 1} is {header[first_bad]!r}, expected {expected[first_bad]!r}"


def write_submission(path: str | Path, predictions: torch.Tensor | np.ndarray) -> Path:
    """Write Kaggle's `ImageId,Label` file, ImageId counting from 1, atomically."""
    labels = np.asarray(predictions.cpu() if isinstance(predictions, torch.Tensor) else predictions).astype(int)
    lines = ["ImageId,Label"] + [f"{i},{label}" for i, label in enumerate(labels.tolist(), start=1)]
    return atomic_write_text(path, "\n".join(lines) + "\n")
