"""Downloading a file from a list of mirrors, verified by sha256, written atomically."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from digitrec.errors import DownloadError

# A fetcher writes the bytes found at a URL into an open binary file. Tests inject their
# own so that no test needs the network.
Fetcher = Callable[[str, BinaryIO], None]

USER_AGENT = "digitrec (+https://github.com/digitrec/digitrec)"


def urllib_fetch(url: str, out: BinaryIO, timeout: float = 30.0) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        shutil.copyfileobj(response, out, length=1 << 20)


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_verified(urls: Sequence[str], dest: Path, sha256: str, fetch: Fetcher = urllib_fetch) -> Path:
    """Fetch `dest` from the first URL that yields bytes with the right sha256.

    Each attempt goes to a temporary file beside `dest` and is renamed into place only
    once verified, so an interrupted or corrupt download never leaves a bad `dest`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                fetch(url, out)
                out.flush()
                os.fsync(out.fileno())
            got = sha256_file(tmp)
            if got != sha256:
                failures.append(f"{url}: sha256 {got[:12]}... differs from {sha256[:12]}...")
                continue
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            failures.append(f"{url}: {reason}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DownloadError(
        f"could not download {dest.name} from any mirror ({'; '.join(failures)}); "
        f"put the file in {dest.parent} yourself, or point --data-dir / DIGITREC_DATA at a folder holding it"
    )
