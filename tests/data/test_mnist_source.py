import http.server
import threading
import urllib.error
from functools import partial
from pathlib import Path

import pytest

from digitrec.data import load_dataset
from digitrec.data.download import sha256_file, urllib_fetch
from digitrec.data.mnist import MnistSource, RemoteFile
from digitrec.errors import DataError, DownloadError
from tests.helpers import write_mnist_like


@pytest.fixture
def served(tmp_path):
    """Tiny MNIST-named files in a 'server' folder, and a source whose checksums are theirs."""
    server_dir = tmp_path / "server"
    paths = write_mnist_like(server_dir, n=40)
    files = tuple(
        (
            (split, kind),
            RemoteFile(
                paths[f"{prefix}-{kind}"].name,
                sha256_file(paths[f"{prefix}-{kind}"]),
                paths[f"{prefix}-{kind}"].stat().st_size,
            ),
        )
        for split, prefix in (("train", "train"), ("test", "t10k"))
        for kind in ("images", "labels")
    )
    return server_dir, files


class FolderFetcher:
    """Serves URLs 'mirror-N/<name>' from a folder; mirrors listed in `down` fail."""

    def __init__(self, folder: Path, down: tuple[str, ...] = (), corrupt: tuple[str, ...] = ()):
        self.folder, self.down, self.corrupt, self.calls = folder, down, corrupt, []

    def __call__(self, url: str, out) -> None:
        self.calls.append(url)
        mirror, name = url.rsplit("/", 1)
        if mirror in self.down:
            raise urllib.error.URLError("connection refused")
        data = (self.folder / name).read_bytes()
        out.write(data[: len(data) // 2] if mirror in self.corrupt else data)


def test_download_verifies_and_caches(tmp_path, served):
    server_dir, files = served
    fetch = FolderFetcher(server_dir)
    source = MnistSource(cache_dir=tmp_path / "cache", files=files, mirrors=("m1/",), fetch=fetch)
    data = source.load("train")
    assert len(data) == 40 and data.images.shape == (40, 28, 28)
    assert len(fetch.calls) == 2
    source.load("train")  # now served from the cache
    assert len(fetch.calls) == 2
    assert not list((tmp_path / "cache" / "mnist").glob(".*")), "no temporary files are left behind"


def test_next_mirror_is_tried_when_one_is_down_or_corrupt(tmp_path, served):
    server_dir, files = served
    fetch = FolderFetcher(server_dir, down=("m1",), corrupt=("m2",))
    source = MnistSource(cache_dir=tmp_path / "cache", files=files, mirrors=("m1/", "m2/", "m3/"), fetch=fetch)
    assert len(source.load("test")) == 20
    assert [c.split("/")[0] for c in fetch.calls[:3]] == ["m1", "m2", "m3"]


def test_all_mirrors_failing_names_the_file_and_the_fix(tmp_path, served):
    server_dir, files = served
    fetch = FolderFetcher(server_dir, corrupt=("m1",), down=("m2",))
    source = MnistSource(cache_dir=tmp_path / "cache", files=files, mirrors=("m1/", "m2/"), fetch=fetch)
    with pytest.raises(
        DownloadError, match=r"could not download train-images-idx3-ubyte.gz .*m1/.*sha256.*m2/.*refused.*--data-dir"
    ):
        source.load("train")
    assert not (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_damaged_cache_is_replaced(tmp_path, served):
    server_dir, files = served
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    (cache / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"half a file")
    fetch = FolderFetcher(server_dir)
    source = MnistSource(cache_dir=cache, files=files, mirrors=("m1/",), fetch=fetch)
    assert len(source.load("train")) == 40
    assert any("train-images" in c for c in fetch.calls)


def test_no_download_when_disabled(tmp_path, served):
    _, files = served
    source = MnistSource(cache_dir=tmp_path / "cache", files=files, download=False)
    with pytest.raises(DataError, match="not cached and downloads are off"):
        source.load("train")


def test_local_root_is_used_without_network(tmp_path, served):
    server_dir, files = served
    root = tmp_path / "root"
    (root / "mnist").mkdir(parents=True)
    for f in server_dir.iterdir():
        (root / "mnist" / f.name).write_bytes(f.read_bytes())

    def no_network(url, out):
        raise AssertionError("the network must not be used")

    source = MnistSource(data_root=root, files=files, fetch=no_network)
    assert len(source.load("train")) == 40


def test_locate_all_verifies_the_four_files_and_says_where_they_are(tmp_path, served):
    server_dir, files = served
    source = MnistSource(cache_dir=tmp_path / "cache", files=files, mirrors=("m1/",), fetch=FolderFetcher(server_dir))
    located = source.locate_all()
    assert [(f["split"], f["kind"]) for f in located] == [
        ("train", "images"),
        ("train", "labels"),
        ("test", "images"),
        ("test", "labels"),
    ]
    for f in located:
        remote = dict(files)[(f["split"], f["kind"])]
        assert f["path"] == str(tmp_path / "cache" / "mnist" / remote.name) and f["sha256"] == remote.sha256
        assert sha256_file(Path(f["path"])) == remote.sha256, "downloaded and verified"


def test_local_root_missing_file_names_path_and_fix(tmp_path, served):
    _, files = served
    (tmp_path / "root" / "mnist").mkdir(parents=True)
    with pytest.raises(DataError, match=r"root/mnist/train-images-idx3-ubyte.gz is missing; copy the official"):
        MnistSource(data_root=tmp_path / "root", files=files).load("train")


def local_root(server_dir: Path, tmp_path: Path) -> Path:
    """A data root's mnist/ folder holding copies of the served files."""
    root = tmp_path / "root" / "mnist"
    root.mkdir(parents=True)
    for f in server_dir.iterdir():
        (root / f.name).write_bytes(f.read_bytes())
    return root


def test_local_root_checksum_mismatch(tmp_path, served):
    server_dir, files = served
    root = local_root(server_dir, tmp_path)
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz fails its checksum.*truncated\?"):
        MnistSource(data_root=tmp_path / "root", files=files).load("test")


def test_a_folder_where_an_idx_file_should_be_is_named(tmp_path, served):
    server_dir, files = served
    root = local_root(server_dir, tmp_path)
    (root / "train-images-idx3-ubyte.gz").unlink()
    (root / "train-images-idx3-ubyte.gz").mkdir()  # was "unexpected IsADirectoryError"
    with pytest.raises(
        DataError, match=r"train-images-idx3-ubyte.gz is a folder or a special file, not the MNIST file"
    ):
        MnistSource(data_root=tmp_path / "root", files=files).load("train")


def test_images_and_labels_of_different_lengths(tmp_path):
    from digitrec.data.idx import write_idx
    from tests.helpers import synthetic_digits

    images, labels = synthetic_digits(30)
    root = tmp_path / "mnist"
    root.mkdir()
    ip = write_idx(root / "train-images-idx3-ubyte.gz", images)
    lp = write_idx(root / "train-labels-idx1-ubyte.gz", labels[:29])
    files = (
        (("train", "images"), RemoteFile(ip.name, sha256_file(ip), 0)),
        (("train", "labels"), RemoteFile(lp.name, sha256_file(lp), 0)),
    )
    with pytest.raises(DataError, match=r"has 30 images but .* has 29 labels"):
        MnistSource(data_root=tmp_path, files=files).load("train")


def test_data_root_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match=r"data folder .* does not exist"):
        load_dataset("mnist", "train", tmp_path / "nowhere")


def test_real_http_download_from_loopback_server(tmp_path, served):
    """The real urllib fetcher against an HTTP server on 127.0.0.1 (never the internet)."""
    server_dir, files = served

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no access log on the test's stderr
            pass

    handler = partial(Quiet, directory=str(server_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        dead = "http://127.0.0.1:9/nothing/"  # port 9 (discard) refuses connections
        source = MnistSource(cache_dir=tmp_path / "cache", files=files, mirrors=(dead, base), fetch=urllib_fetch)
        assert len(source.load("train")) == 40
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.mnist
def test_real_mnist_sizes_and_counts(mnist_train, mnist_test):
    assert mnist_train.images.shape == (60000, 28, 28) and mnist_test.images.shape == (10000, 28, 28)
    assert mnist_train.class_counts() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert mnist_test.class_counts() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
