"""What a batch job reads: image files, folders, globs and list files, streamed.

Nothing here lists a whole archive: a folder is walked depth first, one folder's names
at a time, each folder's entries sorted, so that a job visits its files in the same
order every time (which is what makes an interrupted job's resumed output identical to
an uninterrupted one). The order is that of sorting every path by its parts.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TypeVar

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})  # a file naming one picture per line
GLOB_CHARS = frozenset("*?[")
REMOTE_MARK = "://"  # s3://bucket/key and the like: read through pyarrow's filesystems


@dataclass(frozen=True)
class PictureFile:
    path: str  # as given or found: a local path, or a URI such as s3://bucket/key
    problem: str | None = None  # why the walk could not use it (it is then not opened)


T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last may be shorter), taken as they come."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def is_remote(path: str) -> bool:
    return REMOTE_MARK in path


def is_glob(text: str) -> bool:
    return any(c in GLOB_CHARS for c in text)


def iter_pictures(inputs: Iterable[str | os.PathLike]) -> Iterator[PictureFile]:
    """Every picture the inputs name, in order, one at a time.

    An input is a file (read as given), a folder (walked: every entry with an image
    suffix, and links that lead nowhere, which then fail with their own sentence), a
    list file (`.txt`, `.lst`, `.list`: one path per line; blank lines and lines
    starting with # are skipped), a glob (`scans/**/*.png`, when no such file exists),
    or a URI (`s3://...`). Nothing is skipped in silence: a link to a folder (not
    followed: links can loop) and a folder that cannot be listed get their own problem."""
    for given in map(os.fspath, inputs):
        path = Path(given)
        if is_remote(given):
            yield PictureFile(given)
        elif path.is_dir():
            yield from walk_folder(path)
        elif path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            yield from read_list(path)
        elif is_glob(given) and not path.exists():
            yield from walk_glob(given)
        else:
            yield PictureFile(given)


def walk_folder(folder: Path) -> Iterator[PictureFile]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        yield PictureFile(str(folder), f"cannot list folder {folder}: {e.strerror or e}")
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            if path.suffix.lower() in IMAGE_SUFFIXES:  # named like a picture: say it is not one
                yield PictureFile(str(path))
            yield from walk_folder(path)
        elif entry.is_symlink() and path.is_dir():
            yield PictureFile(str(path), f"{path} is a link to a folder; not followed (links can loop)")
        elif path.suffix.lower() in IMAGE_SUFFIXES or (entry.is_symlink() and not path.exists()):
            yield PictureFile(str(path))


def read_list(list_file: Path) -> Iterator[PictureFile]:
    with open(list_file, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                yield PictureFile(line)


def walk_glob(pattern: str) -> Iterator[PictureFile]:
    """The files a glob matches, in walk order; `**` matches any depth of folders. As
    with the shell, `*` does not match a leading dot."""
    parts = Path(pattern).parts
    fixed = next((i for i, p in enumerate(parts) if is_glob(p)), len(parts))
    root = Path(*parts[:fixed]) if fixed else Path(".")
    yield from _match(root, list(parts[fixed:]), prefix=fixed > 0)


def _match(folder: Path, parts: list[str], *, prefix: bool) -> Iterator[PictureFile]:
    head, rest = parts[0], parts[1:]
    if head == "**":
        if rest:
            yield from _match(folder, rest, prefix=prefix)
        for sub in _subfolders(folder):
            yield from _match(sub, parts, prefix=True)
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return  # the shell's glob too matches nothing under a folder it cannot list
    for entry in entries:
        if (entry.name.startswith(".") and not head.startswith(".")) or not fnmatch.fnmatchcase(entry.name, head):
            continue
        path = Path(entry.path) if prefix else Path(entry.name)
        if rest:
            if entry.is_dir(follow_symlinks=False):
                yield from _match(path, rest, prefix=True)
        elif not entry.is_dir():
            yield PictureFile(str(path))


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [
            Path(e.path)
            for e in sorted(os.scandir(folder), key=lambda e: e.name)
            if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
        ]
    except OSError:
        return []
