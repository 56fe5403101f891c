"""MNIST from its four official idx files: local folder, user cache, or download."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
import torch

from digitrec.data.dataset import DigitDataset
from digitrec.data.download import Fetcher, download_verified, sha256_file, urllib_fetch
from digitrec.data.idx import read_idx
from digitrec.errors import DataError

DATA_ENV_VAR = "DIGITREC_DATA"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    sha256: str
    size: int


MNIST_FILES: dict[tuple[str, str], RemoteFile] = {
    ("train", "images"): RemoteFile(
        "train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422
    ),
    ("train", "labels"): RemoteFile(
        "train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881
    ),
    ("test", "images"): RemoteFile(
        "t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877
    ),
    ("test", "labels"): RemoteFile(
        "t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542
    ),
}

# Tried in order. The original site now often refuses scripted downloads, so the two
# mirrors that torchvision and TensorFlow use come first; all serve the same bytes.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def data_root_from(data_dir: str | os.PathLike[str] | None) -> Path | None:
    """The local data root: `--data-dir` if given, else $DIGITREC_DATA, else None."""
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(DATA_ENV_VAR) or None
    if chosen is None:
        return None
    root = Path(chosen).expanduser()
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist; fix --data-dir or {DATA_ENV_VAR}")
    return root


def default_cache_dir() -> Path:
    return platformdirs.user_cache_path("digitrec")


@dataclass(frozen=True)
class MnistSource:
    """Where MNIST comes from. The defaults are the official files and mirrors; tests
    swap in their own files, checksums and fetcher."""

    data_root: Path | None = None
    cache_dir: Path | None = None
    files: tuple[tuple[tuple[str, str], RemoteFile], ...] = tuple(MNIST_FILES.items())
    mirrors: tuple[str, ...] = MNIST_MIRRORS
    download: bool = True
    fetch: Fetcher = urllib_fetch

    def remote(self, split: str, kind: str) -> RemoteFile:
        return dict(self.files)[(split, kind)]

    def locate(self, split: str, kind: str) -> Path:
        """A verified local path for one file, downloading it into the cache if allowed."""
        remote = self.remote(split, kind)
        if self.data_root is not None:
            path = self.data_root / "mnist" / remote.name
            if not path.exists():
                raise DataError(
                    f"MNIST file {path} is missing; copy the official {remote.name} there, "
                    f"or unset --data-dir/{DATA_ENV_VAR} to download it"
                )
            verify_file(path, remote)
            return path
        cache = (self.cache_dir or default_cache_dir()) / "mnist"
        path = cache / remote.name
        if path.exists():
            try:
                verify_file(path, remote)
                return path
            except DataError:
                if not self.download:
                    raise
                # A damaged cached copy is ours to replace, unlike a file in a user's folder.
        elif not self.download:
            raise DataError(f"MNIST file {path} is not cached and downloads are off; run `digitrec data download`")
        urls = [mirror + remote.name for mirror in self.mirrors]
        return download_verified(urls, path, remote.sha256, self.fetch)

    def locate_all(self) -> list[dict[str, str]]:
        """Every file, verified (downloaded into the cache first when missing and allowed):
        its split, kind, path and sha256, for `digitrec data download`."""
        return [
            {
                "split": split,
                "kind": kind,
                "path": str(self.locate(split, kind)),
                "sha256": self.remote(split, kind).sha256,
            }
            for split in ("train", "test")
            for kind in ("images", "labels")
        ]

    def load(self, split: str) -> DigitDataset:
        if split not in ("train", "test"):
            raise DataError(f"MNIST has splits 'train' and 'test', not {split!r}")
        images_path = self.locate(split, "images")
        labels_path = self.locate(split, "labels")
        images, labels = _read_pair(_stat_key(images_path), _stat_key(labels_path))
        return DigitDataset(
            torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)), f"mnist-{split}"
        )


def verify_file(path: Path, remote: RemoteFile) -> None:
    if not path.is_file():
        raise DataError(
            f"{path} is a folder or a special file, not the MNIST file {remote.name}; replace it with the official file"
        )
    size = path.stat().st_size
    try:
        got = sha256_file(path)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if got != remote.sha256:
        hint = f" (it has {size} bytes, the official file {remote.size}: truncated?)" if size != remote.size else ""
        raise DataError(
            f"{path} fails its checksum: sha256 {got} instead of {remote.sha256}{hint}; "
            "replace it with the official file"
        )


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _read_pair(images_key: tuple[str, int, int], labels_key: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Parse one split once per process; size and mtime in the key catch a replaced file."""
    images_path, labels_path = images_key[0], labels_key[0]
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise DataError(f"{images_path} holds {images.dtype} images of shape {images.shape[1:]}, expected uint8 28x28")
    if labels.dtype != np.uint8:
        raise DataError(f"{labels_path} holds {labels.dtype} labels, expected uint8")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
            "they must come from the same split"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path} has a label {int(labels.max())}; digit labels are 0-9")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels
