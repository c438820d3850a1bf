"""Tables and findings of the data-scale experiment: per-epoch rows in, CSV, ScalePoints and Markdown out.

    python -m mnist_lit.experiments.data_scale --config configs/experiments/data_scale.yaml

``results.csv`` holds one row per size × seed × epoch (``RESULT_COLUMNS``); ``summary.csv`` one row
per size (``SUMMARY_COLUMNS``); ``summary.md`` answers the reference report's questions with the
measured figures.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from statistics import mean, stdev
from typing import Any, NamedTuple

import numpy as np

from mnist_lit.experiments.plots import ScalePoint
from mnist_lit.files import atomic_write

RESULT_COLUMNS = (
    "size",
    "seed",
    "epoch",
    "train_images",
    "train_seconds",
    "train_seconds_total",
    "images_per_second",
    "train_loss",
    "test_acc",
    "test_loss",
    "test_seconds",
    "device",
    "precision",
    "run",
)
"""Columns of ``results.csv``: times in seconds, accuracy 0-1, ``train_seconds_total`` up to the
end of the epoch, ``run`` the run's folder under ``runs/``."""

SUMMARY_COLUMNS = (
    "size",
    "seeds",
    "epochs",
    "test_acc",
    "test_acc_std",
    "best_test_acc",
    "test_loss",
    "train_loss",
    "train_seconds",
    "train_seconds_std",
    "seconds_per_epoch",
    "images_per_second",
    "first_epoch_99",
)
"""Columns of ``summary.csv``, after the last epoch and averaged over seeds (``*_std``: standard
deviation over seeds, empty with one seed); ``best_test_acc`` is the best epoch's mean,
``first_epoch_99`` the first epoch whose mean test accuracy reaches 99% (empty if none)."""

TARGET = 0.99
"""The accuracy the summary looks for (99%)."""

SATURATION = 0.002
"""Accuracy within this of the best size's (0.2 percentage points: 20 of the 10,000 test images)
counts as saturated."""


