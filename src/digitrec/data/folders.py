"""Labelled folders: images with a `labels.csv` (`file,label`), the format of one's own
documents and of the real sets in the data root.

    my-forms/
      labels.csv        file,label
                        0001.jpg,1250
                        0002.png,7
      0001.jpg ...

A label is the digit string the image shows (punctuation is not part of it). A folder
is checked whole before anything trains on it; each problem names the file and line.

`FOLDER:train`, `FOLDER:validation` and `FOLDER:test` name three fixed, disjoint parts
of one folder, split by page: every file of a page falls in the same part (a page is the
file name up to `_row_id`, as the register cells are named, else the file itself), by a
hash of the page, so the parts are the same on every machine. A test part chooses
nothing: it gives the final figure only. A folder that holds labelled folders instead of
a labels.csv (`danish-rowid/` with its `train/` and `validation/`) is all of them, split
afresh by page across them.

A third column, `part`, fixes a file's part instead (`file,label,part`): `digitrec
review` writes it for the corrections of an archive whose pages would otherwise all hash
into one part of the folder they were cut from.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from digitrec.errors import DataError
from digitrec.processes import available_cores

# --- tuning --------------------------------------------------------------------------
PART_BUCKETS = 5  # pages hash into this many buckets: one is the test part, one validation
PART_OF_BUCKET = {0: "test", 1: "validation"}  # the other buckets train: 60 / 20 / 20
PAGE_MARK = "_row_id"  # a register cell's file name is its page's name, this, and the row
CACHE_VERSION = "fields-8"  # bump when preprocess.fields or field_image changes what a strip looks like
PARTS = ("train", "validation", "test")
DIGIT_ASPECT = 0.65  # a handwritten digit's width over its height, about: picks a label's field
MAX_OTHER_FIELDS = 2  # other fields of an image kept as "nothing to read" examples
OTHER_ASPECT = 4.0  # ... when wider than this many times their height (a printed line)


@dataclass(frozen=True)
class LabelledFile:
    path: Path
    label: str
    line: int  # in labels.csv, for messages


def split_spec(spec: str | os.PathLike) -> tuple[Path, str | None]:
    """'FOLDER', 'FOLDER:train' or 'FOLDER:validation' -> (folder, part)."""
    text = str(spec)
    for part in PARTS:
        if text.endswith(":" + part):
            return Path(text[: -len(part) - 1]), part
    return Path(text), None


def page_of(name: str) -> str:
    """The page a labelled file was cut from: its name up to PAGE_MARK, else the file itself."""
    stem = Path(name).stem
    return stem.split(PAGE_MARK)[0] if PAGE_MARK in stem else stem


def part_of(name: str) -> str:
    """train, validation or test: the fixed part of a file's page."""
    return PART_OF_BUCKET.get(zlib.crc32(page_of(name).encode("utf-8")) % PART_BUCKETS, "train")


def in_part(name: str, part: str | None, fixed: str | None = None) -> bool:
    """Whether `name` is in `part` (None: every part): its `fixed` part if labels.csv
    gives one, else its page's."""
    return part is None or (fixed or part_of(name)) == part


def read_labels(spec: str | os.PathLike, root: Path | None = None) -> list[LabelledFile]:
    """The files and labels of a labelled folder, checked: header, labels, duplicates,
    missing images. A relative folder is looked up under `root` (the data root) too. A
    folder of labelled folders is all of them (then split by page across them)."""
    folder, part = split_spec(spec)
    if not folder.is_absolute() and not folder.exists() and root is not None:
        folder = root / folder
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; a labelled folder holds images and a labels.csv")
    if not (folder / "labels.csv").exists():
        inner = sorted(d for d in folder.iterdir() if (d / "labels.csv").is_file())
        if not inner:
            raise DataError(f"{folder} has no labels.csv; write one with the header file,label and a line per image")
        out = [f for d in inner for f in _read_labels_csv(d, part)]
        if not out:
            raise DataError(f"{folder}'s labelled folders list no images in their {part} part")
        return out
    out = _read_labels_csv(folder, part)
    if not out:
        raise DataError(f"{folder / 'labels.csv'} lists no images" + (f" in its {part} part" if part else ""))
    return out


