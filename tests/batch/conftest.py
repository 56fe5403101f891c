"""An archive the batch tests read: small pictures of synthetic digits, in nested folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from digitrec.batch import ReaderSpec, run_job
from tests.helpers import synthetic_digits


def write_archive(root: Path, n: int, seed: int = 0) -> list[Path]:
    """n pictures (dark ink on white, 3x upscaled), 10 to a folder; returns them sorted."""
    images, _ = synthetic_digits(n, seed)
    paths = []
    for i, image in enumerate(images):
        path = root / f"box{i // 10:03d}" / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(255 - image).resize((84, 84), Image.NEAREST).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    write_archive(root, 60)
    (root / "box002" / "corrupt.png").write_bytes(b"not a picture")
    (root / "notes.txt.bak").write_text("not an image suffix: skipped")
    return root


@pytest.fixture(scope="session")
def reference(archive, tmp_path_factory):
    """The archive read in one go, in this process: what every other way must equal."""
    out = tmp_path_factory.mktemp("reference") / "rows.jsonl"
    summary = run_job([str(archive)], ReaderSpec(), out, workers=1)
    assert (summary.read, summary.failed, summary.interrupted) == (61, 1, False)
    return out


class Interrupt:
    """on_row that presses Ctrl-C after `after` rows."""

    def __init__(self, after: int):
        self.after, self.seen = after, 0

    def __call__(self, row) -> None:
        self.seen += 1
        if self.seen == self.after:
            raise KeyboardInterrupt
