"""What the TensorBoard figures cost a training run: `fit` with and without them, alternated.

    python benchmarks/dashboards.py --mirror ../shared/data/mnist

Runs ``python -m mnist_lit fit --config configs/default.yaml`` in this process ``--repeats`` times
with ``--dashboards.figures true`` and as many times with ``false`` (the reference, measured in
the same run), alternating, on ``--train_size`` images for ``--epochs`` epochs. Prints the wall
time of each run, the time spent inside the dashboard callback's hooks (measured directly, so it
is not lost in the noise between runs), and the overhead as a percentage of the run.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from mnist_lit.callbacks.dashboards import Dashboards
from mnist_lit.cli import main as cli_main
from mnist_lit.training.device import cpu_model

HOOKS = (
    "on_fit_start",
    "on_validation_batch_end",
    "on_train_batch_end",
    "on_validation_end",
    "on_fit_end",
)
spent = {"seconds": 0.0}


def timed(hook: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(hook)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return hook(*args, **kwargs)
        finally:
            spent["seconds"] += time.perf_counter() - start

    return wrapper


def fit(args: argparse.Namespace, figures: bool, root: str) -> tuple[float, float, float]:
    """Return (wall seconds, seconds inside the dashboard hooks, best val/acc)."""
    spent["seconds"] = 0.0
    start = time.perf_counter()
    cli = cli_main([
        "fit", "--config", "configs/default.yaml",
        "--data.data_dir", args.data_dir, "--data.train_size", str(args.train_size),
        "--trainer.max_epochs", str(args.epochs), "--trainer.default_root_dir", root,
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--dashboards.figures", str(figures).lower(),
        *(["--data.mirror", args.mirror] if args.mirror else []),
    ])  # fmt: skip
    wall = time.perf_counter() - start
    return wall, spent["seconds"], float(cli.trainer.checkpoint_callback.best_model_score or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", help="folder with the four MNIST files (offline machines)")
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--train_size", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # LightningCLI reads sys.argv too; it gets its arguments from us
    for hook in HOOKS:
        setattr(Dashboards, hook, timed(getattr(Dashboards, hook)))

    print(f"CPU: {cpu_model()}; fit on {args.train_size:,} images, {args.epochs} epochs")
    results: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as root:
        for i in range(args.repeats):
            for figures in (True, False) if i % 2 == 0 else (False, True):
                wall, hooks, acc = fit(args, figures, root)
                results[figures].append((wall, hooks, acc))
                print(
                    f"  figures {'on ' if figures else 'off'}: {wall:6.1f} s, "
                    f"dashboard hooks {hooks:5.2f} s, best val/acc {100 * acc:.2f}%",
                    flush=True,
                )
    on = statistics.mean(r[0] for r in results[True])
    off = statistics.mean(r[0] for r in results[False])
    hooks_on = statistics.mean(r[1] for r in results[True])
    hooks_off = statistics.mean(r[1] for r in results[False])
    print(f"figures on : {on:6.1f} s per run (mean), {hooks_on:.2f} s in the dashboard hooks")
    print(f"figures off: {off:6.1f} s per run (mean), {hooks_off:.2f} s in the dashboard hooks")
    print(
        f"cost of the figures: {100 * (hooks_on - hooks_off) / off:.1f}% measured in the hooks, "
        f"{100 * (on / off - 1):+.1f}% in wall time (runs differ by noise too)"
    )


if __name__ == "__main__":
    main()
