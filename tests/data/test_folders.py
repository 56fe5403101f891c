"""Labelled folders (`labels.csv`): every bad folder gets an error naming file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitrec.data.folders import in_part, load_fields, read_labels
from digitrec.errors import DataError


def write_folder(folder: Path, rows: list[str], images: list[str] | None = None, header: str = "file,label") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in images if images is not None else [r.split(",")[0] for r in rows]:
        page = np.full((40, 90), 230, np.uint8)
        page[12:30, 20:24] = 20  # a stroke, so the image has ink
        Image.fromarray(page).save(folder / name)
    (folder / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def test_a_good_folder_lists_its_files_and_labels(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "f", ["a.png,1250", "b.png,7"])
    files = read_labels(folder)
    assert [(f.path.name, f.label, f.line) for f in files] == [("a.png", "1250", 2), ("b.png", "7", 3)]


@pytest.mark.parametrize(
    "rows, images, header, message",
    [
        (["a.png,12"], ["a.png"], "name,value", r"labels\.csv:1: the header must be file,label"),
        (["a.png,"], ["a.png"], "file,label", r"labels\.csv:2: the label of a\.png is empty"),
        (["a.png,12a"], ["a.png"], "file,label", r"labels\.csv:2: the label of a\.png is '12a'; labels are digits only"),
        (["a.png,1.250"], ["a.png"], "file,label", r"labels\.csv:2: .*digits only"),
        (["a.png,1", "b.png,2", "a.png,3"], ["a.png", "b.png"], "file,label", r"labels\.csv:4: a\.png is listed twice \(first on line 2\)"),
        (["a.png,1", "gone.png,2"], ["a.png"], "file,label", r"labels\.csv:3: gone\.png does not exist"),
        (["a.png,1,extra"], ["a.png"], "file,label", r"labels\.csv:2: expected 2 columns"),
        ([], [], "file,label", r"labels\.csv lists no images"),
    ],
)
def test_every_bad_labels_csv_names_file_and_line(tmp_path: Path, rows, images, header, message) -> None:
    folder = write_folder(tmp_path / "f", rows, images, header)
    with pytest.raises(DataError, match=message):
        read_labels(folder)


def test_a_folder_without_labels_csv_says_how_to_write_one(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    with pytest.raises(DataError, match="has no labels.csv; write one with the header file,label"):
        read_labels(tmp_path / "f")


def test_an_image_that_does_not_decode_is_named_with_its_line(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "f", ["a.png,1", "b.png,2"])
    (folder / "b.png").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match=r"labels\.csv:3: .*b\.png is not an image"):
        load_fields(folder, cache_dir=tmp_path / "cache", workers=1)


def test_train_and_validation_parts_are_fixed_disjoint_and_complete(tmp_path: Path) -> None:
    names = [f"{i:03d}.png" for i in range(60)]
    folder = write_folder(tmp_path / "f", [f"{n},{i}" for i, n in enumerate(names)])
    train = {f.path.name for f in read_labels(f"{folder}:train")}
    val = {f.path.name for f in read_labels(f"{folder}:validation")}
    assert train.isdisjoint(val) and train | val == set(names)
    assert 10 <= len(val) <= 30  # about a third
    assert val == {n for n in names if in_part(n, "validation")}  # by name alone: the same on every machine


def test_loaded_fields_are_cached_and_rebuilt_when_a_file_changes(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "f", ["a.png,1", "b.png,2"])
    cache = tmp_path / "cache"
    first = load_fields(folder, cache_dir=cache, workers=1)
    assert first.texts == ("1", "2") and first.strips.shape[1] == 32
    assert len(list((cache / "fields").glob("*.npz"))) == 1
    (folder / "labels.csv").write_text("file,label\na.png,1\nb.png,3\n")
    second = load_fields(folder, cache_dir=cache, workers=1)
    assert second.texts == ("1", "3")
    assert len(list((cache / "fields").glob("*.npz"))) == 2


def test_a_cells_number_is_told_from_its_printed_line_and_the_rest_read_as_nothing(tmp_path: Path) -> None:
    import cv2

    folder = tmp_path / "cells"
    folder.mkdir()
    page = np.full((200, 150), 235, np.uint8)
    cv2.putText(page, "12", (45, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 30, 3)  # the number: about 2 digits wide
    cv2.putText(page, "Trykt for Kirkeministeriet", (4, 180), cv2.FONT_HERSHEY_SIMPLEX, 0.33, 30, 1)  # print: very wide
    Image.fromarray(page).save(folder / "cell.png")
    (folder / "labels.csv").write_text("file,label\ncell.png,12\n")
    plain = load_fields(folder, cache_dir=tmp_path / "cache", workers=1)
    assert plain.texts == ("12",)
    assert int(plain.widths[0]) < 100  # the number's strip, not the printed line's (a long strip)
    with_others = load_fields(folder, cache_dir=tmp_path / "cache", workers=1, others=True)
    assert with_others.texts == ("12", "")
    assert int(with_others.widths[1]) > 2 * int(with_others.widths[0])
