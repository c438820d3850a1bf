"""Evaluate a checkpoint on the MNIST test set and write every figure and a report page.

    python -m mnist_lit.report --ckpt_path best --data.mirror ../shared/data/mnist
    python -m mnist_lit.report --ckpt_path lightning_logs/version_0/checkpoints/last.ckpt --out my_report

Writes into ``--out`` (default: ``report/`` in the checkpoint's run folder) ``report.md`` (metrics,
tables and all figures, readable without TensorBoard), ``metrics.json`` and one PNG per figure:
samples, training curves (from the run's TensorBoard or CSV logs), predictions, misclassified images,
per-digit accuracy, confusion matrix (counts and normalised), the reliability diagram (confidence
against accuracy, before and after temperature scaling), attribution maps of right digits and of
the most confident mistakes (``mnist_lit.explain``), feature maps, conv1 filters and the layer
table. ``--data.custom_dir DIR`` reports on a labelled folder of your own images instead;
``--robustness 200`` adds the robustness suite's table and figure (``mnist_lit.robustness``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from jsonargparse import ArgumentParser
from matplotlib.figure import Figure
from torch import Tensor

from mnist_lit.commands import (
    apply_fit_configs,
    command_name,
    instantiate,
    parse_or_fail,
    show_log_messages,
    user_errors,
)
from mnist_lit.constants import CLASS_NAMES
from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.errors import ConfigError
from mnist_lit.evaluation import choose_device, evaluate
from mnist_lit.explain.gallery import attribution_figures
from mnist_lit.files import save_figure, write_text
from mnist_lit.models.calibration import NOT_CALIBRATED_NOTE, Calibration
from mnist_lit.models.hparams import public_hparams
from mnist_lit.report.curves import read_curves
from mnist_lit.report.markdown import report_page
from mnist_lit.robustness.command import run_robustness
from mnist_lit.training.checkpoints import (
    add_checkpoint_arguments,
    load_checkpoint,
    model_from_checkpoint,
    resolve_checkpoint,
)
from mnist_lit.viz.calibration import calibration_error, plot_reliability
from mnist_lit.viz.introspect import feature_maps, layer_table
from mnist_lit.viz.plots import (
    plot_confusion_matrix,
    plot_digit_accuracy,
    plot_feature_maps,
    plot_filters,
    plot_layer_table,
    plot_misclassified,
    plot_predictions,
    plot_samples,
    plot_training_curves,
)
from mnist_lit.viz.tables import digit_accuracy

log = logging.getLogger("mnist_lit")

PROG = "mnist_lit.report"
"""The start of its error messages."""


def make_report(
    ckpt_path: str,
    out: str | Path | None,
    datamodule: MNISTDataModule,
    logs: str | Path = "lightning_logs",
    device: str = "auto",
    image_index: int = 0,
    robustness: int | None = None,
    attributions: bool = True,
) -> Path:
    """Evaluate a checkpoint and write the figures, ``metrics.json`` and ``report.md``.

    Args:
        ckpt_path: ``best``, ``last`` (newest run under ``logs``) or a ``.ckpt`` file.
        out: Output folder; ``None`` is ``report/`` beside the checkpoint's ``checkpoints/``.
        datamodule: Where the test images come from; its ``mean``/``std`` are replaced by the
            checkpoint's.
        logs: Folder holding the run folders, to find ``best`` and ``last``.
        device: ``auto`` (a CUDA GPU if there is one), ``cpu`` or ``cuda``.
        image_index: Test image whose feature maps are shown.
        robustness: Also run the robustness suite (``mnist_lit.robustness``) on the model, with
            this many test digits per own-image set, and add its table and figure to the page;
            ``None`` leaves it out (it takes a minute or two on a CPU).
        attributions: Add the attribution maps (``mnist_lit.explain``) of the first right test
            image of each digit and of the 5 most confident mistakes (a few seconds on a CPU).

    Returns:
        The path of ``report.md``.

    """
    path = resolve_checkpoint(ckpt_path, logs)
    checkpoint = load_checkpoint(path)
    model = model_from_checkpoint(checkpoint, path)
    if model.calibration is None:
        log.info(f"Note: {NOT_CALIBRATED_NOTE}")
    datamodule.mean, datamodule.std = model.hparams["mean"], model.hparams["std"]
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    out = Path(out) if out is not None else run_dir / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the output folder {out}: {err.strerror}") from err

    log.info(f"Checkpoint: {path}")
    torch_device = choose_device(device)
    if datamodule.custom_dir is None:  # a folder of the user's needs no MNIST files
        datamodule.prepare_data()
    datamodule.setup("test")
    test_set = datamodule.custom_dir or "MNIST test set"
    try:
        result = evaluate(model, datamodule, torch_device, progress=f"Evaluating {test_set}")
    finally:
        datamodule.teardown("test")  # gives the folder workers' threads back to torch
    confusion = result.confusion()
    per_digit, _ = digit_accuracy(confusion)
    if result.failures:
        shown = "".join(f"\n  {name}: {reason}" for name, reason in result.failures[:20])
        log.warning(
            f"Files of {test_set} that could not be used, not counted (all "
            f"{len(result.failures):,} are listed in report.md):{shown}"
        )
    log.info(
        f"Accuracy {100 * result.accuracy:.2f}% on {len(result.labels):,} images of {test_set} "
        f"({result.seconds:.1f} s on {result.device})"
    )
    if not 0 <= image_index < len(result.labels):
        raise ConfigError(
            f"image_index must be in [0, {len(result.labels) - 1}], got {image_index}"
        )

    mean, std = datamodule.mean, datamodule.std
    images, labels, probabilities = result.images, result.labels, result.probabilities
    rows = layer_table(model.net)
    maps = feature_maps(model.net.features, images[image_index : image_index + 1].to(torch_device))
    curves = read_curves(run_dir)
    figures: dict[str, Figure] = {
        "samples": plot_samples(images, labels, mean, std),
        "predictions": plot_predictions(images[:32], labels[:32], probabilities[:32], mean, std),
        "misclassified": plot_misclassified(images, labels, probabilities, mean, std),
        "digit_accuracy": plot_digit_accuracy(
            per_digit, result.accuracy, "Test accuracy per digit"
        ),
        "confusion_matrix": plot_confusion_matrix(confusion),
        "confusion_matrix_normalized": plot_confusion_matrix(confusion, normalize=True),
        "feature_maps": plot_feature_maps(
            images[image_index], [m[0] for m in maps], mean=mean, std=std
        ),
        "filters": plot_filters(model.net.conv_layers()[0].weight),
        "layers": plot_layer_table(rows),
        "reliability": plot_reliability(
            {
                "before temperature scaling": (result.unscaled, labels),
                **({"calibrated": (probabilities, labels)} if model.calibration else {}),
            },
            f"Reliability on the {test_set}",
        ),
    }
    if attributions:
        figures |= attribution_figures(model.net, images, labels, probabilities, mean, std)
    if curves:
        figures["training_curves"] = plot_training_curves(curves, f"Training curves of {run_dir}")
    for name, figure in figures.items():
        save_figure(figure, out / f"{name}.png", dpi=110)

    metrics = {
        "checkpoint": str(path),
        "epoch": checkpoint.get("epoch"),
        "global_step": checkpoint.get("global_step"),
        "test_set": test_set,
        "images": len(labels),
        "accuracy": result.accuracy,
        "errors": int(len(labels) - confusion.trace()),
        "loss": result.loss,
        "accuracy_per_digit": {
            d: _number(a) for d, a in zip(CLASS_NAMES, per_digit.tolist(), strict=True)
        },
        "confusion_matrix": confusion.tolist(),
        "device": result.device,
        "seconds": result.seconds,
        "unusable_files": [{"file": name, "reason": reason} for name, reason in result.failures],
        "calibration": _trust(model.calibration, probabilities, result.unscaled, labels),
    }
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    suite = None
    if robustness is not None:
        if datamodule.custom_dir is not None:
            raise ConfigError(
                "--robustness runs on the MNIST test set: leave out --data.custom_dir"
            )
        log.info("Robustness suite (python -m mnist_lit.robustness):")
        suite = run_robustness(
            [str(path)], datamodule, out, names=["this model"], own_images=robustness,
            device=device,
        )  # fmt: skip
    page = out / "report.md"
    text = report_page(
        metrics,
        public_hparams(model.hparams),
        rows,
        confusion,
        sorted(figures),
        image_index,
    )
    if suite is not None:  # the suite's page, one heading level down, before the network
        section = (
            suite.read_text().replace("\n## ", "\n### ").replace("# Robustness", "## Robustness", 1)
        )
        text = text.replace("\n## The data\n", f"\n{section}\n## The data\n", 1)
    write_text(page, text)
    log.info(f"Wrote {page} with {len(figures)} figures (PNG) and metrics.json in {out}")
    if not curves:
        log.info(f"No training curves: no TensorBoard or CSV logs with them in {run_dir}")
    return page


def _trust(
    calibration: Calibration | None, probabilities: Tensor, unscaled: Tensor, labels: Tensor
) -> dict[str, float | int | None]:
    """Return the calibration figures: ECE before and after scaling, the unsure share, the rest's accuracy.

    ``None`` where the checkpoint has no calibration (written before it existed).
    """
    figures: dict[str, float | int | None] = {
        "ece_unscaled": calibration_error(unscaled, labels),
        "ece": None,
        "temperature": None,
        "unsure_threshold": None,
        "unsure": None,
        "accuracy_sure": None,
    }
    if calibration is None:
        return figures
    unsure = calibration.unsure(probabilities)
    sure = ~unsure
    right = probabilities.argmax(dim=1) == labels
    figures |= {
        "ece": calibration_error(probabilities, labels),
        "temperature": calibration.temperature,
        "unsure_threshold": calibration.threshold,
        "unsure": int(unsure.sum()),
        "accuracy_sure": float(right[sure].float().mean()) if bool(sure.any()) else None,
    }
    return figures


def _number(value: float) -> float | None:
    return None if value != value else value  # NaN (a digit with no images) -> null


def build_parser() -> ArgumentParser:
    """Build the command line: checkpoint, output folder, device and the data options of ``fit``."""
    parser = ArgumentParser(
        prog=command_name("report", "mnist_lit.report"),
        description="Evaluate a checkpoint on the MNIST test set (or --data.custom_dir) and write "
        "all figures as PNG, metrics.json and a report.md page that shows them.",
        exit_on_error=False,
    )
    parser.add_argument(
        "--config",
        "-c",
        type=str,
        help="A fit config (file or packaged name, as for fit; repeatable): its data options "
        "become this command's defaults, its trainer.default_root_dir sets --logs; the model's "
        "and trainer's settings are not used (the checkpoint holds the model).",
    )
    add_checkpoint_arguments(parser)
    parser.add_argument(
        "--out",
        type=str | None,
        default=None,
        help="Output folder; default: report/ in the checkpoint's run folder (lightning_logs/version_N/report/).",
    )
    parser.add_argument(
        "--device", type=str, default="auto", help="auto (a CUDA GPU if there is one), cpu or cuda."
    )
    parser.add_argument(
        "--image_index", type=int, default=0, help="Test image whose feature maps are shown."
    )
    parser.add_argument(
        "--robustness",
        type=int | None,
        default=None,
        help="Also run the robustness suite (python -m mnist_lit.robustness) and add its table "
        "and figure: the value is how many test digits each own-image set dresses up (e.g. 200; "
        "0 for the corruptions only). A minute or two on a CPU. Default: left out.",
    )
    parser.add_argument(
        "--attributions",
        type=bool,
        default=True,
        help="Add the attribution maps (Integrated Gradients, Occlusion, Grad-CAM) of a right "
        "test image of each digit and of the 5 most confident mistakes; false leaves them out "
        "(they take a few seconds on a CPU).",
    )
    parser.add_class_arguments(
        MNISTDataModule,
        "data",
        skip={  # training's and predict's options
            *("mean", "std", "predict_dir", "train_size", "val_size", "seed", "save_preprocessed"),
            *("augment_degrees", "augment_shift", "augment_scale", "augment_degrade"),
            *("augment_margins", "non_digits"),
        },
    )
    parser.set_defaults({"data.batch_size": 500})
    return parser


def main(args: Sequence[str] | None = None) -> Path:
    """Parse the command line, write the report; a user's mistake is a one-line error (exit 2)."""
    show_log_messages()
    parser = build_parser()
    with user_errors(PROG):
        args = apply_fit_configs(parser, sys.argv[1:] if args is None else args)
    config = parse_or_fail(parser, args, PROG)
    with user_errors(PROG):
        init = instantiate(parser, config)
        return make_report(
            init.ckpt_path,
            init.out,
            init.data,
            init.logs,
            init.device,
            init.image_index,
            init.robustness,
            init.attributions,
        )


def entry_point() -> None:
    """Console script ``mnist-lit-report`` (also ``mnist-lit report``)."""
    main()