def _read_labels_csv(folder: Path, part: str | None) -> list[LabelledFile]:
    csv_path = folder / "labels.csv"
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if header not in (["file", "label"], ["file", "label", "part"]):
        found = ",".join(rows[0]) if rows else "nothing"
        raise DataError(f"{csv_path}:1: the header must be file,label or file,label,part (found {found!r})")
    out: list[LabelledFile] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            columns = ",".join(header)
            raise DataError(f"{csv_path}:{number}: expected {len(header)} columns ({columns}), found {len(row)}")
        name, label = row[0].strip(), row[1].strip()
        if not label:
            raise DataError(f"{csv_path}:{number}: the label of {name} is empty")
        if not label.isdigit() or not label.isascii():
            raise DataError(f"{csv_path}:{number}: the label of {name} is {label!r}; labels are digits only (0-9)")
        fixed = row[2].strip() if len(row) == 3 else None
        if fixed is not None and fixed not in PARTS:
            raise DataError(f"{csv_path}:{number}: the part of {name} is {fixed!r}; use {', '.join(PARTS)}")
        if name in seen:
            raise DataError(f"{csv_path}:{number}: {name} is listed twice (first on line {seen[name]})")
        seen[name] = number
        path = folder / name
        if not path.is_file():
            raise DataError(f"{csv_path}:{number}: {name} does not exist in {folder}")
        if in_part(name, part, fixed):
            out.append(LabelledFile(path, label, number))
    return out


@dataclass(frozen=True)
class FieldDataset:
    """Field strips as uint8 (N, 32, W_max) (or whole fields, (N, 96, W_max)), ink bright,
    each padded with 0 past its width."""

    strips: torch.Tensor
    widths: torch.Tensor  # long (N,)
    texts: tuple[str, ...]
    files: tuple[Path, ...]
    name: str

    def __len__(self) -> int:
        return len(self.texts)

    def to(self, device: torch.device | str) -> FieldDataset:
        return FieldDataset(self.strips.to(device), self.widths.to(device), self.texts, self.files, self.name)

    def subset(self, indices: list[int] | np.ndarray, name: str | None = None) -> FieldDataset:
        idx = torch.as_tensor(np.asarray(indices, np.int64))
        return FieldDataset(
            self.strips[idx.to(self.strips.device)],
            self.widths[idx.to(self.widths.device)],
            tuple(self.texts[i] for i in idx.tolist()),
            tuple(self.files[i] for i in idx.tolist()),
            name or self.name,
        )


def _whole_field_of(item: tuple[Path, str], height: int) -> tuple[np.ndarray, list[np.ndarray]] | str:
    """The field reader's canvas of a labelled field image, whole (nothing cut away)."""
    from digitrec.errors import DigitrecError
    from digitrec.preprocess.field_image import field_image

    try:
        return field_image(item[0], height=height).canvas, []
    except DigitrecError as e:
        return str(e)


def _strips_of(item: tuple[Path, str]) -> tuple[np.ndarray, list[np.ndarray]] | str:
    """The reader strip of a labelled field image, cut as `Recognizer` cuts it, and the
    strips of its other fields (print, strokes of neighbouring cells: no number). Of the
    fields found, the one shaped most like the label's digits is the number (a cell's
    printed line is far wider than its one to three digits); an error is returned as text."""
    import math

    from digitrec.errors import DigitrecError
    from digitrec.preprocess.fields import STRIP_HEIGHT, find_fields

    path, label = item
    try:
        found = find_fields(path)
    except DigitrecError as e:
        return str(e)
    if not found.fields:
        return np.zeros((STRIP_HEIGHT, 8), np.uint8), []

    def ink(f) -> float:  # in the picture's pixels, whatever the strip's scale
        return float(f.strip.sum(dtype=np.float64)) / (255 * f.scale * f.y_scale)

    most = max(ink(f) for f in found.fields)

    def misfit(f) -> float:
        """How unlike the labelled number a field is: its shape against the label's
        digits, and its ink against the most inked field (the number is rarely a speck)."""
        aspect = f.box[2] / max(1, f.box[3])
        shape = abs(math.log(max(aspect, 1e-3) / (DIGIT_ASPECT * max(1, len(label)))))
        return shape - math.log(max(ink(f), 1e-6) / most)

    ranked = sorted(found.fields, key=misfit)
    number = ranked[0]
    # Other fields teach "nothing to read" only when they clearly are not a number: print,
    # a line far wider than tall. Small pieces stay out: a lone "1" is small too, and
    # taught as nothing it was read as nothing (v5: 989 of USPS's 1,194 ones).
    others = [f for f in ranked[1:] if f.box[2] > OTHER_ASPECT * f.box[3]]
    return number.strip, [f.strip for f in others[:MAX_OTHER_FIELDS]]


