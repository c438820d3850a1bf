"""Dashboards: the figures of ``plots.py`` and the hyperparameters with their metrics.

    python -m mnist_lit fit --config configs/default.yaml --data.mirror ../shared/data/mnist
    tensorboard --logdir lightning_logs

What a run adds to the scalars the model logs (tags as TensorBoard shows them):

- IMAGES: ``data/samples`` at the start of ``fit``; ``val/predictions``, ``val/confusion_matrix`` and
  ``val/digit_accuracy`` after every validation epoch; ``test/predictions``,
  ``test/misclassified``, ``test/confusion_matrix`` and ``test/digit_accuracy`` after ``test``;
  ``test/attributions`` and ``test/attributions_mistakes`` (``mnist_lit.explain``: why the model
  read the first right digit of each class and its most confident mistakes) after ``test``;
  ``model/feature_maps`` and ``model/filters_conv1`` at the end of ``fit`` and ``test``.
- CUSTOM SCALARS: the ten per-digit validation accuracies on one chart.
- TEXT: ``model/layers``, each layer's output shape and parameters.
- HPARAMS: the run's model, data and trainer settings beside the last value of each of
  ``HPARAM_METRICS`` (``val/acc``, ``val/acc_best``, ``test/acc``, the losses, ...).

With MLflow (``--trainer.logger MLFlowLogger``) the same figures are the run's images, by tag and
step, the layer table is ``model/layers.md``, and the trainer settings join the parameters.
Other loggers (CSV, W&B, ...) take the settings; the figures are skipped for them, with one line
saying so (``loggers.py``). The scalars, ``val/acc_best`` among them, are the model's
``self.log`` values, which every logger records.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torch import Tensor
from torch.utils.tensorboard.summary import hparams as hparams_summary

from mnist_lit.callbacks.loggers import Sink, sinks
from mnist_lit.constants import IMAGE_SIZE, MEAN, NUM_CLASSES, STD
from mnist_lit.data.preprocess import normalize
from mnist_lit.explain.gallery import attribution_figures
from mnist_lit.models.convnet import ConvNet
from mnist_lit.models.hparams import public_hparams
from mnist_lit.viz.introspect import feature_maps, layer_table
from mnist_lit.viz.plots import (
    plot_confusion_matrix,
    plot_digit_accuracy,
    plot_feature_maps,
    plot_filters,
    plot_misclassified,
    plot_predictions,
    plot_samples,
    render,
)
from mnist_lit.viz.tables import digit_accuracy, format_layer_table

log = logging.getLogger(__name__)

HPARAM_METRICS = (
    "val/acc",
    "val/acc_best",
    "test/acc",
    "val/loss",
    "test/loss",
    "train/loss_epoch",
    "train/acc_epoch",
    "train/seconds",
)
"""Scalars shown beside the hyperparameters in the HPARAMS tab (the last value of each).

