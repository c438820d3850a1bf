"""The demo's collection of labelled drawings, as folders of files."""

from pathlib import Path

import pytest

from mnist_lit.data.collection import Collection
from mnist_lit.errors import ConfigError


def test_collection_folder_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path / ".")
    for given in (".", "./", str(tmp_path / "x" / "..")):
        collection = Collection(given)
        assert collection.root == tmp_path
        assert collection.small_root == tmp_path.parent / f"{tmp_path.name}_28x28"
    with pytest.raises(ConfigError, match="file system root"):
        Collection("/")
