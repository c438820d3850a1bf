"""The command line driven in-process, as a user runs it, on tiny synthetic data."""

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import ROOT, TinyMNIST, cli_args, expect_error, run


def test_fit_test_predict(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "4")
    run_dir = Path(fit.trainer.log_dir)
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert (
        len(checkpoints) == 2
        and checkpoints[0].startswith("best-epoch=")
        and checkpoints[1] == "last.ckpt"
    )
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 3  # the final epoch, even when val/acc did not improve in it
    assert (run_dir / "config.yaml").is_file()
    assert any(run_dir.glob("events.out.tfevents.*"))
    assert {
        "train/loss",
        "train/acc",
        "train/loss_epoch",
        "val/loss",
        "val/acc",
        "val/acc_digit_0",
    } <= set(fit.trainer.logged_metrics)
    out = capsys.readouterr().out
    assert "Device: CPU" in out and "threads" in out
    best = next((run_dir / "checkpoints").glob("best-epoch=*.ckpt"))
    assert f"Checkpoints: best {best}, last {run_dir / 'checkpoints' / 'last.ckpt'}" in out

    # A new CLI, as in a new process: "best" must be found on disk.
    test = run("test", tiny_mnist, tmp_path, "--ckpt_path", "best")
    metrics = test.trainer.callback_metrics
    assert metrics["test/acc"] > 0.9  # the synthetic digits are learnable; chance is 0.1
    assert {f"test/acc_digit_{d}" for d in range(10)} <= set(metrics)
    out = capsys.readouterr().out
    assert "Checkpoint (best): " in out and "best-epoch=" in out
    assert "digit  accuracy   images" in out and "Confusion matrix" in out
    assert re.search(r"\n\s+all\s+\d+\.\d\d%\s+200\n", out)

    predict = run("predict", tiny_mnist, tmp_path, "--ckpt_path", "last")
    csv_path = Path(predict.trainer.log_dir) / "predictions.csv"
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 200
    assert list(rows[0]) == ["path", "label", "prediction", "confidence"] + [
        f"p{d}" for d in range(10)
    ] + ["error", "unsure"]
    assert rows[5]["path"] == "t10k-images-idx3-ubyte[5]" and rows[5]["error"] == ""
    probabilities = [float(rows[0][f"p{d}"]) for d in range(10)]
    assert sum(probabilities) == pytest.approx(1, abs=1e-4)
    correct = sum(row["prediction"] == row["label"] for row in rows)
    assert correct / len(rows) > 0.9
    out = capsys.readouterr().out
    assert f"Wrote 200 rows to {csv_path}\n  predicted: 200 images in " in out


def test_validate_reproduces_the_last_epochs_val_acc(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "2")
    validate = run("validate", tiny_mnist, tmp_path, "--ckpt_path", "last")
    expected = fit.trainer.callback_metrics["val/acc"]
    assert validate.trainer.callback_metrics["val/acc"] == pytest.approx(float(expected))


