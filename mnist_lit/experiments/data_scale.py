r"""Training-set size × epochs: how test accuracy, loss and training time grow with the data.

    python -m mnist_lit.experiments.data_scale --config configs/experiments/data_scale.yaml \\
        --data.mirror ../shared/data/mnist
    python -m mnist_lit.experiments.data_scale --dry_run   # made-up data, one batch per epoch

The reference report's central study: train the CNN on 5,000 … 60,000 images for a few epochs and
ask where accuracy stops rising, how time grows, and what it takes to reach 99%. Each run is
``python -m mnist_lit fit`` (the same LightningCLI and Trainer) with the base configs, the ``fit``
options, and then the sweep's own settings: ``data.train_size`` drawn balanced from all 60,000
training images (``data.val_size`` 0, so that 60,000 is possible: the test set is the yardstick, as
in the reference), ``trainer.max_epochs``, the seed (``seed_everything`` and ``data.seed``) and a
TensorBoard logger in ``OUT/runs/``. ``EpochRecorder`` times every epoch and scores the test set
after it.

Written to ``OUT``: ``results.csv`` (size × seed × epoch), ``summary.csv`` (per size),
``data_scale.png`` (four panels), ``learning_curves.png``, ``summary.md`` (the answers), ``runs/``
(one TensorBoard run per size and seed: ``tensorboard --logdir OUT/runs``; HPARAMS compares them)
and ``sweep.json`` (the settings). Running the same command again skips finished runs, so an
interrupted sweep resumes; a run cut off half-way is started again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shlex
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentParser

from mnist_lit.cli import main as cli_main
from mnist_lit.commands import INTERRUPTED, command_name, parse_or_fail, user_errors
from mnist_lit.constants import TRAIN_IMAGES
from mnist_lit.data.mnist import expected_checksums
from mnist_lit.data.synthetic import write_mnist_files
from mnist_lit.errors import ConfigError
from mnist_lit.experiments.plots import plot_data_scale, plot_learning_curves
from mnist_lit.experiments.recorder import EpochRecorder
from mnist_lit.experiments.results import (
    RESULT_COLUMNS,
    SUMMARY_COLUMNS,
    points,
    summary_markdown,
    summary_rows,
    write_csv,
)
from mnist_lit.files import save_figure, write_text
from mnist_lit.presets import resolve_config, resolve_config_arguments

PROG = "python -m mnist_lit.experiments.data_scale"
REFERENCE_SIZES = (5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000)
"""The training-set sizes of the reference report."""

FIT_PREFIXES = (
    "--data.",
    "--model.",
    "--trainer.",
    "--checkpoint.",
    "--last_checkpoint.",
    "--dashboards.",
)
"""Options on this command line that belong to ``fit`` and are passed on to every run."""

FIT_GROUPS = ("--data", "--model", "--trainer")
"""Fit options that take a whole group's config, e.g. ``--data my_data.yaml``."""

SWEEP_OWNED = {
    "--data.train_size": "--sizes",
    "--data.val_size": "(always 0: every size is drawn from all 60,000 images)",
    "--data.seed": "--seeds",
    "--data.custom_dir": "(the sweep scores the MNIST test set)",
    "--seed_everything": "--seeds",
    "--trainer.max_epochs": "--epochs",
    "--trainer.logger": "--out (runs are logged to OUT/runs/)",
    "--trainer.devices": "(always 1: the runs are small, and timings must compare)",
}
"""Fit options the sweep sets for each run, and what sets them instead."""

COSMETIC_OPTIONS = (
    "--data.mirror",
    "--data.data_dir",
    "--data.download",
    "--data.num_workers",
    "--trainer.enable_progress_bar",
    "--trainer.enable_model_summary",
    "--dashboards.",
)
"""Fit options that change where data comes from or what is shown, not the results: free to
differ when a sweep is resumed."""

DRY_RUN_TRAIN, DRY_RUN_TEST = 600, 200
"""Made-up training and test images of ``--dry_run``."""


