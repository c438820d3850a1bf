"""The data-scale experiment: its dry run end to end, resuming, settings, tables and answers."""

import csv
import json
import math
from pathlib import Path

import pytest
from PIL import Image

from mnist_lit.experiments.data_scale import main, split_fit_options
from mnist_lit.experiments.results import (
    RESULT_COLUMNS,
    SUMMARY_COLUMNS,
    points,
    summary_markdown,
    summary_rows,
    time_fit,
)
from tests.helpers import CONFIG, events, hparams_of


def sweep(out: Path, *args: str) -> Path:
    """A dry run (made-up data, one batch per epoch) of the sweep into ``out/dry_run``."""
    return main(["--dry-run", "--base", f"[{CONFIG}]", "--out", str(out), *args])


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open() as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_dry_run_writes_every_output_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = sweep(tmp_path, "--sizes", "[5000,60000]", "--epochs", "2", "--seeds", "[1,2]")
    assert out == tmp_path / "dry_run"
    printed = capsys.readouterr().out
    assert "[1/4] size 50, seed 1: fit, 2 epochs" in printed  # sizes / 100 in a dry run
    assert "[4/4] size 600, seed 2, epoch 2/2: test acc" in printed

    columns, rows = read(out / "results.csv")
    assert columns == list(RESULT_COLUMNS)
    assert sorted((int(r["size"]), int(r["seed"]), int(r["epoch"])) for r in rows) == [
        (size, seed, epoch) for size in (50, 600) for seed in (1, 2) for epoch in (1, 2)
    ]
    for row in rows:
        assert int(row["train_images"]) == 32  # one batch per epoch
        assert 0 <= float(row["test_acc"]) <= 1 and float(row["train_seconds"]) > 0
        assert row["device"].startswith(("CPU", "CUDA")) and row["precision"] == "32-true"
    first, second = (r for r in rows if r["run"] == "size00050_seed1")
    assert float(second["train_seconds_total"]) == pytest.approx(
        float(first["train_seconds"]) + float(second["train_seconds"]), rel=1e-4
    )

    columns, summary = read(out / "summary.csv")
    assert columns == list(SUMMARY_COLUMNS)
    assert [int(r["size"]) for r in summary] == [50, 600]
    assert all(r["seeds"] == "2" and r["test_acc_std"] != "" for r in summary)

    for name, size in (("data_scale.png", (1320, 960)), ("learning_curves.png", (1320, 504))):
        assert Image.open(out / name).size == size
    markdown = (out / "summary.md").read_text()
    assert (
        "| 600 | " in markdown
        and "## Answers" in markdown
        and "Where accuracy saturates" in markdown
    )

    run = out / "runs" / "size00600_seed2"
    board = events(run)
    assert len(board.Scalars("test/acc")) == 2  # after every epoch
    params, metric_tags = hparams_of(board)
    assert params["data.train_size"] == 600 and params["seed"] == "2"
    assert {"test/acc", "train/seconds"} <= set(metric_tags)
    assert (run / "checkpoints" / "last.ckpt").is_file()

    # Interrupted: one run left no result; run again with one more size.
    (out / "runs" / "size00050_seed2" / "result.json").unlink()
    sweep(tmp_path, "--sizes", "[5000,30000,60000]", "--epochs", "2", "--seeds", "[1,2]")
    printed = capsys.readouterr().out
    assert "size 50, seed 1: finished before, skipped" in printed
    assert "size 50, seed 2: cut off before; starting it again" in printed
    assert "size 300, seed 1: fit, 2 epochs" in printed
    assert printed.count("finished before, skipped") == 3
    _, rows = read(out / "results.csv")
    assert len(rows) == 3 * 2 * 2
    assert len(events(out / "runs" / "size00050_seed2").Scalars("test/acc")) == 2  # not 4

    # Other settings in the same folder would mix incomparable runs; what is shown may change.
    with pytest.raises(SystemExit) as stop:
        sweep(tmp_path, "--sizes", "[5000]", "--epochs", "3")
    assert stop.value.code == 2
    assert "holds a sweep with other settings (epochs: 2 -> 3)" in capsys.readouterr().err
    sweep(
        tmp_path,
        "--sizes",
        "[5000]",
        "--epochs",
        "2",
        "--seeds",
        "[1]",
        "--trainer.enable_progress_bar",
        "false",
    )
    assert "size 50, seed 1: finished before, skipped" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--data.train_size", "100"],
            "--data.train_size is set by the sweep for each run; use --sizes",
        ),
        (["--trainer.max_epochs=5"], "use --epochs"),
        (["--sizes", "[0]"], "sizes must be between 1 and 60,000 training images, got [0]"),
        (["--sizes", "[5000,70000]"], "sizes must be between 1 and 60,000"),
        (["--trainer.devices", "2"], "--trainer.devices is set by the sweep"),
        (["--fit", "[--data.mirror,m,oops]"], "oops in fit is not a fit option"),
        (["--epochs", "0"], "epochs must be positive"),
        (["--base", "[nowhere.yaml]"], "base config nowhere.yaml: no such file and no packaged"),
        (["--base", "[configs/nowhere.yaml]"], "base config configs/nowhere.yaml not found"),
        (["--bogus", "1"], "--bogus"),
    ],
)
def test_mistakes_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--dry-run", "--base", f"[{CONFIG}]", "--out", str(tmp_path), *args])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "dry_run" / "runs").exists()