TensorBoard shows the first five columns until more are ticked, hence this order."""

DATA_HPARAMS = ("batch_size", "train_size", "val_size", "seed", "custom_dir")
"""Datamodule arguments that change results (paths and loader settings do not)."""


class Dashboards(Callback):
    """Log figures, a layer table and the hyperparameters to the run's loggers (``--dashboards.*``).

    Figures and the layer table go to TensorBoard and MLflow loggers (``loggers.py``); without
    one, nothing is drawn. The figures after each validation
    epoch cost about 0.4 s on a 2-core CPU, next to about 50 s for an epoch of the default run;
    raise ``every_n_epochs`` or turn ``figures`` off for runs with epochs of a few seconds.

    Args:
        figures: Log the figures (predictions, confusion matrix, per-digit accuracy, samples,
            feature maps, filters).
        every_n_epochs: Log the validation figures every this many epochs (the last epoch too).
        num_images: Images in the predictions grid and in the grid of misclassified ones.
        hparams: Record the hyperparameters with the final metrics in the HPARAMS tab (in place
            of Lightning's ``hp_metric`` placeholder, which would stay -1).
        attributions: After ``test``, log the attribution maps of the first right image of each
            digit and of the 5 most confident mistakes (5-10 s on a 2-core CPU).

    """

    def __init__(
        self,
        figures: bool = True,
        every_n_epochs: int = 1,
        num_images: int = 32,
        hparams: bool = True,
        attributions: bool = True,
    ) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be 1 or more, got {every_n_epochs}")
        if num_images < 1:
            raise ValueError(f"num_images must be 1 or more, got {num_images}")
        self.figures = figures
        self.every_n_epochs = every_n_epochs
        self.num_images = num_images
        self.hparams = hparams
        self.attributions = attributions
        self._right = _FirstRight()  # the first right image of each digit in a test run
        self._first = _Batches(num_images)  # the first images of the epoch, with probabilities
        self._worst = _Worst(num_images)  # the most confident mistakes of a test run
        self._probe: Tensor | None = None  # (1, 1, 28, 28): the image whose feature maps are shown
        self._settings_logged: set[int] = set()  # the loggers without HPARAMS sessions given them
        self._said_skipped = False

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Stop Lightning's ``hp_metric`` placeholder; say which loggers take no figures.

        Runs before Lightning records the hyperparameters (``hparams.yaml`` and other loggers
        stay as Lightning writes them).
        """
        if self.hparams:
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger) and hasattr(logger, "_default_hp_metric"):
                    # the constructor's default_hp_metric=False, for the logger the run already has
                    logger._default_hp_metric = False
        taken, skipped = sinks(trainer.loggers)
        if self.figures and skipped and not self._said_skipped and trainer.is_global_zero:
            where = (
                "TensorBoard and MLflow show them" if not taken else "the other loggers have them"
            )
            log.info(f"Dashboards: figures are skipped for {', '.join(skipped)} ({where})")
            self._said_skipped = True

    # ---- fit ----------------------------------------------------------------------------------

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Record the hyperparameters, the layer table, the per-digit chart and sample images."""
        self._record_hparams(trainer, pl_module, "fit")
        writer = _tensorboard(trainer)
        if writer is not None:
            digits = [rf"val/acc_digit_{d}" for d in range(NUM_CLASSES)]
            writer.add_custom_scalars(
                {"per-digit accuracy": {"validation, every digit": ["Multiline", digits]}}
            )
        outputs = _sinks(trainer)
        net = getattr(pl_module, "net", None)
        if net is not None:
            for sink in outputs:
                sink.add_text("model/layers", format_layer_table(layer_table(net)), 0)
        train_set = getattr(getattr(trainer, "datamodule", None), "train_set", None)
        if self.figures and outputs and train_set is not None and hasattr(train_set, "images"):
            mean, std = _normalisation(pl_module)
            images = normalize(train_set.images[: 100 * NUM_CLASSES].unsqueeze(1), mean, std)
            labels = train_set.labels[: 100 * NUM_CLASSES]
            _add_figure(outputs, "data/samples", plot_samples(images, labels, mean, std), 0)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """For ``validate`` (not validation within ``fit``), record the hyperparameters."""
        if trainer.state.fn == "validate":
            self._record_hparams(trainer, pl_module, "validate")

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start collecting this epoch's first images."""
        self._first.clear()

    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep the first ``num_images`` images with their predicted probabilities."""
        if isinstance(outputs, Tensor) and not self._first.full:
            self._keep_first(batch, outputs.softmax(dim=1))

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Without validation, show the feature maps of the first training image."""
        if self._probe is None and len(batch[0]):
            self._probe = batch[0][:1].detach()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Every ``every_n_epochs`` (and after the last), log the validation figures."""
        if trainer.sanity_checking:
            return
        fitting = trainer.state.fn == "fit"
        # the step Lightning gives the epoch's val/acc (as its LearningRateMonitor does)
        step = getattr(trainer.fit_loop.epoch_loop, "_batches_that_stepped", trainer.global_step)
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and 0 < trainer.max_epochs <= epoch
        outputs = _sinks(trainer)
        if self.figures and outputs and (not fitting or epoch % self.every_n_epochs == 0 or last):
            self._log_evaluation(outputs, pl_module, "val", step)
        if not fitting:
            self._end_hparams(trainer)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log feature maps and filters of the trained network; close the HPARAMS session."""
        outputs = _sinks(trainer)
        if self.figures and outputs:
            self._log_network(outputs, pl_module, trainer.global_step)
        self._end_hparams(trainer)

    # ---- test ---------------------------------------------------------------------------------

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Record the hyperparameters of the model under test."""
        self._record_hparams(trainer, pl_module, "test")
        self._first.clear()
        self._worst.clear()
        self._right.clear()
        self._probe = None

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep the first images and the most confident mistakes so far."""
        if not isinstance(outputs, Tensor):
            return
        probabilities = outputs.softmax(dim=1)
        if not self._first.full:
            self._keep_first(batch, probabilities)
        self._worst.add(batch[0], batch[1], probabilities)
        if self.attributions and not self._right.full:
            self._right.add(batch[0], batch[1], probabilities)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log the test figures, feature maps and filters; close the HPARAMS session."""
        outputs = _sinks(trainer)
        if self.figures and outputs:
            step = trainer.global_step
            self._log_evaluation(outputs, pl_module, "test", step)
            images, labels, probabilities = self._worst.get()
            confusion = getattr(pl_module, "confusion", {}).get("test")
            if confusion is not None:  # also when nothing is wrong: the figure says so
                wrong, total = int(confusion.sum() - confusion.trace()), int(confusion.sum())
                title = f"Misclassified: {wrong:,} of {total:,}"
                if len(labels) < wrong:
                    title += f", the {len(labels)} most confident"
                mean, std = _normalisation(pl_module)
                figure = plot_misclassified(
                    images, labels, probabilities, mean, std, self.num_images, title=title
                )
                _add_figure(outputs, "test/misclassified", figure, step)
            if self.attributions:
                self._log_attributions(outputs, pl_module, step)
            self._log_network(outputs, pl_module, step)
        self._end_hparams(trainer)

    # ---- helpers ------------------------------------------------------------------------------

    def _keep_first(self, batch: Any, probabilities: Tensor) -> None:
        """Add to the epoch's first images; the first image of all is the feature-map probe."""
        if self._first.count == 0 and len(batch[0]):
            self._probe = batch[0][:1].detach()
        self._first.add(batch[0], batch[1], probabilities)

    def _log_evaluation(
        self, outputs: list[Sink], pl_module: LightningModule, stage: str, step: int
    ) -> None:
        """Log the predictions grid, the confusion matrix and the per-digit bars of ``stage``."""
        mean, std = _normalisation(pl_module)
        images, labels, probabilities = self._first.get()
        if len(labels):
            figure = plot_predictions(images, labels, probabilities, mean, std)
            _add_figure(outputs, f"{stage}/predictions", figure, step)
        confusion = getattr(pl_module, "confusion", {}).get(stage)
        if confusion is not None and confusion.sum() > 0:
            per_digit, overall = digit_accuracy(confusion)
            name = "Validation" if stage == "val" else "Test"
            _add_figure(
                outputs, f"{stage}/confusion_matrix", plot_confusion_matrix(confusion), step
            )
            figure = plot_digit_accuracy(per_digit, overall, f"{name} accuracy per digit")
            _add_figure(outputs, f"{stage}/digit_accuracy", figure, step)

    def _log_network(self, outputs: list[Sink], pl_module: LightningModule, step: int) -> None:
        """Log the first conv layer's filters and the feature maps of the first image seen."""
        net = getattr(pl_module, "net", None)
        if not isinstance(net, ConvNet):
            return
        convs = net.conv_layers()
        if convs[0].in_channels == 1:
            _add_figure(outputs, "model/filters_conv1", plot_filters(convs[0].weight), step)
        if self._probe is not None:
            mean, std = _normalisation(pl_module)
            image = self._probe.to(convs[0].weight.device, convs[0].weight.dtype)
            maps = feature_maps(net.features, image)
            figure = plot_feature_maps(image[0], [m[0] for m in maps], mean=mean, std=std)
            _add_figure(outputs, "model/feature_maps", figure, step)

    def _log_attributions(self, outputs: list[Sink], pl_module: LightningModule, step: int) -> None:
        """Log the report's attribution figures: right digits of each class, confident mistakes."""
        net = getattr(pl_module, "net", None)
        if not isinstance(net, ConvNet):
            return
        right = self._right.get()
        worst = self._worst.get()
        images, labels, probabilities = (
            torch.cat([r, w]) for r, w in zip(right, worst, strict=True)
        )
        if not len(labels):
            return
        mean, std = _normalisation(pl_module)
        figures = attribution_figures(net, images, labels, probabilities, mean, std)
        for name, figure in figures.items():
            _add_figure(outputs, f"test/{name}", figure, step)

    def _record_hparams(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Start an HPARAMS session: the settings now, the metrics as they are logged.

        Loggers other than TensorBoard get the trainer's settings, the seed and the stage that
        Lightning's own hyperparameters (the model's and the data's) leave out, once per run:
        MLflow refuses a parameter whose value changes, as ``stage`` does in ``fit --test``.
        """
        if not self.hparams or not trainer.is_global_zero:
            return
        params = run_hparams(trainer, pl_module, stage)
        writer = _tensorboard(trainer)
        if writer is not None:
            experiment, start, _ = hparams_summary(params, dict.fromkeys(HPARAM_METRICS, 0.0))
            file_writer = writer._get_file_writer()  # as Lightning's own log_hyperparams does
            file_writer.add_summary(experiment)
            file_writer.add_summary(start)
        extra = {k: v for k, v in params.items() if not k.startswith(("model.", "data."))}
        for logger in trainer.loggers:
            if (
                not isinstance(logger, TensorBoardLogger)
                and id(logger) not in self._settings_logged
            ):
                logger.log_hyperparams(extra)
                self._settings_logged.add(id(logger))

    def _end_hparams(self, trainer: Trainer) -> None:
        writer = _tensorboard(trainer)
        if self.hparams and writer is not None:
            _, _, end = hparams_summary({}, {})
            writer._get_file_writer().add_summary(end)
            writer.flush()


def run_hparams(trainer: Trainer, pl_module: LightningModule, stage: str) -> dict[str, Any]:
    """Collect a run's settings as flat TensorBoard hyperparameters (numbers, text, booleans).

    The model's arguments and the data's ``DATA_HPARAMS`` are prefixed ``model.`` and ``data.``
    as on the command line; the trainer's epochs, precision and number of devices, the global
    seed and the stage (and checkpoint, for ``test``) complete them.
    """
    params: dict[str, Any] = {"stage": stage}
    for key, value in public_hparams(getattr(pl_module, "hparams", {})).items():
        params[f"model.{key}"] = value
    data = dict(getattr(getattr(trainer, "datamodule", None), "hparams", {}))
    params.update({f"data.{key}": data[key] for key in DATA_HPARAMS if key in data})
    params["trainer.max_epochs"] = trainer.max_epochs
    params["trainer.precision"] = trainer.precision
    params["trainer.devices"] = trainer.num_devices * trainer.num_nodes
    params["seed"] = os.environ.get("PL_GLOBAL_SEED")
    if stage == "test":
        params["ckpt_path"] = trainer.ckpt_path
    return {
        key: value if isinstance(value, bool | int | float | str) else str(value)
        for key, value in params.items()
    }


class _Batches:
    """The first ``size`` images of an epoch with labels and probabilities, on the CPU."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.clear()

    def clear(self) -> None:
        self.parts: list[tuple[Tensor, Tensor, Tensor]] = []
        self.count = 0

    @property
    def full(self) -> bool:
        return self.count >= self.size

    def add(self, images: Tensor, labels: Tensor, probabilities: Tensor) -> None:
        n = min(self.size - self.count, len(labels))
        self.parts.append(
            (images[:n].detach().float().cpu(), labels[:n].cpu(), probabilities[:n].float().cpu())
        )
        self.count += n

    def get(self) -> tuple[Tensor, Tensor, Tensor]:
        if not self.parts:
            return _nothing()
        images, labels, probabilities = zip(*self.parts, strict=True)
        return torch.cat(images), torch.cat(labels), torch.cat(probabilities)


class _FirstRight:
    """The first correctly read image of each digit, on the CPU (found in the first batches)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.kept: dict[int, tuple[Tensor, Tensor, Tensor]] = {}

    @property
    def full(self) -> bool:
        return len(self.kept) == NUM_CLASSES

    def add(self, images: Tensor, labels: Tensor, probabilities: Tensor) -> None:
        # one read-back per batch, only until every digit has its image (usually the first batch)
        right = (probabilities.argmax(dim=1) == labels).cpu()
        labels_cpu = labels.cpu()
        for digit in range(NUM_CLASSES):
            hits = ((labels_cpu == digit) & right).nonzero()
            if digit not in self.kept and len(hits):
                i = int(hits[0])
                self.kept[digit] = (
                    images[i : i + 1].detach().float().cpu(),
                    labels_cpu[i : i + 1],
                    probabilities[i : i + 1].detach().float().cpu(),
                )

    def get(self) -> tuple[Tensor, Tensor, Tensor]:
        if not self.kept:
            return _nothing()
        images, labels, probabilities = zip(*(self.kept[d] for d in sorted(self.kept)), strict=True)
        return torch.cat(images), torch.cat(labels), torch.cat(probabilities)


class _Worst:
    """The ``size`` most confident mistakes seen so far, kept on the batches' device.

    Each batch is merged with the kept ones by ``topk``, so nothing waits for the device.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.clear()

    def clear(self) -> None:
        self.kept: tuple[Tensor, Tensor, Tensor, Tensor] | None = None

    def add(self, images: Tensor, labels: Tensor, probabilities: Tensor) -> None:
        confidence, predicted = probabilities.max(dim=1)
        score = torch.where(predicted != labels, confidence, torch.full_like(confidence, -1.0))
        batch = (score, images.detach(), labels, probabilities.detach())
        if self.kept is not None:
            batch = tuple(torch.cat([k, b]) for k, b in zip(self.kept, batch, strict=True))  # type: ignore[assignment]
        top = batch[0].topk(min(self.size, len(batch[0]))).indices
        self.kept = tuple(t[top] for t in batch)  # type: ignore[assignment]

    def get(self) -> tuple[Tensor, Tensor, Tensor]:
        if self.kept is None:
            return _nothing()
        score, images, labels, probabilities = (t.cpu() for t in self.kept)
        wrong = score >= 0
        return images[wrong].float(), labels[wrong], probabilities[wrong].float()


def _nothing() -> tuple[Tensor, Tensor, Tensor]:
    """No images, labels or probabilities."""
    size = (0, 1, IMAGE_SIZE, IMAGE_SIZE)
    return torch.empty(size), torch.empty(0, dtype=torch.long), torch.empty(0, NUM_CLASSES)


def _tensorboard(trainer: Trainer) -> Any:
    """Return the SummaryWriter of the run's TensorBoardLogger on the main process, else ``None``."""
    if not trainer.is_global_zero:
        return None
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def _sinks(trainer: Trainer) -> list[Sink]:
    """Return the run's loggers that take figures, on the main process (elsewhere none)."""
    return sinks(trainer.loggers)[0] if trainer.is_global_zero else []


def _normalisation(pl_module: LightningModule) -> tuple[float, float]:
    hparams = getattr(pl_module, "hparams", {})
    return float(hparams.get("mean", MEAN)), float(hparams.get("std", STD))


def _add_figure(outputs: list[Sink], tag: str, figure: Figure, step: int) -> None:
    image = render(figure)
    for sink in outputs:
        sink.add_image(tag, image, step)