_finder = None  # the number finder of `_found_strip_of`, one per worker process


def _found_strip_of(item: tuple[Path, str], finder: str) -> tuple[np.ndarray, list[np.ndarray]] | str:
    """The reader strip of a labelled field image where the number finder at `finder` is
    surest there is a number, cut as `Recognizer` cuts a field for a strip reader."""
    global _finder
    from digitrec.errors import DigitrecError
    from digitrec.layout.finder import NumberFinderRuntime
    from digitrec.preprocess.decode import decode_picture
    from digitrec.preprocess.fields import FieldOptions

    if _finder is None or str(_finder.path) != finder:
        torch.set_num_threads(1)
        _finder = NumberFinderRuntime.load(finder)
    try:
        options = FieldOptions()
        picture = decode_picture(item[0], None, options.max_pixels, options.max_side)
        return _finder.surest_field(picture).strip, []
    except DigitrecError as e:
        return str(e)


def _cache_key(files: list[LabelledFile], others: bool, whole: int | None, finder: str | None = None) -> str:
    found_by = ""
    if finder is not None:
        found_by = hashlib.sha256(Path(finder).read_bytes()).hexdigest()[:16]
    h = hashlib.sha256(f"{CACHE_VERSION}|others={others}|whole={whole}|finder={found_by}".encode())
    for f in files:
        st = f.path.stat()
        h.update(f"{f.path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{f.label}\n".encode())
    return h.hexdigest()[:24]


def load_fields(
    spec: str | os.PathLike,
    root: Path | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    others: bool = False,
    whole: int | None = None,
    finder: str | os.PathLike | None = None,
) -> FieldDataset:
    """Read a labelled folder into reader strips (cut by `preprocess.fields`), cached.
    With `others`, each image's other fields come too, labelled "" (nothing to read):
    training on them teaches the reader to read nothing in print and stray strokes.
    With `whole` (a field reader's height), each image is one field, read whole
    (`preprocess.field_image`). With `finder` (a number finder's checkpoint), each image
    gives the one strip where the finder is surest there is a number, as `Recognizer`
    cuts a field for a strip reader."""
    from digitrec.data.mnist import default_cache_dir
    from digitrec.fileio import atomic_write_bytes

    files = read_labels(spec, root)
    if finder is not None and (others or whole):
        raise ValueError("a number finder cuts one strip per image: not with `others` or `whole`")
    finder = None if finder is None else str(finder)
    cache = (cache_dir or default_cache_dir()) / "fields" / f"{_cache_key(files, others, whole, finder)}.npz"
    if cache.exists():
        with np.load(cache) as z:
            strips, widths, owners = z["strips"], z["widths"], z["owners"]
    else:
        items = [(f.path, f.label) for f in files]
        if finder is not None:
            cut_one = functools.partial(_found_strip_of, finder=finder)
        else:
            cut_one = functools.partial(_whole_field_of, height=whole) if whole else _strips_of
        workers = workers or min(4, available_cores())
        if workers > 1 and len(items) > 200:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # A finder's cut runs PyTorch in the workers: spawned, as a child forked after
            # PyTorch has started its threads hangs.
            context = multiprocessing.get_context("spawn" if finder is not None else None)
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                results = list(pool.map(cut_one, items, chunksize=64))
        else:
            results = [cut_one(item) for item in items]
        cut, owners = [], []  # owners: the file index of each strip, negative for its other fields
        for i, (f, r) in enumerate(zip(files, results)):
            if isinstance(r, str):
                raise DataError(f"{f.path.parent / 'labels.csv'}:{f.line}: {r}")
            cut.append(r[0])
            owners.append(i)
            if others:
                cut += r[1]
                owners += [-1 - i] * len(r[1])
        widths = np.array([c.shape[1] for c in cut], np.int64)
        strips = np.zeros((len(cut), cut[0].shape[0], int(widths.max())), np.uint8)
        for k, c in enumerate(cut):
            strips[k, :, : c.shape[1]] = c
        import io

        buffer = io.BytesIO()
        np.savez(buffer, strips=strips, widths=widths, owners=np.array(owners, np.int64))
        atomic_write_bytes(cache, buffer.getvalue())
    texts = tuple(files[o].label if o >= 0 else "" for o in owners)
    paths = tuple(files[o if o >= 0 else -1 - o].path for o in owners)
    return FieldDataset(torch.from_numpy(strips), torch.from_numpy(widths), texts, paths, str(spec))
