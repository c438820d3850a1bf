"""The training curves of a run, read back from its TensorBoard event files or CSV log."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from mnist_lit.viz.plots import Curve

CURVE_TAGS = (
    "train/loss",
    "train/loss_epoch",
    "val/loss",
    "train/acc",
    "train/acc_epoch",
    "val/acc",
)
"""Scalars of the training run drawn in ``training_curves.png``."""


CSV_LOG = "metrics.csv"
"""The file of Lightning's ``CSVLogger`` in its run folder."""


def read_curves(run_dir: Path, tags: Sequence[str] = CURVE_TAGS) -> dict[str, Curve]:
    """Read logged scalars from a run folder's TensorBoard event files or CSV log (empty if none).

    MLflow and other loggers keep their records outside the run folder: no curves from them.
    """
    if not any(run_dir.glob("events.out.tfevents.*")):
        return _read_csv(run_dir / CSV_LOG, tags)
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    accumulator = EventAccumulator(str(run_dir), size_guidance={SCALARS: 0})  # 0: keep all
    accumulator.Reload()
    found = set(accumulator.Tags().get("scalars", []))
    curves: dict[str, Curve] = {}
    for tag in tags:
        if tag in found:
            events = accumulator.Scalars(tag)
            curves[tag] = ([e.step for e in events], [e.value for e in events])
    return curves


def _read_csv(path: Path, tags: Sequence[str]) -> dict[str, Curve]:
    """Read the scalars of ``tags`` from a ``CSVLogger`` file: one row per step, empty cells."""
    if not path.is_file():
        return {}
    points: dict[str, list[tuple[int, float]]] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            for tag in tags:
                if row.get(tag) and row.get("step"):
                    points.setdefault(tag, []).append((int(row["step"]), float(row[tag])))
    return {tag: ([s for s, _ in pairs], [v for _, v in pairs]) for tag, pairs in points.items()}
