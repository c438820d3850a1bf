"""Loggers other than TensorBoard: CSV and MLflow (a local sqlite store) through the CLI."""

import csv
import socket
import time
from pathlib import Path

import pytest

from mnist_lit.callbacks.loggers import RUN_DIR_TAG
from mnist_lit.report.curves import read_curves
from tests.helpers import TinyMNIST, expect_error, run
from tests.helpers.cli import cli_args


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def _column(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(row[name]) for row in rows if row.get(name)]


def test_csv_logger_records_the_best_accuracy_and_finds_its_checkpoints(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_logger = ("--trainer.logger", "CSVLogger", "--trainer.logger.save_dir", f"{tmp_path}/csv")
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "3", *csv_logger)
    run_dir = Path(fit.trainer.log_dir)
    assert run_dir == tmp_path / "csv" / "lightning_logs" / "version_0"
    rows = _csv_rows(run_dir / "metrics.csv")
    accuracies, best = _column(rows, "val/acc"), _column(rows, "val/acc_best")
    assert len(best) == 3  # one per epoch, none from the sanity check
    assert best == [max(accuracies[: i + 1]) for i in range(3)]
    assert (run_dir / "config.yaml").is_file() and any((run_dir / "checkpoints").glob("best-*"))
    assert "figures are skipped for CSVLogger" in capsys.readouterr().err
    curves = read_curves(run_dir)  # the report's training curves, read from metrics.csv
    assert curves["val/acc"][1] == accuracies and len(curves["train/loss"][0]) >= 3

    test = run("test", tiny_mnist, tmp_path, "--ckpt_path", "best", *csv_logger)
    assert Path(test.trainer.ckpt_path).parent == run_dir / "checkpoints"
    tested = _csv_rows(Path(test.trainer.log_dir) / "metrics.csv")
    assert 0.0 <= _column(tested, "test/acc")[0] <= 1.0
    assert Path(test.trainer.log_dir) != run_dir  # the test run has a folder of its own


def test_mlflow_gets_metrics_figures_settings_and_each_run_its_own_folder(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_logger = (
        "--trainer.logger", "MLFlowLogger",
        "--trainer.logger.tracking_uri", uri,
        "--trainer.logger.artifact_location", (tmp_path / "artifacts").as_uri(),
    )  # fmt: skip
    fits = [
        run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "2", *mlflow_logger)
        for _ in range(2)
    ]
    folders = [Path(fit.trainer.log_dir) for fit in fits]
    assert folders == [tmp_path / "lightning_logs" / f"version_{n}" for n in (0, 1)]
    client = MlflowClient(uri)
    for fit, folder in zip(fits, folders, strict=True):
        assert (folder / "config.yaml").is_file()
        assert any((folder / "checkpoints").glob("best-*.ckpt"))
        run_id = fit.trainer.logger.run_id
        record = client.get_run(run_id)
        assert record.data.tags[RUN_DIR_TAG] == str(folder)  # where its checkpoints are
        assert record.info.run_name == folder.name  # not MLflow's random name, seeded alike
        assert record.data.params["trainer.max_epochs"] == "2"  # besides the model's own
        assert record.data.params["lr"] == "0.001"
        accuracies = [m.value for m in client.get_metric_history(run_id, "val/acc")]
        best = [m.value for m in client.get_metric_history(run_id, "val/acc_best")]
        assert best == [max(accuracies[: i + 1]) for i in range(len(accuracies))] and best
        artifacts = {a.path for a in client.list_artifacts(run_id)}
        assert {"config.yaml", "images", "model"} <= artifacts
        images = [a.path for a in client.list_artifacts(run_id, "images")]
        for tag in ("val~predictions", "val~confusion_matrix", "model~feature_maps"):
            assert any(path.startswith(f"images/{tag}+step+") for path in images), tag

    test = run("test", tiny_mnist, tmp_path, "--ckpt_path", "best", *mlflow_logger)
    assert Path(test.trainer.ckpt_path).parent == folders[1] / "checkpoints"  # the newest run
    tested = client.get_run(test.trainer.logger.run_id)
    assert 0.0 <= tested.data.metrics["test/acc"] <= 1.0
    assert tested.data.params["stage"] == "test"

    predicted = run("predict", tiny_mnist, tmp_path, "--ckpt_path", "best", *mlflow_logger)
    written = Path(predicted.trainer.log_dir) / "predictions.csv"
    assert written.is_file() and written.parent not in [*folders, tmp_path]


def test_a_logger_that_cannot_start_is_one_line(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("mlflow")
    # MLflow 3 refuses its old file store, the default of Lightning's MLFlowLogger
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    args = cli_args(
        tiny_mnist, tmp_path,
        "--trainer.logger", "MLFlowLogger",
        "--trainer.logger.save_dir", str(tmp_path / "mlruns"),
    )  # fmt: skip
    err = expect_error(capsys, ["fit", *args])
    assert "the logger MLFlowLogger cannot start" in err and "sqlite:///" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "lightning_logs").exists()  # no empty run folder left behind


def test_a_bad_tracking_uri_is_one_line_without_the_file_store_hint(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("mlflow")
    args = cli_args(
        tiny_mnist, tmp_path,
        "--trainer.logger", "MLFlowLogger",
        "--trainer.logger.tracking_uri", "bogus://nowhere",
    )  # fmt: skip
    err = expect_error(capsys, ["fit", *args])
    assert "the logger MLFlowLogger cannot start" in err and "bogus" in err
    assert "sqlite:///" not in err  # the hint is for MLflow's refusal of its file store only
    assert len(err.strip().splitlines()) == 1


def test_a_tracking_server_that_is_down_is_one_line_at_once(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("mlflow")
    with socket.socket() as probe:  # a port where nothing listens once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = cli_args(
        tiny_mnist, tmp_path,
        "--trainer.logger", "MLFlowLogger",
        "--trainer.logger.tracking_uri", f"http://127.0.0.1:{port}",
    )  # fmt: skip
    start = time.monotonic()
    err = expect_error(capsys, ["fit", *args])
    assert time.monotonic() - start < 30  # MLflow's own retries took 4 minutes
    assert f"the logger MLFlowLogger cannot start: no server answers at 127.0.0.1:{port}" in err
    assert len(err.strip().splitlines()) == 1
