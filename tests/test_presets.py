"""Packaged configs: ``--config fast`` from any folder, the reference run with no config at all."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mnist_lit.cli import main
from mnist_lit.experiments.data_scale import DataScale
from mnist_lit.presets import CONFIG_DIR, packaged_configs
from tests.helpers import ROOT, expect_error


def printed_config(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args, "--print_config"])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


def test_every_config_of_the_repository_is_packaged() -> None:
    assert (ROOT / "configs").resolve() == CONFIG_DIR.resolve()  # the old paths still work
    names = packaged_configs()
    assert {
        "default",
        "fast",
        "best",
        "gpu",
        "gpu_fast",
        "ddp",
        "debug",
        "numbers",
        "data_scale",
    } <= set(names)
    assert sorted(map(str, names.values())) == sorted(
        str(path) for path in CONFIG_DIR.rglob("*.yaml")
    )


def test_no_config_is_the_reference_run_and_names_work_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # not the repository: no configs/ folder here
    plain = printed_config(capsys)
    assert plain["trainer"]["max_epochs"] == 3  # not Lightning's 1,000
    assert plain["data"]["batch_size"] == 32 and plain["model"]["lr"] == 0.001
    fast = printed_config(capsys, "--config", "fast")
    assert fast["trainer"]["max_epochs"] == 1 and fast["data"]["train_size"] == 40000
    stacked = printed_config(capsys, "--config=default", "-c", "best", "--trainer.max_epochs", "2")
    assert stacked["model"]["channels"] == [64, 128, 256] and stacked["trainer"]["max_epochs"] == 2
    assert DataScale().base == [str(CONFIG_DIR / "default.yaml")]  # the sweep's base, by name


def test_an_unknown_name_lists_the_packaged_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    err = expect_error(capsys, ["fit", "--config", "fastest"])
    assert err.startswith("mnist_lit: error: --config fastest: no such file and no packaged")
    assert "packaged: default, best, ddp, debug, fast, gpu, gpu_fast, numbers, data_scale" in err
    assert len(err.strip().splitlines()) == 1


def test_presets_and_the_other_commands_from_one_entry_point(tmp_path: Path) -> None:
    def mnist_lit(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mnist_lit", *args],
            capture_output=True, text=True, cwd=tmp_path, timeout=120, check=True,
        )  # fmt: skip
        return done.stdout

    listing = mnist_lit("presets")
    assert "fast: Train quickly to 99%" in listing
    assert str(CONFIG_DIR / "presets" / "fast.yaml") in listing
    assert "mnist-lit presets lists them" in " ".join(mnist_lit("--help").split())
    assert "--ckpt_path" in mnist_lit("report", "--help")
    assert "--sizes" in mnist_lit("data-scale", "--help")
    assert "--format {onnx,torchscript}" in mnist_lit("export", "--help")


def test_listing_the_presets_is_instant() -> None:
    """``mnist-lit presets`` imports neither PyTorch nor Lightning (8 s on an AVX2 CPU)."""
    listing = (
        "import sys; from mnist_lit.entry import entry_point; sys.argv[1:] = ['presets']; "
        "entry_point(); print(sorted({'torch', 'lightning'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", listing], capture_output=True, text=True, timeout=60, check=True
    )
    assert "fast: Train quickly to 99%" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"
