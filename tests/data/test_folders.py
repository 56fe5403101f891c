"""Labelled folders (`labels.csv`): every bad folder gets an error naming file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitrec.data.folders import in_part, load_fields, page_of, part_of, read_labels
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
        (
            ["a.png,12a"],
            ["a.png"],
            "file,label",
            r"labels\.csv:2: the label of a\.png is '12a'; labels are digits only",
        ),
        (["a.png,1.250"], ["a.png"], "file,label", r"labels\.csv:2: .*digits only"),
        (
            ["a.png,1", "b.png,2", "a.png,3"],
            ["a.png", "b.png"],
            "file,label",
            r"labels\.csv:4: a\.png is listed twice \(first on line 2\)",
        ),
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
    with pytest.raises(DataError, match=r"has no labels\.csv; write one with the header file,label"):
        read_labels(tmp_path / "f")


def test_an_image_that_does_not_decode_is_named_with_its_line(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "f", ["a.png,1", "b.png,2"])
    (folder / "b.png").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match=r"labels\.csv:3: .*b\.png is not an image"):
        load_fields(folder, cache_dir=tmp_path / "cache", workers=1)


def test_train_validation_and_test_parts_are_fixed_disjoint_and_complete(tmp_path: Path) -> None:
    names = [f"{i:03d}.png" for i in range(100)]
    folder = write_folder(tmp_path / "f", [f"{n},{i}" for i, n in enumerate(names)])
    parts = {p: {f.path.name for f in read_labels(f"{folder}:{p}")} for p in ("train", "validation", "test")}
    assert parts["train"].isdisjoint(parts["validation"]) and parts["test"].isdisjoint(
        parts["train"] | parts["validation"]
    )
    assert parts["train"] | parts["validation"] | parts["test"] == set(names)
    assert 8 <= len(parts["validation"]) <= 35 and 8 <= len(parts["test"]) <= 35  # about a fifth each
    assert parts["test"] == {n for n in names if in_part(n, "test")}  # by name alone: the same on every machine


def test_the_cells_of_one_page_fall_in_one_part(tmp_path: Path) -> None:
    pages = [f"born_K{k:04d}_0{k}a-FM" for k in range(40)]
    assert {page_of(f"{p}_row_id_3.jpg") for p in pages} == set(pages)
    for page in pages:
        assert len({part_of(f"{page}_row_id_{row}.jpg") for row in range(6)}) == 1
    assert {part_of(f"{p}_row_id_0.jpg") for p in pages} == {"train", "validation", "test"}


def test_a_folder_of_labelled_folders_is_all_of_them_split_afresh(tmp_path: Path) -> None:
    write_folder(tmp_path / "set" / "train", [f"a{i:02d}.png,{i}" for i in range(30)])
    write_folder(tmp_path / "set" / "validation", [f"b{i:02d}.png,{i}" for i in range(30)])
    everything = read_labels(tmp_path / "set")
    assert len(everything) == 60
    test = read_labels(f"{tmp_path / 'set'}:test")
    assert {f.path.name for f in test} == {f.path.name for f in everything if part_of(f.path.name) == "test"}
    assert {f.path.parent.name for f in test} == {"train", "validation"}, "the test part draws on both folders"
    with pytest.raises(DataError, match=r"has no labels\.csv"):
        read_labels(tmp_path)


def test_whole_fields_are_the_whole_picture_at_the_readers_height(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "f", ["a.png,1", "b.png,2"])
    whole = load_fields(folder, cache_dir=tmp_path / "cache", workers=1, whole=48)
    assert whole.strips.shape[1] == 48 and whole.widths.tolist() == [108, 108]  # 90x40 at 48 tall
    # Nothing is cut: the stroke sits where it sits in the picture (x 20-24 of 90), bright.
    columns = whole.strips[0].float().mean(0)
    assert int(columns.argmax()) in range(23, 29) and float(columns[:20].max()) < 10


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
