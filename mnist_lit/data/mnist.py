"""Fetch the four MNIST files into ``DATA_DIR/MNIST/raw/`` and verify them.

Sources, in order: files already there, then ``mirror`` (a local folder or a base URL holding the
files, gzip-compressed or not; never written to), then torchvision's official mirrors. Every file is
checked by the MD5 of its *uncompressed* content and is moved into place only once it matches, so a
half-written or truncated file is never used for training.

    python -c "from mnist_lit.data.mnist import fetch_mnist; fetch_mnist('data', mirror='../shared/data/mnist')"
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import io
import logging
import os
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from mnist_lit.errors import DataError

log = logging.getLogger(__name__)

FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
"""MD5 of each file's uncompressed content, as in the canonical MNIST release."""


@contextlib.contextmanager
def expected_checksums(checksums: Mapping[str, str]) -> Iterator[None]:
    """Check the files against ``checksums`` instead of MNIST's while inside the block.

    For made-up MNIST files (``synthetic.write_mnist_files``), e.g. the data-scale experiment's
    ``--dry_run``; the table is as before afterwards.
    """
    saved = dict(FILES)
    FILES.update(checksums)
    try:
        yield
    finally:
        FILES.clear()
        FILES.update(saved)


_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
MAX_FILE_BYTES = 64 << 20
"""Most bytes a file may hold or a download may bring: the largest MNIST file, the training
images, is 47,040,016 bytes. A gzip bomb or an endless download stops here, not on a full disk."""
_HINT = (
    "Point --data.mirror at a folder (or base URL) holding the four MNIST files, "
    "e.g. --data.mirror ../shared/data/mnist, or allow downloading on a machine with internet."
)


def raw_folder(data_dir: str | Path) -> Path:
    """Return the folder torchvision's ``MNIST(root=data_dir)`` reads the uncompressed files from."""
    return Path(data_dir) / "MNIST" / "raw"


