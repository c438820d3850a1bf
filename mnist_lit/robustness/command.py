"""``python -m mnist_lit.robustness``: score checkpoints on clean, corrupted and users' kinds of digits.

    python -m mnist_lit.robustness --ckpt_path best --data.mirror ../shared/data/mnist
    python -m mnist_lit.robustness --ckpt_path '[default.ckpt, best.ckpt]' --names '[default, best]'
    python -m mnist_lit.robustness --ckpt_path best --corruptions '[rotate:5, fog]' --own_images 0

Writes into ``--out`` (default ``results/robustness/``) ``robustness.csv`` (one row per set, one
accuracy column per model), ``robustness.md`` (the same table with the family means) and
``robustness.png`` (accuracy per set, models side by side), and prints the table. The sets:
the MNIST test set clean; MNIST-C's fifteen corruptions and five writer-style shifts of it
(``corruptions.py``); and digits dressed as photos, canvas exports and print (``own_images.py``).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from jsonargparse import ArgumentParser

from mnist_lit.commands import (
    command_name,
    instantiate,
    parse_or_fail,
    show_log_messages,
    user_errors,
)
from mnist_lit.data.datamodule import MNISTDataModule, TensorImages
from mnist_lit.errors import ConfigError
from mnist_lit.evaluation import choose_device
from mnist_lit.files import save_figure, write_text
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.robustness.corruptions import CORRUPTIONS, parse_spec
from mnist_lit.robustness.plots import plot_robustness
from mnist_lit.robustness.suite import FAMILIES, Row, run_suite, suite_sets, summary_rows
from mnist_lit.training.checkpoints import (
    load_checkpoint,
    model_from_checkpoint,
    resolve_checkpoint,
)

log = logging.getLogger("mnist_lit")

PROG = "mnist_lit.robustness"
"""The start of its error messages."""


def model_names(paths: Sequence[Path], names: Sequence[str] | None) -> list[str]:
    """Names for the tables: ``names`` if given, else ``<run folder>/<file stem>`` of each path."""
    if names is not None:
        if len(names) != len(paths):
            raise ConfigError(f"--names has {len(names)} names for {len(paths)} checkpoints")
        chosen = list(names)
    else:
        chosen = [
            f"{p.parent.parent.name}/{p.stem}" if p.parent.name == "checkpoints" else p.stem
            for p in paths
        ]
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"two checkpoints have the same name ({', '.join(chosen)}); set --names")
    return chosen


def table_rows(rows: Sequence[Row]) -> list[Row]:
    """Return the sets in order, each family's mean after its last set."""
    means = {row.family: row for row in summary_rows(rows)}
    out: list[Row] = []
    for index, row in enumerate(rows):
        out.append(row)
        last_of_family = index + 1 == len(rows) or rows[index + 1].family != row.family
        if last_of_family and row.family in means:
            out.append(means[row.family])
    return out


def set_label(row: Row) -> str:
    """``rotate:2`` for a corruption with severities, else the set's name."""
    levels = CORRUPTIONS[row.name].severities if row.name in CORRUPTIONS else 1
    return f"{row.name}:{row.severity}" if row.severity is not None and levels > 1 else row.name