def test_validate_without_validation_images_is_refused(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = expect_error(
        capsys, ["validate", *cli_args(tiny_mnist, tmp_path, "--data.val_size", "0")]
    )
    assert "validate needs validation images, but val_size is 0" in err


def test_checkpoint_normalisation_is_used_by_test(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    norm = ["--data.mean", "0.1307", "--data.std", "0.3081"]
    run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "1", *norm)
    test = run("test", tiny_mnist, tmp_path, "--ckpt_path", "last")  # default config: 0.5 / 0.5
    assert (test.datamodule.mean, test.datamodule.std) == (0.1307, 0.3081)
    assert (test.model.hparams["mean"], test.model.hparams["std"]) == (0.1307, 0.3081)
    assert "Normalisation of the checkpoint: data.mean = 0.1307" in capsys.readouterr().out


def test_checkpoint_alone_rebuilds_a_non_default_model(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    run(
        "fit",
        tiny_mnist,
        tmp_path,
        "--trainer.max_epochs",
        "1",
        "--model.batch_norm",
        "true",
        "--model.channels",
        "[8, 16, 32]",
    )
    # test is given only the default config: the architecture comes from the checkpoint
    test = run("test", tiny_mnist, tmp_path, "--ckpt_path", "best")
    assert test.model.hparams["batch_norm"] is True
    assert tuple(test.model.hparams["channels"]) == (8, 16, 32)


def test_val_size_zero_keeps_last_and_best_means_last(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "2", "--data.val_size", "0")
    checkpoints = Path(fit.trainer.log_dir) / "checkpoints"
    assert [p.name for p in checkpoints.iterdir()] == ["last.ckpt"]
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] == 1
    out = capsys.readouterr().out
    assert "no validation" in out and f"Checkpoints: last {checkpoints / 'last.ckpt'}\n" in out
    run("test", tiny_mnist, tmp_path, "--ckpt_path", "best")
    assert f"Checkpoint (best): {checkpoints / 'last.ckpt'}" in capsys.readouterr().out


def test_debug_preset_runs_one_batch(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--config", str(ROOT / "configs/presets/debug.yaml"))
    assert fit.trainer.fast_dev_run
    assert fit.trainer.global_step == 1
    assert not (tmp_path / "lightning_logs").exists()  # fast_dev_run writes no logs


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data.train_size", "-3"], "mnist_lit: error: train_size must be positive, got -3"),
        (
            ["--data.train_size", "59000"],
            "mnist_lit: error: train_size (59000) + val_size (100) exceeds the 600 training images",
        ),
        (
            ["--data.train_size", "59950"],
            "mnist_lit: error: train_size (59950) + val_size (100) exceeds the 60,000 MNIST",
        ),
        (["--data.batch_size", "0"], "mnist_lit: error: batch_size must be positive"),
        (["--model.lr", "0"], "mnist_lit: error: lr must be positive, got 0.0"),
        (["--model.dropout", "1.5"], "mnist_lit: error: dropout must be in [0, 1), got 1.5"),
        (["--data.batch_size", "many"], 'mnist_lit: error: Parser key "data.batch_size"'),
        pytest.param(
            ["--trainer.accelerator", "gpu"],
            "need a CUDA GPU",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there"),
        ),
    ],
)
def test_bad_values_give_one_line(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    err = expect_error(capsys, ["fit", *cli_args(tiny_mnist, tmp_path, *extra)])
    # progress lines may come before it, but the error itself is one line, and the last
    assert message in err.strip().splitlines()[-1]
    assert err.count("error") == 1


@pytest.mark.parametrize("option", ["--data.batch_sise", "--data.mirro"])  # typo, abbreviation
def test_unknown_key_is_rejected(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    err = expect_error(capsys, ["fit", *cli_args(tiny_mnist, tmp_path, option, "8")])
    assert err.startswith("mnist_lit: error: ") and f"unrecognized arguments: {option}" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_checkpoint_is_named(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.ckpt"
    err = expect_error(
        capsys, ["test", *cli_args(tiny_mnist, tmp_path, "--ckpt_path", str(missing))]
    )
    assert f"mnist_lit: error: checkpoint {missing} does not exist" in err
    err = expect_error(capsys, ["test", *cli_args(tiny_mnist, tmp_path, "--ckpt_path", "best")])
    assert "no checkpoints under" in err and "run fit first" in err


def test_corrupt_checkpoint_is_named(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    err = expect_error(capsys, ["test", *cli_args(tiny_mnist, tmp_path, "--ckpt_path", str(bad))])
    assert f"{bad} is not a readable checkpoint" in err


def test_truncated_mirror_file_is_named(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tiny_mnist.mirror / "train-images-idx3-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:-100])
    err = expect_error(capsys, ["fit", *cli_args(tiny_mnist, tmp_path, "--data.download", "false")])
    assert f"{archive} is truncated or corrupt" in err
    assert not list((tmp_path / "lightning_logs").glob("*/checkpoints/*.ckpt"))


def test_module_help_in_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mnist_lit", "fit", "--help"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "--data.mirror" in result.stdout and "--model.lr" in result.stdout
    assert "--checkpoint.monitor" in result.stdout
    text = " ".join(result.stdout.split())  # undo the help's line wrapping
    assert "Local folder or base URL" in text  # argument docs reach --help
    assert "from the newest run under lightning_logs/" in text  # our --ckpt_path, not Lightning's


@pytest.mark.parametrize(
    ("started", "usage"),
    [
        ("/venv/bin/mnist-lit", "usage: mnist-lit export "),
        ("python -m mnist_lit", "usage: python -m mnist_lit export "),
        ("/x/mnist_lit/export/__main__.py", "usage: python -m mnist_lit.export "),
    ],
)
def test_usage_names_the_command_as_typed(
    started: str,
    usage: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mnist_lit.export.command import main as export

    monkeypatch.setattr(sys, "argv", [started, "export", "--help"])
    with pytest.raises(SystemExit):
        export(["--help"])
    assert capsys.readouterr().out.startswith(usage)


def test_evaluating_without_a_checkpoint_warns(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run("test", tiny_mnist, tmp_path)
    assert "test without --ckpt_path uses an untrained model" in capsys.readouterr().out


def test_fit_with_test_tests_the_best_checkpoint_into_the_same_run(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "2", "--test", "true")
    out = capsys.readouterr().out
    best = next((Path(fit.trainer.log_dir) / "checkpoints").glob("best-epoch=*.ckpt"))
    assert f"Testing {best}" in out
    assert "digit  accuracy   images" in out and "Confusion matrix" in out
    assert fit.trainer.callback_metrics["test/acc"] > 0.9
    assert [p.name for p in (tmp_path / "lightning_logs").iterdir()] == ["version_0"]


def test_fit_with_test_and_no_validation_tests_the_last_weights(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run("fit", tiny_mnist, tmp_path, "--data.val_size", "0", "--test", "true")
    out = capsys.readouterr().out
    assert "Testing the weights after the last epoch" in out and "Confusion matrix" in out