class DataScale:
    """A sweep of ``fit`` runs over training-set sizes and seeds, each scored after every epoch.

    Args:
        sizes: Training-set sizes, each drawn balanced across digits from the 60,000 images.
        epochs: Epochs of every run; the test set is scored after each.
        seeds: Seeds; each size is run once per seed (``seed_everything`` and ``data.seed``), and
            tables and figures show the mean ± standard deviation over seeds.
        base: Training configs every run starts from, stacked in order (e.g. the default config
            and a preset), as ``fit --config A --config B``: files, or names of packaged
            configs (``mnist-lit presets``).
        fit: Further ``fit`` options for every run, as on its command line, e.g.
            ``["--trainer.precision=bf16-mixed"]``. Options such as ``--data.mirror DIR`` or
            ``--trainer.accelerator gpu`` given to this command are added to them.
        out: Output folder (created); running again with the same folder resumes.
        dry_run: Check the whole pipeline in seconds: made-up digits (600 training, 200 test)
            instead of MNIST, sizes divided by 100, one batch per epoch; written to
            ``OUT/dry_run/``.

    """

    def __init__(
        self,
        sizes: tuple[int, ...] = REFERENCE_SIZES,
        epochs: int = 3,
        seeds: tuple[int, ...] = (42,),
        base: tuple[str, ...] = ("default",),
        fit: tuple[str, ...] = (),
        out: str = "results/data_scale",
        dry_run: bool = False,
    ) -> None:
        if not sizes or not all(0 < size <= TRAIN_IMAGES for size in sizes):
            raise ConfigError(
                f"sizes must be between 1 and {TRAIN_IMAGES:,} training images, got {list(sizes)}"
            )
        if epochs <= 0:
            raise ConfigError(f"epochs must be positive, got {epochs}")
        if not seeds:
            raise ConfigError("seeds must name at least one seed")
        base = tuple(resolve_config(path, option="base config") for path in base)
        for path in base:
            if not Path(path).is_file():
                raise ConfigError(f"base config {path} not found")
        own, fit_options = split_fit_options(fit)
        if own:
            raise ConfigError(f"{own[0]} in fit is not a fit option (--data.*, --trainer.*, ...)")
        for option in fit_options:
            name = option.split("=", 1)[0]
            if name in SWEEP_OWNED:
                raise ConfigError(
                    f"{name} is set by the sweep for each run; use {SWEEP_OWNED[name]}"
                )
        if dry_run:  # a hundredth of each size, from the 600 made-up images
            sizes = tuple(max(size * DRY_RUN_TRAIN // TRAIN_IMAGES, 10) for size in sizes)
        self.sizes = sorted(set(sizes))
        self.epochs = epochs
        self.seeds = list(dict.fromkeys(seeds))
        self.base = list(base)
        self.fit = fit_options
        self.out = Path(out) / "dry_run" if dry_run else Path(out)
        self.dry_run = dry_run

    def run(self, command: str = PROG) -> Path:
        """Run every size × seed not finished yet, then write the tables, figures and summary.

        Args:
            command: The command line, recorded in ``summary.md``.

        Returns:
            The output folder.

        """
        self.out.mkdir(parents=True, exist_ok=True)
        self._check_settings()
        with self._data():
            plan = [(size, seed) for seed in self.seeds for size in self.sizes]
            for number, (size, seed) in enumerate(plan, 1):
                if self._run_one(size, seed, f"[{number}/{len(plan)}]"):
                    self._write_outputs(command)  # after each run: a look at the results so far
        self._write_outputs(command, report=True)
        return self.out

    def settings(self) -> dict[str, Any]:
        """Return what makes results comparable: a resumed sweep must match them.

        The base configs count by their content (not path or comments), the fit options
        regardless of order, leaving out ``COSMETIC_OPTIONS``.
        """
        return {
            "epochs": self.epochs,
            "base": [_config_digest(Path(b)) for b in self.base],
            "fit": sorted(
                f for f in self.fit if not f.split("=", 1)[0].startswith(COSMETIC_OPTIONS)
            ),
            "dry_run": self.dry_run,
        }

    def _check_settings(self) -> None:
        """Refuse to add runs to a folder whose finished runs were made with other settings."""
        path = self.out / "sweep.json"
        settings = self.settings()
        if path.is_file() and any(self.out.glob("runs/*/result.json")):
            before = json.loads(path.read_text())
            changed = [key for key in settings if before.get(key) != settings[key]]
            if changed:
                diff = "; ".join(f"{k}: {before.get(k)} -> {settings[k]}" for k in changed)
                raise ConfigError(
                    f"{self.out} holds a sweep with other settings ({diff}); its runs cannot be "
                    "mixed with these: choose another --out or delete that folder"
                )
        else:  # nothing finished yet: a mistake in the last attempt's options may be corrected
            write_text(path, json.dumps(settings, indent=2) + "\n")

    def _run_dir(self, size: int, seed: int) -> Path:
        return self.out / "runs" / f"size{size:05d}_seed{seed}"

    def _run_one(self, size: int, seed: int, number: str) -> bool:
        """Run one size and seed unless it finished before; return whether it ran."""
        label = f"size {size:,}, seed {seed}"
        run_dir = self._run_dir(size, seed)
        if self._finished(run_dir):
            print(f"{number} {label}: finished before, skipped", flush=True)
            return False
        if run_dir.exists():
            print(f"{number} {label}: cut off before; starting it again", flush=True)
            shutil.rmtree(run_dir)
        print(f"{number} {label}: fit, {self.epochs} epochs", flush=True)
        recorder = EpochRecorder(label=f"{number} {label}")
        # One batch per epoch for a dry run; given as a default because the command line would
        # turn 1 into 1.0, which Lightning reads as all batches.
        defaults: dict[str, Any] = {"callbacks": [recorder]}
        if self.dry_run:
            defaults["limit_train_batches"] = 1
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # sys.argv holds this command's options, not fit's, which go in as args
                warnings.filterwarnings("ignore", ".*LightningCLI's args parameter is intended.*")
                cli = cli_main(self._fit_args(size, seed), trainer_defaults=defaults)
        except SystemExit as stop:
            if stop.code == 2:
                raise  # a configuration error, already printed by fit
            raise KeyboardInterrupt from None  # Lightning turns Ctrl-C into exit status 1
        wall = time.perf_counter() - start
        if len(recorder.records) != self.epochs or cli.trainer.interrupted:
            raise ConfigError(
                f"{label} stopped after {len(recorder.records)} of {self.epochs} epochs "
                "(early stopping or max_steps in the config?); the sweep needs every epoch"
            )
        result = {
            "size": size,
            "seed": seed,
            "wall_seconds": wall,
            "records": [r.as_row() for r in recorder.records],
        }
        write_text(run_dir / "result.json", json.dumps(result, indent=2) + "\n")
        print(f"{number} {label}: done in {wall:.1f} s", flush=True)
        return True

    def _finished(self, run_dir: Path) -> bool:
        """Whether ``run_dir`` holds a finished run with every epoch of this sweep."""
        path = run_dir / "result.json"
        return path.is_file() and len(json.loads(path.read_text())["records"]) == self.epochs

    def _fit_args(self, size: int, seed: int) -> list[str]:
        run_dir = self._run_dir(size, seed)
        logger = {
            "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
            "init_args": {
                "save_dir": str(run_dir.parent.parent),
                "name": run_dir.parent.name,
                "version": run_dir.name,
            },
        }
        args = ["fit"]
        for path in self.base:
            args += ["--config", path]
        args += self.fit
        args += [
            f"--data.train_size={size}",
            "--data.val_size=0",
            f"--data.seed={seed}",
            f"--seed_everything={seed}",
            f"--trainer.max_epochs={self.epochs}",
            f"--trainer.logger={json.dumps(logger)}",
            "--trainer.devices=1",
        ]
        if self.dry_run:
            data = self.out / "data"
            args += [
                f"--data.mirror={data / 'mirror'}",
                f"--data.data_dir={data}",
                "--data.download=false",
            ]
        return args

    def _data(self) -> contextlib.AbstractContextManager[None]:
        """For a dry run, write made-up MNIST files and let the checksum check accept them."""
        if not self.dry_run:
            return contextlib.nullcontext()
        checksums = write_mnist_files(self.out / "data" / "mirror", DRY_RUN_TRAIN, DRY_RUN_TEST)
        return expected_checksums(checksums)

    def _results(self) -> tuple[list[dict[str, Any]], float]:
        """Rows of ``results.csv`` from every finished run, and the runs' summed wall time."""
        rows: list[dict[str, Any]] = []
        wall = 0.0
        for size in self.sizes:
            for seed in self.seeds:
                path = self._run_dir(size, seed) / "result.json"
                if not self._finished(path.parent):
                    continue
                result = json.loads(path.read_text())
                wall += result["wall_seconds"]
                total = 0.0
                for record in result["records"]:
                    total += record["train_seconds"]
                    rows.append(
                        {
                            **record,
                            "size": size,
                            "seed": seed,
                            "train_seconds_total": total,
                            "images_per_second": record["train_images"] / record["train_seconds"],
                            "run": self._run_dir(size, seed).name,
                        }
                    )
        return rows, wall

    def _write_outputs(self, command: str, report: bool = False) -> None:
        """Write the tables, figures and summary of the finished runs; print the answers."""
        rows, wall = self._results()
        if not rows:
            return
        write_csv(self.out / "results.csv", rows, RESULT_COLUMNS)
        write_csv(self.out / "summary.csv", summary_rows(rows), SUMMARY_COLUMNS)
        scale = points(rows)
        for name, figure in (
            ("data_scale.png", plot_data_scale(scale)),
            ("learning_curves.png", plot_learning_curves(scale)),
        ):
            save_figure(figure, self.out / name, dpi=120)
        settings = {"command": command, "base": self.base, "fit": self.fit}
        markdown = summary_markdown(rows, settings, wall)
        write_text(self.out / "summary.md", markdown)
        if not report:
            return
        answers = markdown.split("## Answers", 1)[-1].strip()
        print(
            f"\n{answers}\n\nWritten to {self.out}/: results.csv, summary.csv, "
            "data_scale.png, learning_curves.png, summary.md; "
            f"TensorBoard: tensorboard --logdir {self.out / 'runs'}",
            flush=True,
        )


def _config_digest(path: Path) -> str:
    """SHA-256 of a YAML config's content, independent of comments and layout."""
    content = json.dumps(yaml.safe_load(path.read_text()), sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()


def split_fit_options(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate ``fit`` options (``--data.*``, ``--trainer.*`` …) from the sweep's own.

    Returns:
        The sweep's arguments and the fit options, each fit option as one ``--key=value`` token.

    """
    own: list[str] = []
    fit: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        name = token.split("=", 1)[0]
        if token.startswith(FIT_PREFIXES) or name in ("--seed_everything", *FIT_GROUPS):
            if "=" not in token and index + 1 < len(args) and not args[index + 1].startswith("--"):
                token = f"{token}={args[index + 1]}"
                index += 1
            fit.append(token)
        else:
            own.append(token)
        index += 1
    return own, fit


def build_parser() -> ArgumentParser:
    """Build the command line: ``DataScale``'s arguments, ``--config`` and ``--help``."""
    parser = ArgumentParser(
        prog=command_name("data-scale", "mnist_lit.experiments.data_scale"),
        description="Train the CNN on several training-set sizes for a few epochs, scoring the "
        "test set after every epoch; write tables, figures and a summary. Any fit option "
        "(--data.*, --model.*, --trainer.*, --dashboards.*, ...) is passed on to every run, "
        "e.g. --data.mirror ../shared/data/mnist.",
        exit_on_error=False,
    )
    parser.add_argument("--config", action="config", help="A YAML file of these options.")
    parser.add_class_arguments(DataScale, as_positional=False, skip={"dry_run"})
    parser.add_argument(
        "--dry-run",
        "--dry_run",
        dest="dry_run",
        action="store_true",
        help="Check the whole pipeline in seconds: made-up digits (600 training, 200 test) "
        "instead of MNIST, sizes divided by 100, one batch per epoch; written to OUT/dry_run/.",
    )
    return parser


def main(args: Sequence[str] | None = None) -> Path:
    """Parse the command line and run the sweep; a user's mistake is a one-line error (exit 2)."""
    argv = list(sys.argv[1:] if args is None else args)
    own, fit = split_fit_options(argv)
    parser = build_parser()
    with user_errors(PROG):  # --config data_scale: the packaged experiment config
        own = resolve_config_arguments(own)
    config = parse_or_fail(parser, own, PROG)
    config.fit = [*config.fit, *fit]
    options = config.as_dict()
    options.pop("config", None)
    options.pop("__path__", None)
    try:
        with user_errors(PROG):
            sweep = DataScale(**options)
            return sweep.run(" ".join([PROG, *map(shlex.quote, argv)]))
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None


def entry_point() -> None:
    """Console script ``mnist-lit-data-scale`` (also ``mnist-lit data-scale``)."""
    main()


if __name__ == "__main__":
    main()