def markdown_table(rows: Sequence[Row], models: Sequence[str]) -> str:
    """Accuracy (%) per set and model, family means in bold, as a Markdown table."""
    lines = [
        "| set | family | images | " + " | ".join(models) + " |",
        "|---|---|---:|" + "---:|" * len(models),
    ]
    for row in rows:
        mean = row.images == 0
        cells = [f"{100 * row.accuracy[m]:.2f}" for m in models]
        name = set_label(row)
        if mean:
            name, cells = f"**{name}**", [f"**{c}**" for c in cells]
        images = "" if mean else f"{row.images:,}"
        lines.append(f"| {name} | {row.family} | {images} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def calibration_table(rows: Sequence[Row], models: Sequence[str]) -> str:
    """Return the expected calibration error (%) per set and model, unscaled and calibrated (Markdown)."""
    lines = [
        "| set | " + " | ".join(f"{m}: unscaled → calibrated" for m in models) + " |",
        "|---|" + "---:|" * len(models),
    ]
    for row in rows:
        cells = [f"{100 * row.ece_unscaled[m]:.2f} → {100 * row.ece[m]:.2f}" for m in models]
        name = set_label(row) if row.images else f"**{row.name}**"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_text(rows: Sequence[Row], models: Sequence[str]) -> str:
    """One line per set (family means included, with ``images`` 0).

    Per model: its accuracy (0-1), and its expected calibration error after and before
    temperature scaling (``<model> ece``, ``<model> ece_unscaled``).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    eces = [f"{m} {kind}" for m in models for kind in ("ece", "ece_unscaled")]
    writer.writerow(["set", "family", "severity", "images", *models, *eces])
    for row in rows:
        severity = "" if row.severity is None else row.severity
        accuracy = [f"{row.accuracy[m]:.6f}" for m in models]
        errors = [f"{e[m]:.6f}" for m in models for e in (row.ece, row.ece_unscaled)]
        writer.writerow([set_label(row), row.family, severity, row.images, *accuracy, *errors])
    return buffer.getvalue()


def run_robustness(
    ckpt_paths: Sequence[str],
    datamodule: MNISTDataModule,
    out: str | Path = "results/robustness",
    names: Sequence[str] | None = None,
    corruptions: Sequence[str] | None = None,
    own_images: int = 500,
    seed: int = 0,
    logs: str | Path = "lightning_logs",
    device: str = "auto",
) -> Path:
    """Score each checkpoint on every set and write the table and figure; return the table's path.

    Args:
        ckpt_paths: ``best``, ``last`` (newest run under ``logs``) or ``.ckpt`` files.
        datamodule: Where the MNIST test digits come from (``data_dir``, ``mirror``).
        out: Output folder.
        names: Each model's name in the tables; default ``<run folder>/<checkpoint>``.
        corruptions: ``name`` or ``name:severity`` of each corruption; default all, each at its
            default severity (MNIST-C's for its own).
        own_images: Test digits dressed as photos and canvas exports per set (0: none).
        seed: Seeds every random choice: the same seed gives the same images.
        logs: Folder holding the run folders, to find ``best`` and ``last``.
        device: ``auto`` (a CUDA GPU if there is one), ``cpu`` or ``cuda``.

    """
    if not ckpt_paths:
        raise ConfigError("give at least one checkpoint with --ckpt_path")
    if own_images < 0:
        raise ConfigError(f"own_images must be 0 or more, got {own_images}")
    specs = list(CORRUPTIONS) if corruptions is None else list(corruptions)
    for spec in specs:
        parse_spec(spec)  # a wrong name or severity fails before anything is loaded
    paths = [resolve_checkpoint(spec, logs) for spec in ckpt_paths]
    labels = model_names(paths, names)
    models: dict[str, MNISTClassifier] = {}
    for label, path in zip(labels, paths, strict=True):
        models[label] = model_from_checkpoint(load_checkpoint(path), path)
        log.info(f"{label}: {path}")
    torch_device = choose_device(device)
    sets = suite_sets(*_test_digits(datamodule), specs, own_images, seed)  # checks the specs
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log.info(f"{'set':<18}{'images':>8}  " + "  ".join(f"{m[-14:]:>14}" for m in labels))

    def progress(row: Row, seconds: float) -> None:
        cells = "  ".join(f"{100 * row.accuracy[m]:13.2f}%" for m in labels)
        log.info(f"{set_label(row):<18}{row.images:>8,}  {cells}   ({seconds:.1f} s)")

    rows = table_rows(run_suite(models, sets, torch_device, progress))
    where = f"{torch.get_num_threads()} CPU threads" if torch_device.type == "cpu" else "CUDA"
    title = f"Robustness: accuracy per set (corruptions seeded {seed}; {where})"
    figure = plot_robustness(
        [set_label(r) if r.images else r.name for r in rows],
        {m: [r.accuracy[m] for r in rows] for m in labels},
        title,
    )
    save_figure(figure, out / "robustness.png", dpi=110)
    write_text(out / "robustness.csv", csv_text(rows, labels))
    table = markdown_table(rows, labels)
    legend = "\n".join(f"- {m}: `{p}`" for m, p in zip(labels, paths, strict=True))
    families = ", ".join(f"{k} ({v})" for k, v in FAMILIES.items())
    page = out / "robustness.md"
    write_text(
        page,
        f"# Robustness\n\nAccuracy (%) on each set (corruptions and drawings seeded {seed}). Families: {families}.\n\n"
        f"{legend}\n\n{table}\n![accuracy per set](robustness.png)\n\n"
        "## Calibration\n\nExpected calibration error (%, 15 bins) of each model's probabilities "
        "before and after temperature scaling (the same for a checkpoint without calibration).\n\n"
        f"{calibration_table(rows, labels)}",
    )
    print(table, flush=True)
    log.info(f"Wrote {page}, robustness.csv and robustness.png in {out}")
    return page


def _test_digits(datamodule: MNISTDataModule) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the MNIST test digits ``(N, 28, 28)`` uint8 and labels, fetched and checked as ``fit``."""
    datamodule.prepare_data()
    datamodule.setup("test")
    test_set = datamodule.test_set
    if not isinstance(test_set, TensorImages):
        raise ConfigError("the robustness suite runs on the MNIST test set, not a folder")
    return test_set.images, test_set.labels


def build_parser() -> ArgumentParser:
    """Build the command line: checkpoints, sets, output and MNIST's data options."""
    parser = ArgumentParser(
        prog=command_name("robustness", "mnist_lit.robustness"),
        description="Score checkpoints on the MNIST test set clean, under MNIST-C's corruptions "
        "and writer-style shifts, and on digits dressed as photos, canvas exports and print; "
        "write robustness.csv, robustness.md and robustness.png.",
        exit_on_error=False,
    )
    parser.add_argument(
        "--ckpt_path",
        type=list[str] | str,
        required=True,
        help="One checkpoint or a list: 'best', 'last' (the newest run under --logs) or .ckpt "
        "paths, e.g. '[a.ckpt, b.ckpt]'.",
    )
    parser.add_argument(
        "--names",
        type=list[str] | None,
        default=None,
        help="A name for each checkpoint in the tables; default: <run folder>/<checkpoint>.",
    )
    parser.add_argument(
        "--logs",
        type=str,
        default="lightning_logs",
        help="Folder holding the run folders (version_N/), where best and last are looked for.",
    )
    parser.add_argument(
        "--corruptions",
        type=list[str] | None,
        default=None,
        help="Corruptions to run, as name or name:severity (1-5), e.g. '[rotate:5, fog]'; "
        f"default: all at their default severity. Names: {', '.join(CORRUPTIONS)}.",
    )
    parser.add_argument(
        "--own_images",
        type=int,
        default=500,
        help="MNIST test digits dressed as photos (JPEG, PNG) and canvas exports, per set; "
        "the printed set is always whole. 0 leaves the own-image sets out.",
    )
    parser.add_argument("--seed", type=int, default=0, help="Seeds every corruption and drawing.")
    parser.add_argument("--out", type=str, default="results/robustness", help="Output folder.")
    parser.add_argument(
        "--device", type=str, default="auto", help="auto (a CUDA GPU if there is one), cpu or cuda."
    )
    parser.add_class_arguments(MNISTDataModule, "data", skip=set(_DATA_OPTIONS_UNUSED))
    return parser


_DATA_OPTIONS_UNUSED = (
    "train_size", "val_size", "seed", "batch_size", "on_device", "num_workers", "pin_memory",
    "mean", "std", "predict_dir", "custom_dir", "save_preprocessed", "max_pixels", "max_seconds",
    "augment_degrees", "augment_shift", "augment_scale", "augment_degrade", "augment_margins",
    "non_digits",
)  # fmt: skip


def main(args: Sequence[str] | None = None) -> Path:
    """Parse the command line and run the suite; a user's mistake is a one-line error (exit 2)."""
    show_log_messages()
    parser = build_parser()
    config = parse_or_fail(parser, args, PROG)
    with user_errors(PROG):
        init = instantiate(parser, config)
        paths = [init.ckpt_path] if isinstance(init.ckpt_path, str) else init.ckpt_path
        return run_robustness(
            paths,
            init.data,
            init.out,
            init.names,
            init.corruptions,
            init.own_images,
            init.seed,
            init.logs,
            init.device,
        )


def entry_point() -> None:
    """Run the ``mnist-lit-robustness`` console script."""
    main()
