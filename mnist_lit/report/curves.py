"""The training curves of a run, read back from its TensorBoard event files."""

from __future__ import annotations

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


def read_curves(run_dir: Path, tags: Sequence[str] = CURVE_TAGS) -> dict[str, Curve]:
    """Read logged scalars from the TensorBoard event files of a run folder (empty if none)."""
    if not any(run_dir.glob("events.out.tfevents.*")):
        return {}
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
