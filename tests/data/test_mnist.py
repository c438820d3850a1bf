import gzip
import hashlib
import shutil
import urllib.error
from pathlib import Path

import pytest

from mnist_lit.data import mnist as fetch
from mnist_lit.data.mnist import fetch_mnist, raw_folder
from mnist_lit.errors import DataError
from tests.helpers import TinyMNIST


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime) for p in folder.iterdir()}


def test_mirror_folder_gives_verified_uncompressed_files_and_is_not_written(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    before = snapshot(tiny_mnist.mirror)
    raw = fetch_mnist(tmp_path / "data", mirror=str(tiny_mnist.mirror), download=False)
    assert raw == raw_folder(tmp_path / "data")
    assert sorted(p.name for p in raw.iterdir()) == sorted(fetch.FILES)
    for name, md5 in fetch.FILES.items():
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5
    assert snapshot(tiny_mnist.mirror) == before


def test_file_url_mirror_works_without_network(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    raw = fetch_mnist(tmp_path / "data", mirror=tiny_mnist.mirror.as_uri(), download=False)
    assert sorted(p.name for p in raw.iterdir()) == sorted(fetch.FILES)


def test_truncated_gzip_in_mirror_is_named_and_leaves_nothing_behind(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    archive = tiny_mnist.mirror / "train-images-idx3-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz is truncated or corrupt"):
        fetch_mnist(tmp_path / "data", mirror=str(tiny_mnist.mirror), download=False)
    leftovers = [p.name for p in raw_folder(tmp_path / "data").iterdir()]
    assert "train-images-idx3-ubyte" not in leftovers
    assert not [name for name in leftovers if name.endswith(".part")]


def test_wrong_content_is_rejected_by_md5(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    labels = tiny_mnist.mirror / "t10k-labels-idx1-ubyte"
    content = bytearray(labels.read_bytes())
    content[-1] = (content[-1] + 1) % 10  # one label changed: same size, still valid IDX
    labels.write_bytes(bytes(content))
    with pytest.raises(
        DataError, match=r"t10k-labels-idx1-ubyte is truncated, corrupt or not MNIST"
    ):
        fetch_mnist(tmp_path / "data", mirror=str(tiny_mnist.mirror), download=False)


def test_corrupt_cached_file_is_fetched_again(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    raw = fetch_mnist(tmp_path / "data", mirror=str(tiny_mnist.mirror), download=False)
    cached = raw / "train-labels-idx1-ubyte"
    good = cached.read_bytes()
    cached.write_bytes(good[:10])  # as left by an interrupted copy
    fetch_mnist(tmp_path / "data", mirror=str(tiny_mnist.mirror), download=False)
    assert cached.read_bytes() == good


def test_verified_cache_needs_no_source(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    fetch_mnist(tmp_path / "data", mirror=str(tiny_mnist.mirror), download=False)
    shutil.rmtree(tiny_mnist.mirror)
    fetch_mnist(tmp_path / "data", mirror=None, download=False)  # no error: all four verified


def test_no_source_says_what_to_do(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"download: false.*--data\.mirror"):
        fetch_mnist(tmp_path / "data", mirror=None, download=False)


def test_missing_mirror_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"mirror folder .*nowhere does not exist"):
        fetch_mnist(tmp_path / "data", mirror=str(tmp_path / "nowhere"), download=False)


def test_mirror_without_a_file_falls_back_to_download(
    tiny_mnist: TinyMNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tiny_mnist.mirror / "t10k-images-idx3-ubyte").unlink()
    asked: list[str] = []

    def offline(url: str, root: str, filename: str, md5: str) -> None:
        asked.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("torchvision.datasets.utils.download_url", offline)
    with pytest.raises(
        DataError, match=r"t10k-images-idx3-ubyte: mirror .* has neither.*no network"
    ):
        fetch_mnist(tmp_path / "data", mirror=str(tiny_mnist.mirror), download=True)
    assert asked and all(url.endswith("t10k-images-idx3-ubyte.gz") for url in asked)


def test_official_download_is_verified_and_installed(
    tiny_mnist: TinyMNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stand-in for the network: "download" the archives from the tiny mirror (test files gzipped).
    def fake_download(url: str, root: str, filename: str, md5: str) -> None:
        name = filename.removesuffix(".gz")
        source = tiny_mnist.mirror / filename
        data = (
            source.read_bytes()
            if source.exists()
            else gzip.compress((tiny_mnist.mirror / name).read_bytes())
        )
        (Path(root) / filename).write_bytes(data)

    monkeypatch.setattr("torchvision.datasets.utils.download_url", fake_download)
    raw = fetch_mnist(tmp_path / "data", mirror=None, download=True)
    assert sorted(p.name for p in raw.iterdir()) == sorted(fetch.FILES)


def test_mirror_is_refused_as_the_data_folder(tiny_mnist: TinyMNIST) -> None:
    with pytest.raises(DataError, match="lies in the mirror"):
        fetch_mnist(tiny_mnist.mirror, mirror=str(tiny_mnist.mirror), download=False)
    assert not (tiny_mnist.mirror / "MNIST").exists()


def test_network_mirror_is_refused_when_downloading_is_off(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="network address but downloading is switched off"):
        fetch_mnist(tmp_path / "data", mirror="https://example.invalid/mnist", download=False)


@pytest.mark.parametrize("header", ["bomb", "MNIST header, too long"])
def test_a_gzip_bomb_in_the_mirror_stops_at_the_known_size(
    tiny_mnist: TinyMNIST, tmp_path: Path, header: str
) -> None:
    # 200 MB of zeros in 0.2 MB of gzip, in place of the test labels (10 KB for real MNIST);
    # the old code wrote all of it to a temporary file before its MD5 was refused
    labels = tiny_mnist.mirror / "t10k-labels-idx1-ubyte"  # the mirror's copy, not gzipped
    start = labels.read_bytes() if header != "bomb" else b""  # its IDX header and labels
    archive = labels.with_name(labels.name + ".gz")  # read before the file itself
    with gzip.open(archive, "wb") as out:
        out.write(start)
        for _ in range(200):
            out.write(bytes(1 << 20))
    assert archive.stat().st_size < 1 << 20
    pattern = "not an MNIST file" if header == "bomb" else "holds more than the 2[0-9,]+ bytes"
    with pytest.raises(DataError, match=pattern):
        fetch_mnist(tmp_path / "data", mirror=str(tiny_mnist.mirror), download=False)
    assert not [p.name for p in raw_folder(tmp_path / "data").iterdir() if p.name.endswith(".part")]


def test_a_header_larger_than_any_mnist_file_is_refused(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    labels = tiny_mnist.mirror / "t10k-labels-idx1-ubyte"
    labels.write_bytes(
        b"\x00\x00\x08\x03" + (60_000).to_bytes(4, "big") + (2000).to_bytes(4, "big") * 2
    )
    with pytest.raises(DataError, match="more than any MNIST file"):
        fetch_mnist(tmp_path / "data", mirror=str(tiny_mnist.mirror), download=False)