class TimeFit(NamedTuple):
    """Least-squares line of seconds per epoch against training images."""

    per_10k: float
    """Seconds per epoch added by 10,000 more images."""
    intercept: float
    """Seconds per epoch at zero images (fixed costs)."""
    r2: float
    """Coefficient of determination: 1 is a perfect line."""


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` with ``columns`` in that order; NaN and ``None`` become empty cells."""
    with atomic_write(path, "w", newline="") as f:  # a reader never sees a half-written table
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(row.get(key)) for key in columns})


def points(rows: Sequence[Mapping[str, Any]]) -> list[ScalePoint]:
    """Average ``results.csv`` rows over seeds: one ``ScalePoint`` per size and epoch."""
    groups: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((int(row["size"]), int(row["epoch"])), []).append(row)
    return [
        ScalePoint(
            size=size,
            epoch=epoch,
            test_acc=_mean(group, "test_acc"),
            test_acc_std=_std(group, "test_acc"),
            test_loss=_mean(group, "test_loss"),
            train_loss=_mean(group, "train_loss"),
            train_loss_std=_std(group, "train_loss"),
            seconds=_mean(group, "train_seconds_total"),
            seconds_std=_std(group, "train_seconds_total"),
        )
        for (size, epoch), group in sorted(groups.items())
    ]


def summary_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One ``SUMMARY_COLUMNS`` row per size, from the ``results.csv`` rows."""
    by_size: dict[int, list[ScalePoint]] = {}
    for point in points(rows):
        by_size.setdefault(point.size, []).append(point)
    table = []
    for size, curve in by_size.items():
        last = curve[-1]
        group = [r for r in rows if int(r["size"]) == size]
        reached = [p.epoch for p in curve if p.test_acc >= TARGET - 1e-9]
        table.append(
            {
                "size": size,
                "seeds": len({r["seed"] for r in group}),
                "epochs": last.epoch,
                "test_acc": last.test_acc,
                "test_acc_std": last.test_acc_std,
                "best_test_acc": max(p.test_acc for p in curve),
                "test_loss": last.test_loss,
                "train_loss": last.train_loss,
                "train_seconds": last.seconds,
                "train_seconds_std": last.seconds_std,
                "seconds_per_epoch": last.seconds / last.epoch,
                "images_per_second": _mean(group, "images_per_second"),
                "first_epoch_99": reached[0] if reached else None,
            }
        )
    return table


def time_fit(rows: Sequence[Mapping[str, Any]]) -> TimeFit | None:
    """Fit seconds per epoch against training images over every row (None below two sizes)."""
    sizes = np.array([float(r["train_images"]) for r in rows])
    seconds = np.array([float(r["train_seconds"]) for r in rows])
    if len(set(sizes.tolist())) < 2:
        return None
    slope, intercept = np.polyfit(sizes, seconds, 1)
    residual = seconds - (intercept + slope * sizes)
    total = float(((seconds - seconds.mean()) ** 2).sum())
    r2 = 1 - float((residual**2).sum()) / total if total > 0 else 1.0
    return TimeFit(float(slope) * 10_000, float(intercept), r2)


def summary_markdown(
    rows: Sequence[Mapping[str, Any]], settings: Mapping[str, Any], wall_seconds: float
) -> str:
    """Answer the reference report's questions with the measured results, as Markdown.

    Args:
        rows: ``results.csv`` rows of every finished run.
        settings: What the sweep ran: ``command``, ``base``, ``fit``, ``epochs``, ``seeds``.
        wall_seconds: Wall time of all runs (data preparation and evaluations included).

    """
    scale = points(rows)
    sizes = sorted({p.size for p in scale})
    epochs = sorted({p.epoch for p in scale})
    last_epoch = epochs[-1]
    final = {p.size: p for p in scale if p.epoch == last_epoch}
    devices = sorted({str(r["device"]) for r in rows})
    precisions = sorted({str(r["precision"]) for r in rows})
    seeds = sorted({int(r["seed"]) for r in rows})
    train_total = sum(float(r["train_seconds"]) for r in rows)
    lines = [
        "# Training-set size × epochs",
        "",
        f"Command: `{settings.get('command', '')}`",
        "",
        f"- Runs: {len(sizes)} sizes × {len(seeds)} seed{'s' if len(seeds) > 1 else ''} "
        f"({', '.join(map(str, seeds))}) × {last_epoch} epochs; base config "
        f"{', '.join(f'`{b}`' for b in settings.get('base', [])) or 'none'}"
        + (f"; fit options `{' '.join(settings['fit'])}`" if settings.get("fit") else "")
        + ".",
        f"- Device: {'; '.join(devices)}; precision {', '.join(precisions)}.",
        f"- Wall time of all runs: {_duration(wall_seconds)}, of which training "
        f"{_duration(train_total)} (the rest: data preparation, the test set after every epoch, "
        "start-up).",
        "- Every run trains on its size drawn balanced across digits from all 60,000 training "
        "images (no validation split) and is scored on the 10,000 test images after every "
        "epoch. Mean over seeds"
        + (", ± standard deviation." if len(seeds) > 1 else " (one seed: no spread)."),
        "",
        "## Test accuracy (%) after each epoch",
        "",
        "| training images | " + " | ".join(f"epoch {e}" for e in epochs) + " | training s |",
        "|---:|" + "---:|" * (len(epochs) + 1),
    ]
    by_key = {(p.size, p.epoch): p for p in scale}
    for size in sizes:
        cells = [_percent(by_key.get((size, e))) for e in epochs]
        lines.append(
            f"| {size:,} | " + " | ".join(cells) + f" | {final[size].seconds:.1f} |"
            if size in final
            else f"| {size:,} | " + " | ".join(cells) + " | |"
        )
    lines += ["", "## Answers", ""]
    lines += _answers(rows, scale, sizes, epochs, final)
    return "\n".join(lines) + "\n"


def _answers(
    rows: Sequence[Mapping[str, Any]],
    scale: Sequence[ScalePoint],
    sizes: Sequence[int],
    epochs: Sequence[int],
    final: Mapping[int, ScalePoint],
) -> list[str]:
    lines = []
    fit = time_fit(rows)
    if fit is not None:
        verdict = "linear" if fit.r2 >= 0.98 else "not clearly linear"
        lines.append(
            f"- **Time against size** (reference: grows linearly): {verdict}; each 10,000 "
            f"images add {fit.per_10k:.1f} s per epoch (fixed cost {fit.intercept:.1f} s, "
            f"R² = {fit.r2:.3f} over {len(rows)} epochs)."
        )
    best_size = max(final, key=lambda s: final[s].test_acc)
    best = final[best_size].test_acc
    saturated = next(
        s for s in sizes if s in final and final[s].test_acc >= best - SATURATION - 1e-9
    )
    gains = [
        f"{a:,} → {b:,}: {100 * (final[b].test_acc - final[a].test_acc):+.2f}"
        for a, b in itertools.pairwise(sizes)
        if a in final and b in final
    ]
    lines.append(
        f"- **Where accuracy saturates** (reference: little gain beyond 10,000 images): after "
        f"{epochs[-1]} epochs, {saturated:,} images are within {100 * SATURATION:.1f} "
        f"percentage points of the best size ({best_size:,}: {100 * best:.2f}%). Gain from "
        f"each size to the next, in points: {'; '.join(gains) or 'one size only'}."
    )
    reached = [p for p in scale if p.test_acc >= TARGET - 1e-9]
    if reached:
        smallest = min(reached, key=lambda p: (p.size, p.epoch))
        cheapest = min(reached, key=lambda p: p.seconds)
        fewest = min(reached, key=lambda p: (p.epoch, p.size))
        lines.append(
            f"- **Smallest size and epochs reaching 99%**: {smallest.size:,} images after "
            f"{smallest.epoch} epoch{'s' if smallest.epoch > 1 else ''} "
            f"({100 * smallest.test_acc:.2f}%); fewest epochs: {fewest.epoch} "
            f"({fewest.size:,} images, {100 * fewest.test_acc:.2f}%); least training time: "
            f"{cheapest.size:,} images × {cheapest.epoch} epoch"
            f"{'s' if cheapest.epoch > 1 else ''}, {cheapest.seconds:.1f} s "
            f"({100 * cheapest.test_acc:.2f}%)."
        )
    else:
        lines.append(
            f"- **Smallest size and epochs reaching 99%**: none reached 99% (best "
            f"{100 * max(p.test_acc for p in scale):.2f}%)."
        )
    by_key = {(p.size, p.epoch): p for p in scale}
    if len(epochs) >= 2 and 20_000 in sizes:
        shown = "; ".join(
            f"{size:,} × {e}: {_percent(by_key.get((size, e)))}%"
            for size in sizes
            if size in (10_000, 20_000)
            for e in epochs[:3]
        )
        lines.append(f"- **At least 2 epochs and 20,000 images** (reference's advice): {shown}.")
    losses = [final[s].train_loss for s in sizes if s in final]
    falling = all(b <= a for a, b in itertools.pairwise(losses))
    lines.append(
        "- **Loss against size** (reference: more data, lower loss): the last epoch's mean "
        f"training loss {'falls' if falling else 'does not fall'} steadily with size "
        f"({', '.join(f'{s:,}: {final[s].train_loss:.4f}' for s in sizes if s in final)})."
    )
    return lines


def _mean(group: Sequence[Mapping[str, Any]], key: str) -> float:
    return mean(float(r[key]) for r in group)


def _std(group: Sequence[Mapping[str, Any]], key: str) -> float:
    return stdev(float(r[key]) for r in group) if len(group) > 1 else math.nan


def _percent(point: ScalePoint | None) -> str:
    if point is None:
        return ""
    spread = "" if math.isnan(point.test_acc_std) else f" ± {100 * point.test_acc_std:.2f}"
    return f"{100 * point.test_acc:.2f}{spread}"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value
