"""The LightningModule: cross-entropy and Adam around ``ConvNet``, with per-digit metrics.

    python -m mnist_lit fit --config configs/default.yaml --data.mirror ../shared/data/mnist

Logged keys: ``train/loss``, ``train/acc`` (the batch's, every ``trainer.log_every_n_steps``
steps), ``train/loss_epoch``, ``train/acc_epoch``, ``val/loss``, ``val/acc``,
``val/acc_digit_<d>``, ``val/acc_best`` (the best ``val/acc`` of the run so far, carried on by a
resumed ``fit``), ``test/loss``, ``test/acc``, ``test/acc_digit_<d>`` (per epoch), and
``test/acc_tta`` with test-time augmentation (``tta``). At the end
of ``test`` a per-digit table and the confusion matrix are printed as well; ``confusion[stage]``
keeps the last confusion matrix of ``val`` and ``test``, and the evaluation steps return their
logits, for the figures of ``dashboards.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, get_args

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.strategies import ParallelStrategy
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric, Metric, SumMetric
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassCalibrationError,
    MulticlassConfusionMatrix,
)

from mnist_lit.constants import IMAGE_SIZE, MEAN, NUM_CLASSES, STD
from mnist_lit.distributed import gather
from mnist_lit.errors import ConfigError
from mnist_lit.models.calibration import (
    CHECKPOINT_KEY,
    NOT_CALIBRATED_NOTE,
    UNCALIBRATED,
    Calibration,
    fit_calibration,
    read_calibration,
)
from mnist_lit.models.compiling import CompileMode, compile_in_place
from mnist_lit.models.convnet import ConvNet
from mnist_lit.models.graphs import StepGraph, why_not
from mnist_lit.models.layout import (
    default_layout,
    fast_cpu_layout,
    match_optimizer_state,
    training_layout,
)
from mnist_lit.models.resume import check_schedule_length, restore_rng_state, save_rng_state
from mnist_lit.models.tta import shifted_probabilities

Batch = Sequence[Any]  # (images, labels, ...): MNIST batches, or FolderBatch of users' images
STAGES = ("train", "val", "test")
BEST_KEY = "val_acc_best"
"""Checkpoint key of the best ``val/acc`` so far, so that a resumed ``fit`` goes on from it."""


class Readings(NamedTuple):
    """What ``predict_step`` returns for a batch of ``B`` images."""

    probabilities: Tensor
    """``(B, 10)``: calibrated; with ``tta``, the mean over the image and its shifted copies."""
    unsure: Tensor
    """``(B,)`` bool: decided on the plain calibrated probabilities, the score the threshold was
    fitted on (an average over shifted copies is less confident: thresholding it would flag more
    than the 1% of digits the threshold was chosen for)."""


class MNISTClassifier(LightningModule):
    """Classify digits with ``ConvNet``, trained with cross-entropy and Adam.

    Every argument is saved in the checkpoint, so ``MNISTClassifier.load_from_checkpoint(path)``
    rebuilds the model from the file alone.

    Args:
        channels: Output channels of the three conv layers.
        hidden: Widths of the two hidden linear layers.
        batch_norm: Add batch normalisation to every conv and hidden linear layer.
        dropout: Dropout probability before each linear layer (0 = off).
        fc_activation: ReLU between the linear layers (the reference network has none).
        lr: Adam learning rate.
        betas: Adam coefficients for the running averages of the gradient and its square.
        weight_decay: Weight decay: an L2 penalty added to the gradient with ``adam``, a
            shrinking of the weights apart from the gradient with ``adamw``.
        optimizer: ``adam`` (the reference's) or ``adamw`` (Adam with decoupled weight decay).
        label_smoothing: Train towards ``(1 - s)`` times the one-hot target plus ``s / 10`` on
            every digit (0 = plain one-hot targets). A regulariser that also makes short
            training more accurate (99.2% instead of 98.9% after 35,000 images, batch 32,
            OneCycle lr 3e-3). ``train/loss`` includes it; validation and test losses do not.
        non_digit_weight: Weight of the loss on generated non-digits (training images labelled
            ``-1``, added by ``data.non_digits``): the cross-entropy between the model's
            probabilities and equal ones for all ten digits (outlier exposure). No effect when
            the training images are all digits. ``train/loss`` includes it.
        schedule: Learning rate over training: ``constant`` (``lr`` throughout, the reference's)
            or ``onecycle`` (rises from ``lr / 25`` to ``lr`` over the first ``warmup`` of the
            steps, then anneals to almost 0 by the last step; per step, over
            ``trainer.max_epochs`` or ``max_steps``).
        warmup: Fraction of the steps spent rising to ``lr`` with ``schedule: onecycle``.
        fused: Adam's fused implementation (one kernel for all parameters; on CPU and CUDA).
            ``null`` leaves the choice to PyTorch.
        channels_last: Train with the weights (and so the conv activations) stored channels-last.
            ``null`` does so on a CPU, where oneDNN's convolutions train about 1.3x faster that
            way (AMD EPYC, batch 32-128), and not elsewhere. Results are the same up to rounding.
        mean: Normalisation mean of the inputs; the CLI sets it from ``data.mean``. Kept in the
            checkpoint so that every later use of the model normalises images the same way.
        std: Normalisation standard deviation; the CLI sets it from ``data.std``.
        tta: Test-time augmentation for ``test`` and ``predict``: also classify each image
            shifted by this many pixels up, down, left and right, and average the five
            probability vectors (0 = off). ``test`` logs it as ``test/acc_tta`` beside the
            plain ``test/acc``; ``predict`` reports the averaged probabilities. A setting of
            use, not of the trained model: it is not stored in checkpoints, so
            ``--model.tta`` applies to any checkpoint.
        compile: ``torch.compile`` the network with this mode (``default``, ``reduce-overhead``
            (CUDA graphs of its own), ``max-autotune``, ``max-autotune-no-cudagraphs``) for
            every stage; ``null`` runs it eagerly. The first batches of each kind (training,
            evaluation, a last smaller batch) wait while it compiles: tens of seconds, so it
            pays on long runs and large batches. Needs a C++ compiler on a CPU. Not stored in
            checkpoints (a setting of the machine, like ``tta``).
        cuda_graph: Capture the training step (forward, loss and backward) as a CUDA graph on
            the first batch and replay it for every batch of that size (``graphs.py``); the
            optimizer, metrics and logging run as usual. Saves the host's launch overhead,
            which bounds small networks on fast GPUs. Off, with a printed reason, where it does
            not apply: not a CUDA GPU, several processes, ``16-mixed`` precision,
            ``accumulate_grad_batches`` above 1, or a ``compile`` mode with CUDA graphs of its
            own. Not stored in checkpoints.

    """

    def __init__(
        self,
        channels: tuple[int, int, int] = (32, 64, 128),
        hidden: tuple[int, int] = (128, 64),
        batch_norm: bool = False,
        dropout: float = 0.0,
        fc_activation: bool = False,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        optimizer: Literal["adam", "adamw"] = "adam",
        label_smoothing: float = 0.0,
        non_digit_weight: float = 0.5,
        schedule: Literal["constant", "onecycle"] = "constant",
        warmup: float = 0.25,
        fused: bool | None = None,
        channels_last: bool | None = None,
        mean: float = MEAN,
        std: float = STD,
        tta: int = 0,
        compile: CompileMode | None = None,
        cuda_graph: bool = False,
    ) -> None:
        super().__init__()
        if lr <= 0:
            raise ConfigError(f"lr must be positive, got {lr}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if non_digit_weight < 0:
            raise ConfigError(f"non_digit_weight must be 0 or more, got {non_digit_weight}")
        if not 0.0 < warmup < 1.0:
            raise ConfigError(f"warmup must be a fraction between 0 and 1, got {warmup}")
        if not all(0.0 <= beta < 1.0 for beta in betas):
            raise ConfigError(f"betas must be in [0, 1), got {list(betas)}")
        if weight_decay < 0:
            raise ConfigError(f"weight_decay must be 0 or more, got {weight_decay}")
        if optimizer not in ("adam", "adamw"):
            raise ConfigError(f"optimizer must be adam or adamw, got {optimizer!r}")
        if not 0 <= tta < IMAGE_SIZE:
            raise ConfigError(f"tta must be a shift of 0 to {IMAGE_SIZE - 1} pixels, got {tta}")
        if compile is not None and compile not in get_args(CompileMode):
            modes = ", ".join(get_args(CompileMode))
            raise ConfigError(f"compile must be one of {modes} (or null), got {compile!r}")
        self.save_hyperparameters(ignore=["tta", "compile", "cuda_graph"])
        self.tta = tta
        self.compile_mode = compile
        self.cuda_graph = cuda_graph
        self._graph: StepGraph | None = None  # the captured training step, during fit
        self._replayed = False  # whether this training step ran through the graph
        self.net = ConvNet(channels, hidden, batch_norm, dropout, fc_activation, NUM_CLASSES)
        # lets the model summary show each layer's output size, as the reference derives by hand
        self.example_input_array = torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE)
        # Mean loss and overall accuracy per stage; per-digit accuracy and confusion matrix for val
        # and test. Keys are "<stage>_<metric>" ("train" alone would clash with nn.Module.train).
        metrics: dict[str, nn.Module] = {}
        # No input checks (labels are 0-9 by construction; checking them makes a GPU wait) and NaN
        # losses averaged in as they are, so that a diverging run shows NaN instead of a warning.
        for s in ("val", "test"):
            metrics[f"{s}_acc"] = MulticlassAccuracy(
                NUM_CLASSES, average="micro", validate_args=False
            )
        for s in STAGES:
            metrics[f"{s}_loss"] = MeanMetric(nan_strategy="disable")
        # Training accuracy as counts: training batches may hold non-digits (label -1), which
        # count for no accuracy; counting needs no masked indexing (no wait on a GPU).
        metrics["train_right"] = SumMetric(nan_strategy="disable")
        metrics["train_digits"] = SumMetric(nan_strategy="disable")
        for s in ("val", "test"):
            metrics[f"{s}_acc_digit"] = MulticlassAccuracy(
                NUM_CLASSES, average=None, validate_args=False
            )
            metrics[f"{s}_confmat"] = MulticlassConfusionMatrix(NUM_CLASSES, validate_args=False)
        metrics["val_acc_best"] = MaxMetric()  # the best val/acc of the fit so far
        metrics["test_acc_tta"] = MulticlassAccuracy(
            NUM_CLASSES, average="micro", validate_args=False
        )
        # The trust figures of test (calibration.py): accuracy on the readings not flagged unsure,
        # the share flagged, and the expected calibration error (15 bins) after and before
        # temperature scaling.
        metrics["test_sure"] = SumMetric(nan_strategy="disable")  # readings not flagged
        metrics["test_sure_right"] = SumMetric(nan_strategy="disable")  # of them, right
        metrics["test_unsure"] = MeanMetric(nan_strategy="disable")
        for name in ("test_ece", "test_ece_unscaled"):
            metrics[name] = MulticlassCalibrationError(NUM_CLASSES, n_bins=15, validate_args=False)
        self.metrics = nn.ModuleDict(metrics)
        # The confusion matrix and per-digit accuracy of the last validation and test epoch, for
        # figures, reports and the table printed after ``test`` (callbacks/summary.py).
        self.confusion: dict[str, Tensor] = {}
        self.digit_accuracy: dict[str, Tensor] = {}
        # The weights' layout while training (see ``setup``).
        self.train_memory_format = torch.contiguous_format
        # Temperature and unsure threshold (calibration.py), fitted at each validation of fit and
        # saved in the checkpoints; None for a checkpoint written before they existed.
        self.calibration: Calibration | None = None
        self._val_outputs: list[tuple[Tensor, Tensor]] = []  # (logits, labels) to fit it on

    def forward(self, x: Tensor) -> Tensor:
        """Map normalised images ``(B, 1, 28, 28)`` to logits ``(B, 10)``."""
        logits: Tensor = self.net(x)
        return logits

    def _shared_step(
        self, batch: Batch, stage: str, batch_idx: int = 0
    ) -> tuple[Tensor, Tensor] | None:
        """Return the batch's loss and logits ``(B, 10)``, after updating the stage's metrics.

        The metrics accumulate on the device and are logged once per epoch, so that no step
        waits for a value to reach the host. During training the batch's loss and accuracy are
        also logged, for the loss curve and the progress bar, but only on the steps where they
        are shown (see ``_shows_this_step``): each ``self.log`` costs about a millisecond of
        Python and, on a GPU, a wait for the device.
        """
        images, labels = batch[0], batch[1]
        if len(labels) == 0:  # every file of a batch of a user's folder failed to load
            return None
        if stage == "train":
            loss, losses, logits = self._training_loss(images, labels)
        else:
            logits = self(images)
            losses = F.cross_entropy(logits, labels, reduction="none")
            loss = losses.mean()
        # Per image, unweighted: MeanMetric ignores weights when its NaN checks are disabled.
        self._metric(f"{stage}_loss").update(losses.detach())
        if stage == "train":
            digits = labels >= 0
            right = ((logits.detach().argmax(dim=1) == labels) & digits).sum()
            self._metric("train_right").update(right)
            self._metric("train_digits").update(digits.sum())
            if self._shows_this_step(batch_idx):
                batch_acc = right / digits.sum().clamp(min=1)
                # a copy: a replayed graph overwrites its loss tensor at the next batch. Not
                # prog_bar=True, which Lightning reads back after every step: the bar reads
                # them when it redraws (progress.py)
                values = {"train/loss": loss.detach().clone(), "train/acc": batch_acc}
                self.log_dict(values)
            return loss, logits
        self._metric(f"{stage}_acc").update(logits.detach(), labels)
        self._metric(f"{stage}_acc_digit").update(logits, labels)
        self._metric(f"{stage}_confmat").update(logits, labels)
        return loss, logits

    def _training_loss(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Return the loss, per-image losses and logits, replaying the CUDA graph if there is one.

        A replay has also run the backward pass (see ``backward``); a batch the graph does not
        fit (another size) takes the eager path.
        """
        graph = self._graph
        self._replayed = graph is not None and graph.fits(images)
        if graph is not None and self._replayed:
            loss, losses, logits = graph(images, labels)
            return loss, losses, logits
        return self._loss(images, labels)

    def _loss(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Return the training loss, per-image losses and logits.

        A digit's loss is the cross-entropy (label smoothing included); a generated non-digit's
        (label ``-1``) is ``non_digit_weight`` times the cross-entropy to equal probabilities.
        Chosen per image with ``where``, not by masking, so that no step waits for the device.
        """
        logits = self(images)
        smoothing = self.hparams.get("label_smoothing", 0.0)
        weight = self.hparams.get("non_digit_weight", 0.5)
        log_p = F.log_softmax(logits, dim=1)
        # cross-entropy to equal probabilities: also the label-smoothing term of a digit's loss
        flat = -log_p.mean(dim=1)
        picked = -log_p.gather(1, labels.clamp(min=0).unsqueeze(1)).squeeze(1)
        digit_losses = (1 - smoothing) * picked + smoothing * flat
        losses = torch.where(labels >= 0, digit_losses, weight * flat)
        return losses.mean(), losses, logits

    def backward(self, loss: Tensor, *args: Any, **kwargs: Any) -> None:
        """Backpropagate ``loss``, unless a replay of the CUDA graph already has."""
        if not self._replayed:
            super().backward(loss, *args, **kwargs)

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Any) -> None:
        """Clear the gradients before the backward pass (Lightning calls this after ``training_step``).

        With a captured CUDA graph the gradients are the graph's own tensors: after a replay
        they hold this step's gradients and are kept; before an eager step (a batch of another
        size) they are zeroed in place, as setting them to ``None`` would cut them off from
        the graph.
        """
        if self._graph is None or not self._graph.captured:
            optimizer.zero_grad()
        elif not self._replayed:
            optimizer.zero_grad(set_to_none=False)

    def on_validation_model_zero_grad(self) -> None:
        """Free the gradients before validation, unless a CUDA graph owns them.

        The graph writes its gradient tensors at each replay; set to ``None``, they would be
        cut off from it and the optimizer would skip every weight from then on.
        """
        if self._graph is None or not self._graph.captured:
            super().on_validation_model_zero_grad()

    def _shows_this_step(self, batch_idx: int) -> bool:
        """Whether this training step's values reach the logger or the progress bar.

        The logger writes every ``trainer.log_every_n_steps`` optimizer steps; the progress bar
        redraws every ``refresh_rate`` batches of the epoch and after its last. Values logged
        on other steps would be thrown away.
        """
        trainer = self._trainer
        if trainer is None:  # called outside a Trainer (tests)
            return True
        every: int = trainer.log_every_n_steps  # type: ignore[attr-defined]
        if every > 0 and (trainer.global_step + 1) % every == 0:
            return True
        refresh: int = getattr(trainer.progress_bar_callback, "refresh_rate", 0)
        last = batch_idx + 1 == trainer.num_training_batches
        return refresh > 0 and ((batch_idx + 1) % refresh == 0 or last)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """One optimisation step on a batch; returns the cross-entropy loss."""
        out = self._shared_step(batch, "train", batch_idx)
        assert out is not None, "empty training batch"
        return out[0]

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        """Accumulate validation loss and metrics; return the logits (for callbacks' figures).

        During ``fit`` the logits are kept too, to fit the calibration on at the epoch's end.
        """
        out = self._shared_step(batch, "val")
        if out is None:
            return None
        if self._fits_calibration():
            # kept on the device (no wait per batch), brought to the CPU once at the epoch's end
            self._val_outputs.append((out[1].detach().float(), batch[1].detach()))
        return out[1].detach()

    def _fits_calibration(self) -> bool:
        trainer = self._trainer
        return trainer is not None and trainer.state.fn == "fit" and not trainer.sanity_checking

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        """Accumulate test loss and metrics; return the logits (for callbacks' figures).

        With ``tta`` the test-time-augmented accuracy is accumulated as well.
        """
        out = self._shared_step(batch, "test")
        if out is None:
            return None
        labels = batch[1]
        plain, reading = self._read(batch[0], out[1].detach())  # as predict reads them
        if self.tta:
            self._metric("test_acc_tta").update(reading.probabilities, labels)
        if self.calibration is not None:
            sure = ~reading.unsure
            self._metric("test_unsure").update(reading.unsure.float())
            # counts, not a masked accuracy: a batch with no sure reading needs no special case
            self._metric("test_sure").update(sure.sum())
            right = reading.probabilities.argmax(dim=1) == labels
            self._metric("test_sure_right").update((right & sure).sum())
            self._metric("test_ece").update(plain, labels)
            self._metric("test_ece_unscaled").update(out[1].detach().softmax(dim=1), labels)
        return out[1].detach()

    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> Readings:
        """Return the class probabilities and unsure flags of a batch's images (``B`` may be 0).

        Calibrated (``calibration.py``) when the checkpoint has a temperature; with ``tta``, the
        probabilities are the mean over the image and its four shifted copies (``Readings``).
        """
        return self._read(batch[0], self(batch[0]))[1]

    def _read(self, images: Tensor, logits: Tensor) -> tuple[Tensor, Readings]:
        """Return the plain calibrated probabilities of ``logits`` and the ``Readings`` of ``images``."""
        calibration = self.calibration or UNCALIBRATED
        plain: Tensor = calibration.probabilities(logits)
        probabilities = plain
        if self.tta and len(plain):
            probabilities = self._shifted_probabilities(images, plain)
        return plain, Readings(probabilities, calibration.unsure(plain))

    def _shifted_probabilities(self, images: Tensor, plain: Tensor) -> Tensor:
        """Average ``plain`` with the probabilities of copies shifted ``tta`` pixels (``tta.py``).

        The pixels moved in are black (the normalised value of 0).
        """
        black = -self.hparams["mean"] / self.hparams["std"]
        temperature = (self.calibration or UNCALIBRATED).temperature
        return shifted_probabilities(
            lambda x: self(x) / temperature, images, plain, self.tta, black
        )

    def setup(self, stage: str) -> None:
        """Start a new ``val/acc_best``; store the weights channels-last where ``channels_last`` says so.

        This runs before the model is moved to its device and wrapped for DDP, whose gradient
        buckets take the weights' layout at that moment (a later change costs speed and a
        warning at every step). The optimizer is made afterwards; state restored from a
        checkpoint follows the layout in ``on_train_start``.
        """
        if stage != "fit":
            return
        self._metric("val_acc_best").reset()  # a new fit; a resumed one restores its best later
        device_type = self.trainer.strategy.root_device.type
        self.train_memory_format = training_layout(self.hparams.get("channels_last"), device_type)
        self.to(memory_format=self.train_memory_format)

    def on_fit_start(self) -> None:
        """Compile the network (``compile``); after the model summary, which would compile it too."""
        self._compile()

    def on_validation_start(self) -> None:
        """Compile the network (``compile``) if ``validate`` is the first to run it."""
        self._compile()

    def _compile(self) -> None:
        if compile_in_place(self.net, self.compile_mode):
            self.print(
                f"compile: torch.compile(mode={self.compile_mode!r}) of the network; the first "
                "batch of each kind waits while it compiles"
            )

    def on_train_start(self) -> None:
        """Check a resumed schedule (``resume.py``); lay out restored optimizer state (``layout.py``); capture the CUDA graph."""
        for config in self.trainer.lr_scheduler_configs:
            check_schedule_length(config.scheduler, self._schedule_steps())
        for optimizer in self.trainer.optimizers:
            match_optimizer_state(optimizer)
        self._graph = None
        if self.cuda_graph:
            trainer = self.trainer
            reason = why_not(
                trainer.strategy.root_device,
                trainer.world_size,
                str(trainer.precision),
                trainer.accumulate_grad_batches,
                self.compile_mode,
                wrapped=isinstance(trainer.strategy, ParallelStrategy),
            )
            if reason is None:
                self._graph = StepGraph(self._loss, self.net)
                self.print(
                    "cuda_graph: the training step is captured at the first batch and replayed"
                )
            else:
                self.print(f"cuda_graph: off, as {reason}")

    def on_train_end(self) -> None:
        """Release the CUDA graph and the gradient tensors it holds."""
        if self._graph is not None:
            self._graph = None
            self._replayed = False
            self.net.zero_grad(set_to_none=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the calibration (``calibration.py``) and the random generators' state (``resume.py``)."""
        if self.calibration is not None:
            checkpoint[CHECKPOINT_KEY] = self.calibration.to_dict()
        best = self._metric("val_acc_best")
        if best.update_called:
            checkpoint[BEST_KEY] = float(best.compute())
        save_rng_state(checkpoint, self.device)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the calibration; restore ``val/acc_best`` and the random generators when training resumes.

        A checkpoint without calibration (written before it existed) is used unscaled, with one
        line saying so, except by ``fit``, which fits it at its next validation.
        """
        self.calibration = read_calibration(checkpoint)
        fitting = self._trainer is not None and self.trainer.state.fn == "fit"
        if self.calibration is None and not fitting:
            note = f"Note: {NOT_CALIBRATED_NOTE}"
            self.print(note) if self._trainer is not None else rank_zero_warn(note)
        if fitting:
            restore_rng_state(checkpoint, self.device)
            best = _best_val_acc(checkpoint)
            if best is not None:
                self._metric("val_acc_best").update(torch.tensor(best, device=self.device))

    def on_test_start(self) -> None:
        """Use the faster memory layout for evaluation on a CPU (see ``fast_cpu_layout``); compile."""
        self.confusion.pop("test", None)  # no table of an earlier test if this one has no images
        self.digit_accuracy.pop("test", None)
        fast_cpu_layout(self)
        self._compile()

    def on_predict_start(self) -> None:
        """Use the faster memory layout for prediction on a CPU (see ``fast_cpu_layout``); compile."""
        fast_cpu_layout(self)
        self._compile()

    def on_test_end(self) -> None:
        """Return to the default memory layout (a later ``fit`` trains as configured)."""
        default_layout(self)

    def on_predict_end(self) -> None:
        """Return to the default memory layout (a later ``fit`` trains as configured)."""
        default_layout(self)

    def on_train_epoch_end(self) -> None:
        """Log the epoch's mean training loss and accuracy."""
        loss_mean = self._metric("train_loss")
        right, digits = self._metric("train_right"), self._metric("train_digits")
        accuracy = right.compute() / digits.compute().clamp(min=1)
        self.log_dict({"train/loss_epoch": loss_mean.compute(), "train/acc_epoch": accuracy})
        for metric in (loss_mean, right, digits):
            metric.reset()

    def on_validation_epoch_end(self) -> None:
        """Log the validation loss, accuracy and per-digit accuracy; fit the calibration (``fit``).

        The calibration is fitted on this validation's logits, every process on all of them, so
        that each checkpoint saved after it carries the calibration of its own weights.
        """
        self._log_epoch("val")
        self._log_digits("val")
        if self._fits_calibration():
            mine = (
                (torch.cat([o[0] for o in self._val_outputs]).cpu(),
                 torch.cat([o[1] for o in self._val_outputs]).cpu())
                if self._val_outputs
                else None
            )  # fmt: skip
            self._val_outputs = []
            outputs = [part for part in gather(mine) if part is not None]
            if outputs:
                logits, labels = (torch.cat(t) for t in zip(*outputs, strict=True))
                self.calibration = fit_calibration(logits, labels)
                self.log("val/temperature", self.calibration.temperature)

    def on_fit_end(self) -> None:
        """Return to the default memory layout; say what calibration the last validation fitted."""
        default_layout(self)
        if self.calibration is not None and self.calibration.images:
            self.print(f"Calibration (last validation): {self.calibration.describe()}")

    def on_test_epoch_end(self) -> None:
        """Log the test metrics; keep the per-digit accuracy and the confusion matrix (``TestSummary`` prints them).

        With ``tta`` also log ``test/acc_tta`` and print it beside the plain accuracy.
        """
        if self.tta:
            accuracy = self._metric("test_acc_tta")
            if self._updated_anywhere(accuracy):
                tta = accuracy.compute()
                self.log("test/acc_tta", tta)
                self.print(f"Test-time augmentation (tta {self.tta}): accuracy {tta:.2%}")
            accuracy.reset()
        self._log_epoch("test")
        self._log_digits("test")
        self._log_trust()

    def _log_trust(self) -> None:
        """Log and print the share left unsure, the accuracy on the rest and the calibration error."""
        names = ("test_unsure", "test_sure", "test_sure_right", "test_ece", "test_ece_unscaled")
        metrics = [self._metric(name) for name in names]
        if self.calibration is None or not self._updated_anywhere(metrics[0]):
            for metric in metrics:
                metric.reset()
            return
        unsure, sure, sure_right, ece, ece_unscaled = (metric.compute() for metric in metrics)
        values = {"test/unsure": unsure, "test/ece": ece, "test/ece_unscaled": ece_unscaled}
        if sure > 0:  # not every image unsure
            values["test/acc_sure"] = sure_right / sure
        self.log_dict(values)
        sure = (
            f"; accuracy on the rest {values['test/acc_sure']:.2%}"
            if "test/acc_sure" in values
            else ""
        )
        self.print(
            f"Unsure: {unsure:.2%} of the test images flagged{sure}. Calibration error (ECE, 15 "
            f"bins): {ece:.2%}, {ece_unscaled:.2%} before temperature scaling "
            f"(temperature {self.calibration.temperature:.3f})"
        )
        for metric in metrics:
            metric.reset()

    def _metric(self, name: str) -> Metric:
        metric = self.metrics[name]
        assert isinstance(metric, Metric)
        return metric

    def _log_epoch(self, stage: str) -> None:
        """Log ``<stage>/loss`` and ``<stage>/acc`` (synced across processes) and reset them."""
        loss_mean, accuracy = self._metric(f"{stage}_loss"), self._metric(f"{stage}_acc")
        if not self._updated_anywhere(loss_mean):  # no batch had an image (bad files only)
            return
        values = {f"{stage}/loss": loss_mean.compute(), f"{stage}/acc": accuracy.compute()}
        self.log_dict(values, prog_bar=True)
        if stage == "val" and self._trainer is not None and self.trainer.state.fn == "fit":
            best = self._metric("val_acc_best")
            if not self.trainer.sanity_checking:  # the check's few batches say nothing
                best.update(values["val/acc"])
            if best.update_called:
                self.log("val/acc_best", best.compute())
        loss_mean.reset()
        accuracy.reset()

    def _updated_anywhere(self, metric: Metric) -> bool:
        """Whether ``metric`` saw a batch in any process (the same answer on every process).

        Computing a metric that no process updated fails, and under DDP one process computing
        (and so waiting for the others) while another does not would hang.
        """
        updates = torch.tensor(float(metric.update_count), device=self.device)
        if self._trainer is not None and self.trainer.world_size > 1:
            updates = self.trainer.strategy.reduce(updates, reduce_op="sum")
        return bool(updates.item() > 0)

    def _log_digits(self, stage: str) -> tuple[Tensor, Tensor]:
        acc_digit, confmat_metric = (
            self._metric(f"{stage}_acc_digit"),
            self._metric(f"{stage}_confmat"),
        )
        per_digit = acc_digit.compute()  # (10,), synced across processes
        confmat = confmat_metric.compute()  # (10, 10) counts, rows = true digit
        acc_digit.reset()
        confmat_metric.reset()
        self.confusion[stage] = confmat.detach().cpu()
        self.digit_accuracy[stage] = per_digit.detach().cpu()
        self.log_dict({f"{stage}/acc_digit_{d}": acc for d, acc in enumerate(per_digit)})
        return per_digit, confmat

    def _fused(self) -> bool | None:
        """``fused``, unless Lightning would refuse to clip the gradients of a fused optimizer.

        Under mixed precision Lightning cannot clip what a fused optimizer unscales inside its
        step (it raises at the first step), so gradient clipping wins, with a printed note.
        """
        fused: bool | None = self.hparams["fused"]
        trainer = self._trainer
        if not fused or trainer is None or not trainer.gradient_clip_val:
            return fused
        if "mixed" in str(trainer.precision):
            self.print(
                f"fused: off, as Lightning cannot clip the gradients of a fused optimizer under "
                f"{trainer.precision} (gradient_clip_val {trainer.gradient_clip_val})"
            )
            return False
        return fused

    def _schedule_steps(self) -> int:
        """Optimizer steps the schedule spans: the whole of training (at least 2)."""
        steps = self.trainer.estimated_stepping_batches
        if not math.isfinite(steps):
            raise ConfigError(
                f"schedule {self.hparams['schedule']} needs to know how long training lasts: "
                "set trainer.max_epochs or trainer.max_steps"
            )
        return max(int(steps), 2)

    def configure_optimizers(self) -> Any:
        """Adam or AdamW over all parameters, the learning-rate schedule stepped after every batch."""
        hp = self.hparams
        kind = torch.optim.AdamW if hp.get("optimizer") == "adamw" else torch.optim.Adam
        optimizer = kind(
            self.parameters(),
            lr=hp["lr"],
            betas=hp["betas"],
            weight_decay=hp["weight_decay"],
            fused=self._fused(),
        )
        if hp["schedule"] == "constant":
            return optimizer
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=hp["lr"],
            total_steps=self._schedule_steps(),
            pct_start=hp["warmup"],
            cycle_momentum=False,  # keep Adam's betas as configured
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def _best_val_acc(checkpoint: dict[str, Any]) -> float | None:
    """Return the best ``val/acc`` a checkpoint's run reached, if it says.

    Checkpoints written before the model logged ``val/acc_best`` kept it in the state of the
    ``Dashboards`` callback.
    """
    if BEST_KEY in checkpoint:
        return float(checkpoint[BEST_KEY])
    for name, state in checkpoint.get("callbacks", {}).items():
        if name.startswith("Dashboards") and isinstance(state, dict):
            value = state.get("best_val_acc")
            if value is not None:
                return float(value)
    return None
