"""Run folders: runs started at the same moment never share one; a failed run leaves none behind."""

from __future__ import annotations

import inspect
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI

from mnist_lit.cli import MNISTLightningCLI, main
from mnist_lit.training.runs import resumable_run
from tests.helpers import CONFIG, ROOT, TinyMNIST
from tests.training.claims import claim

LAUNCH = """
import json, sys
from mnist_lit.cli import main
from mnist_lit.data import mnist
mnist.FILES.update(json.loads(sys.argv[1]))
main(sys.argv[2:])
"""
"""The CLI in a new process that accepts the tiny MNIST files."""


class WaitForOthers(Callback):
    """Note the run folder at setup, then wait there until ``count`` runs have come (a barrier).

    So the runs are at the same point at the same moment, each holding the folder it writes to.
    """

    def __init__(self, folder: str, count: int) -> None:
        self.folder, self.count = Path(folder), count

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        (self.folder / Path(str(trainer.log_dir)).name).mkdir(parents=True, exist_ok=True)
        (self.folder / str(os.getpid())).touch()
        deadline = time.monotonic() + 120
        while len([p for p in self.folder.iterdir() if p.is_file()]) < self.count:
            assert time.monotonic() < deadline, "the other runs never reached setup"
            time.sleep(0.05)


def test_processes_claiming_at_once_get_distinct_folders(tmp_path: Path) -> None:
    (tmp_path / "version_3").mkdir()  # numbering goes on after the newest run
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(6), context.Queue()
    processes = [
        context.Process(target=claim, args=(str(tmp_path), barrier, out)) for _ in range(6)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    names = sorted(out.get(timeout=5) for _ in processes)
    assert names == [f"version_{n}" for n in range(4, 10)]


def _fit_args(tiny: TinyMNIST, root: Path, seed: int) -> list[str]:
    return [
        "fit",
        "--config", CONFIG,
        "--data.mirror", str(tiny.mirror),
        "--data.data_dir", str(root / f"data{seed}"),
        "--data.val_size", "100",
        "--trainer.default_root_dir", str(root),
        "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "2",
        "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
        "--seed_everything", str(seed),
    ]  # fmt: skip


def test_concurrent_fits_each_write_their_own_run_folder(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    seeds = [11, 12, 13]
    barrier = tmp_path / "barrier"
    wait = f"--trainer.callbacks+={WaitForOthers.__module__}.WaitForOthers"
    options = [wait, f"--trainer.callbacks.folder={barrier}", "--trainer.callbacks.count=3"]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCH,
                json.dumps(tiny_mnist.checksums),
                *_fit_args(tiny_mnist, tmp_path, seed),
                *options,
            ],
            cwd=ROOT,  # so that tests.* imports
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in seeds
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    runs = sorted((tmp_path / "lightning_logs").iterdir())
    assert sorted(p.name for p in barrier.iterdir() if p.is_dir()) == [r.name for r in runs]
    assert [run.name for run in runs] == ["version_0", "version_1", "version_2"]
    recorded = []
    for run in runs:
        recorded.append(yaml.safe_load((run / "config.yaml").read_text())["seed_everything"])
        assert len(list(run.glob("events.out.tfevents.*"))) == 1, run
        assert (run / "checkpoints" / "last.ckpt").is_file()
        assert len(list((run / "checkpoints").glob("best-*.ckpt"))) == 1, run
    assert sorted(recorded) == seeds  # each run's config, none overwritten by another


def test_a_run_that_fails_before_writing_leaves_no_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(
            [
                "fit",
                "--config", CONFIG,
                "--data.mirror", str(tmp_path / "no_such_mirror"),
                "--data.download", "false",
                "--data.data_dir", str(tmp_path / "data"),
                "--trainer.default_root_dir", str(tmp_path),
                "--trainer.enable_progress_bar", "false",
            ]
        )  # fmt: skip
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith("mnist_lit: error: ")
    assert not (tmp_path / "lightning_logs").exists()


def test_a_checkpoint_of_an_older_run_resumes_in_a_new_folder(tmp_path: Path) -> None:
    old = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    old.parent.mkdir(parents=True)
    old.touch()
    assert resumable_run(old, tmp_path)[0] == old.parent.parent
    (tmp_path / "version_1").mkdir()
    run_dir, message = resumable_run(old, tmp_path)
    assert run_dir is None and "new run folder" in message
    assert resumable_run(tmp_path / "elsewhere.ckpt", tmp_path)[0] is None


def test_the_one_private_lightningcli_method_overridden_is_as_lightning_calls_it() -> None:
    # cli.py overrides LightningCLI._prepare_subcommand_parser to add --test to fit and
    # --predictions to predict: no public hook knows the subcommand. If Lightning renames it or
    # changes its arguments, this fails before users lose those options.
    assert "_prepare_subcommand_parser" in inspect.getsource(LightningCLI._add_subcommands)
    ours = inspect.signature(MNISTLightningCLI._prepare_subcommand_parser)
    theirs = inspect.signature(LightningCLI._prepare_subcommand_parser)
    assert (
        list(ours.parameters)
        == list(theirs.parameters)
        == [
            "self",
            "klass",
            "subcommand",
            "kwargs",
        ]
    )
    overridden = {
        name
        for name, member in vars(MNISTLightningCLI).items()
        if name.startswith("_") and not name.startswith("__") and callable(member)
    }
    assert overridden == {"_prepare_subcommand_parser", "_run_dir"}
    assert not hasattr(LightningCLI, "_run_dir")  # ours, not an override