def test_a_wrong_fit_option_stops_the_sweep_and_can_be_corrected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        sweep(tmp_path, "--sizes", "[5000]", "--epochs", "1", "--model.lr", "-1")
    assert stop.value.code == 2
    assert "lr must be positive" in capsys.readouterr().err
    assert not list((tmp_path / "dry_run").glob("runs/*/result.json"))
    # Nothing finished with the wrong option: the corrected command is not refused.
    sweep(tmp_path, "--sizes", "[5000]", "--epochs", "1", "--model.lr", "0.002")
    assert (tmp_path / "dry_run" / "runs" / "size00050_seed42" / "result.json").is_file()


def test_fit_options_are_passed_on() -> None:
    own, fit = split_fit_options(
        [
            "--data.mirror",
            "m",
            "--sizes",
            "[1]",
            "--trainer.precision=bf16-mixed",
            "--dry-run",
            "--model",
            "net.yaml",
        ]
    )
    assert own == ["--sizes", "[1]", "--dry-run"]
    assert fit == ["--data.mirror=m", "--trainer.precision=bf16-mixed", "--model=net.yaml"]


def rows_for(accuracy: dict[tuple[int, int], list[float]]) -> list[dict[str, object]]:
    """results.csv rows: 1 s per 1,000 images per epoch; loss falls with size and epoch."""
    rows: list[dict[str, object]] = []
    for (size, epoch), values in accuracy.items():
        for seed, acc in enumerate(values):
            rows.append(
                {
                    "size": size,
                    "seed": seed,
                    "epoch": epoch,
                    "train_images": size,
                    "train_seconds": size / 1000,
                    "train_seconds_total": epoch * size / 1000,
                    "images_per_second": 1000.0,
                    "train_loss": 1 / (size * epoch),
                    "test_acc": acc,
                    "test_loss": 1 - acc,
                    "device": "CPU test",
                    "precision": "32-true",
                }
            )
    return rows


ACCURACY = {
    (5_000, 1): [0.970, 0.972],
    (5_000, 2): [0.980, 0.982],
    (20_000, 1): [0.985, 0.987],
    (20_000, 2): [0.990, 0.992],
    (60_000, 1): [0.990, 0.992],
    (60_000, 2): [0.992, 0.994],
}


def test_points_and_summary_average_over_seeds() -> None:
    rows = rows_for(ACCURACY)
    point = next(p for p in points(rows) if (p.size, p.epoch) == (20_000, 2))
    assert point.test_acc == pytest.approx(0.991)
    assert point.test_acc_std == pytest.approx(math.sqrt(2) * 0.001)
    assert point.seconds == pytest.approx(40.0)
    table = {r["size"]: r for r in summary_rows(rows)}
    assert table[5_000]["first_epoch_99"] is None
    assert table[20_000]["first_epoch_99"] == 2 and table[60_000]["first_epoch_99"] == 1
    assert table[60_000]["seconds_per_epoch"] == pytest.approx(60.0)
    assert table[5_000]["best_test_acc"] == pytest.approx(0.981)
    one_seed = summary_rows([r for r in rows if r["seed"] == 0])
    assert all(math.isnan(r["test_acc_std"]) for r in one_seed)


def test_time_fit_finds_the_line() -> None:
    fit = time_fit(rows_for(ACCURACY))
    assert fit is not None
    assert fit.per_10k == pytest.approx(10.0) and fit.intercept == pytest.approx(0.0, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert time_fit(rows_for({(5_000, 1): [0.9]})) is None


def test_summary_answers_the_reports_questions() -> None:
    settings = {"command": "python -m mnist_lit.experiments.data_scale", "base": ["d.yaml"]}
    markdown = summary_markdown(rows_for(ACCURACY), settings, wall_seconds=150.0)
    assert "| 20,000 | 98.60 ± 0.14 | 99.10 ± 0.14 | 40.0 |" in markdown
    assert "linear; each 10,000 images add 10.0 s per epoch" in markdown
    # best after 2 epochs: 60,000 at 99.30%; 20,000 (99.10%) is within 0.2 points
    assert "20,000 images are within 0.2 percentage points of the best size (60,000: 99.30%)" in (
        markdown
    )
    assert "**Smallest size and epochs reaching 99%**: 20,000 images after 2 epochs" in markdown
    assert "fewest epochs: 1 (60,000 images, 99.10%)" in markdown
    assert "least training time: 20,000 images × 2 epochs, 40.0 s (99.10%)" in markdown
    assert "training loss falls steadily with size" in markdown
    assert "2 min 30 s" in markdown
    low = {key: [v - 0.05 for v in values] for key, values in ACCURACY.items()}
    assert "none reached 99% (best 94.30%)" in summary_markdown(rows_for(low), settings, 150.0)


def test_sweep_json_keeps_the_settings_that_change_results(tmp_path: Path) -> None:
    out = sweep(
        tmp_path,
        "--sizes",
        "[5000]",
        "--epochs",
        "1",
        "--data.num_workers",
        "0",
        "--model.lr",
        "0.002",
    )
    settings = json.loads((out / "sweep.json").read_text())
    assert settings["epochs"] == 1 and settings["dry_run"] is True
    assert len(settings["base"]) == 1  # the default config, by content
    assert settings["fit"] == ["--model.lr=0.002"]  # where data comes from may change
