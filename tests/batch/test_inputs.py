"""iter_pictures: folders, globs and list files, streamed in a stable order."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from digitrec.batch.inputs import iter_pictures


def names(pictures) -> list[str]:
    return [Path(p.path).name for p in pictures]


def test_a_folder_is_walked_in_the_order_of_its_sorted_paths(tmp_path):
    for rel in ["b/2.png", "b/10.png", "a.png", "a/z.jpg", "c.txt.bak", "B.PNG"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    found = [Path(p.path).relative_to(tmp_path).as_posix() for p in iter_pictures([tmp_path])]
    assert found == ["B.PNG", "a/z.jpg", "a.png", "b/10.png", "b/2.png"]
    assert found == sorted(found, key=lambda s: Path(s).parts)  # what the old listing sorted by


def test_the_walk_streams_instead_of_listing_the_archive(tmp_path, monkeypatch):
    """Taking the first picture lists only the folders on the way to it."""
    for box in range(50):
        (tmp_path / f"box{box:02d}").mkdir()
        (tmp_path / f"box{box:02d}" / "x.png").write_bytes(b"")
    listed = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path=".": listed.append(Path(path).name) or real(path))
    first = list(itertools.islice(iter_pictures([tmp_path]), 1))
    assert names(first) == ["x.png"] and len(listed) == 2  # the root and box00, not 51 folders


def test_list_files_globs_and_uris(tmp_path, monkeypatch):
    for rel in ["scans/a/1.png", "scans/a/b/2.png", "scans/3.png", "scans/.hidden/4.png", "scans/a/5.jpg"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert [p.path for p in iter_pictures(["scans/**/*.png"])] == ["scans/3.png", "scans/a/1.png", "scans/a/b/2.png"]
    assert [p.path for p in iter_pictures(["scans/*/*.jpg"])] == ["scans/a/5.jpg"]
    listing = tmp_path / "todo.txt"
    listing.write_text("# to read\nscans/3.png\n\n  scans/a/1.png  \nmissing.png\ns3://bucket/page.png\n")
    pictures = list(iter_pictures([listing]))
    assert [p.path for p in pictures] == ["scans/3.png", "scans/a/1.png", "missing.png", "s3://bucket/page.png"]
    assert all(p.problem is None for p in pictures)  # a missing file fails when it is read, in its row