def file_md5(path: str | Path) -> str:
    """Return the hex MD5 of a file's bytes, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_mnist(data_dir: str | Path, mirror: str | None = None, download: bool = True) -> Path:
    """Make sure the four verified MNIST files are in ``raw_folder(data_dir)``.

    Args:
        data_dir: Folder to keep the data in; ``MNIST/raw/`` is created inside it.
        mirror: Local folder or base URL (``http(s)://`` or ``file://``) holding the four files, as
            ``NAME.gz`` or ``NAME``. Tried before the official mirrors; never written to.
        download: Whether the network may be used: the official mirrors, or an ``http(s)://``
            mirror. ``False`` allows only local files.

    Returns:
        The folder holding the four uncompressed, verified files.

    Raises:
        DataError: A file cannot be had, or the one found is truncated or corrupt. The message
            names the file and says what to do.

    """
    raw = raw_folder(data_dir)
    if mirror is not None:
        _check_mirror(mirror, raw, download)
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create {raw} ({err}); choose another --data.data_dir") from err
    for name, md5 in FILES.items():
        target = raw / name
        if target.is_file():
            if file_md5(target) == md5:
                continue
            log.warning("%s does not match its MD5; fetching it again", target)
            target.unlink()
        tried: list[str] = []
        if mirror is not None:
            source = _from_mirror(mirror, name, target, md5, tried)
            if source is not None:
                log.info("MNIST %s: copied from %s and verified", name, source)
                continue
        if download:
            try:
                _from_official_mirrors(name, target, md5)
                continue
            except DataError as err:
                tried.append(str(err))
        else:
            tried.append("downloading is switched off (download: false)")
        raise DataError(f"cannot get MNIST file {name}: {'; '.join(tried)}. {_HINT}")
    return raw


def _is_url(location: str) -> bool:
    return "://" in location


def _check_mirror(mirror: str, raw: Path, download: bool) -> None:
    """Refuse a mirror that cannot be used as asked, or that the fetch would write into."""
    if _is_url(mirror):
        if not download and not mirror.lower().startswith("file://"):
            raise DataError(
                f"mirror {mirror} is a network address but downloading is switched off "
                "(download: false); use a local folder or allow downloading"
            )
        return
    folder = Path(mirror).resolve()
    if not folder.is_dir():
        raise DataError(f"mirror folder {mirror} does not exist. {_HINT}")
    if raw.resolve().is_relative_to(folder):
        raise DataError(
            f"the data folder {raw} lies in the mirror {mirror}, which is only ever read; "
            "choose a --data.data_dir outside it"
        )


def _from_mirror(mirror: str, name: str, target: Path, md5: str, tried: list[str]) -> str | None:
    """Install ``name`` from the mirror; return where it came from, or None if it is not there.

    Why each try failed is appended to ``tried``.
    """
    for candidate in (f"{name}.gz", name):
        if not _is_url(mirror):
            path = Path(mirror) / candidate
            if path.is_file():
                _install(path, str(path), target, md5)
                return str(path)
            continue
        url = f"{mirror.rstrip('/')}/{candidate}"
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
            local = Path(tmp) / candidate
            try:
                with urllib.request.urlopen(url, timeout=60) as response, open(local, "wb") as out:
                    _copy_at_most(response, out, MAX_FILE_BYTES)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
                tried.append(f"{url}: {err}")  # not there or unreachable: try the next name
                continue
            _install(local, url, target, md5)
        return url
    if not _is_url(mirror):
        tried.append(f"mirror {mirror} has neither {name}.gz nor {name}")
    return None


def _from_official_mirrors(name: str, target: Path, md5: str) -> None:
    """Download ``name.gz`` with torchvision from its MNIST mirrors (checked by archive MD5)."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import download_url

    archive_md5 = dict(MNIST.resources)[f"{name}.gz"]
    errors = []
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        for base in MNIST.mirrors:
            try:
                download_url(f"{base}{name}.gz", root=tmp, filename=f"{name}.gz", md5=archive_md5)
            except (urllib.error.URLError, RuntimeError, OSError) as err:
                errors.append(f"{base}{name}.gz: {err}")
                continue
            _install(Path(tmp) / f"{name}.gz", f"{base}{name}.gz", target, md5)
            return
    raise DataError("download failed (" + "; ".join(errors) + ")")


def _install(path: Path, source: str, target: Path, md5: str) -> None:
    """Copy ``path`` (gzip or not) to ``target`` atomically, if its content has the right MD5."""
    # unique across the machines that may share data_dir (DDP on several nodes)
    tmp = target.with_name(f".{target.name}.{socket.gethostname()}.{os.getpid()}.part")
    digest = hashlib.md5()
    try:
        with open(path, "rb") as raw, open(tmp, "wb") as out:
            gzipped = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            content: gzip.GzipFile | io.BufferedReader = (
                gzip.GzipFile(fileobj=raw) if gzipped else raw
            )
            limit = _idx_size(content.peek(16) if gzipped else raw.peek(16), source, target)
            written = 0
            while chunk := content.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise DataError(
                        f"{source} holds more than the {limit:,} bytes its MNIST header gives "
                        f"for {target.name}; replace it with a good copy"
                    )
                out.write(chunk)
                digest.update(chunk)
    except DataError:
        tmp.unlink(missing_ok=True)
        raise
    except (EOFError, OSError) as err:  # gzip.BadGzipFile is an OSError
        tmp.unlink(missing_ok=True)
        raise DataError(
            f"{source} is truncated or corrupt ({err}); replace it with a good copy of "
            f"{target.name}.gz, or remove it so it is fetched again"
        ) from err
    if digest.hexdigest() != md5:
        tmp.unlink(missing_ok=True)
        raise DataError(
            f"{source} is truncated, corrupt or not MNIST: the MD5 of its uncompressed content is "
            f"{digest.hexdigest()}, expected {md5} for {target.name}; replace it with a good copy"
        )
    os.replace(tmp, target)


def _idx_size(header: bytes, source: str, target: Path) -> int:
    """Return the size an MNIST (IDX, unsigned bytes) file declares in its first bytes.

    Raises:
        DataError: The bytes are not an IDX header of unsigned bytes, or declare more than
            ``MAX_FILE_BYTES``.

    """
    if len(header) < 4 or header[:3] != b"\x00\x00\x08" or not 1 <= header[3] <= 3:
        raise DataError(
            f"{source} is not an MNIST file (no IDX header of unsigned bytes); replace it with "
            f"a good copy of {target.name}"
        )
    dims = header[3]
    if len(header) < 4 + 4 * dims:
        raise DataError(f"{source} is truncated: its MNIST header is incomplete")
    size = 4 + 4 * dims
    count = 1
    for i in range(dims):
        count *= int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big")
    if size + count > MAX_FILE_BYTES:
        raise DataError(
            f"{source} declares {size + count:,} bytes, more than any MNIST file "
            f"({MAX_FILE_BYTES:,} at most); replace it with a good copy of {target.name}"
        )
    return size + count


def _copy_at_most(source: Any, out: BinaryIO, limit: int) -> None:
    """Copy ``source`` into ``out``; stop with an error past ``limit`` bytes."""
    copied = 0
    while chunk := source.read(_CHUNK):
        copied += len(chunk)
        if copied > limit:
            raise OSError(f"more than {limit:,} bytes: larger than any MNIST file")
        out.write(chunk)
