"""An exponential moving average of the weights (EMA), as a Lightning callback.

    python -m mnist_lit fit --config configs/default.yaml --config configs/presets/best.yaml

Lightning's ``EMAWeightAveraging``, with a warm-up, an update that never waits for the GPU, and
two fixes that make it safe to switch on from a config:

- the decay grows with the number of updates ``n`` as ``min(decay, (1 + n) / (10 + n))``, so the
  average follows the weights closely at first and is useful from the first validation (with a
  plain 0.999 it would still be 80% the random initial weights after the 215 steps of one epoch at
  batch 256);
- the update is one fused ``lerp`` per device and dtype with the decay computed on the host
  (torch's ``AveragedModel`` reads its update count back from the device at every step);
- the average lives on the training device, in the weights' memory layout (Lightning's takes the
  model's device when the callback is set up, which is still the CPU on a GPU run, so every step
  would copy the weights to the host);
- ``test``/``validate``/``predict`` with a checkpoint keep its averaged weights. Lightning's callback,
  still holding the average after ``fit``, loaded the raw training weights back into the model, so
  ``fit --test true`` tested those instead.

While training, validation (and so the choice of the best checkpoint) uses the averaged weights;
checkpoints hold them as their ``state_dict`` (the raw ones under ``current_model_state``, for
resuming), and the model ends ``fit`` with them.
"""

from __future__ import annotations

import itertools
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from mnist_lit.errors import ConfigError


def warmed_up_decay(decay: float, updates: int) -> float:
    """Share of the old average kept at an update after ``updates`` earlier ones (0 at the first)."""
    return 0.0 if updates == 0 else min(decay, (1 + updates) / (10 + updates))


class EMAModel(AveragedModel):
    """``AveragedModel`` whose update is an EMA with warm-up that never waits for the device.

    Args:
        model: The model to average (deep-copied).
        decay: Largest share of the old average kept at an update (see ``warmed_up_decay``).
        device: Where to keep the average.
        use_buffers: Average the buffers (batch-norm statistics) too; else copy them.

    """

    def __init__(
        self, model: nn.Module, decay: float, device: torch.device, use_buffers: bool = True
    ) -> None:
        super().__init__(model, device=device, use_buffers=use_buffers)
        self.decay = decay
        self._updates: int | None = None  # host copy of n_averaged, read once (e.g. after a resume)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Move the average ``1 - decay`` of the way to ``model``'s weights (copy them at first)."""
        if self._updates is None:
            self._updates = int(self.n_averaged.item())
        keep = warmed_up_decay(self.decay, self._updates)
        groups: dict[tuple[torch.device, torch.dtype], tuple[list[Tensor], list[Tensor]]] = {}
        for average, current, averaged in self._pairs(model):
            if not averaged or not average.is_floating_point():  # e.g. batch norm's batch count
                average.copy_(current)
            else:
                pair = groups.setdefault((average.device, average.dtype), ([], []))
                pair[0].append(average)
                pair[1].append(current.to(average.device))
        for averages, currents in groups.values():
            torch._foreach_lerp_(averages, currents, 1.0 - keep)
        self.n_averaged += 1  # on the device, without reading it back
        self._updates += 1

    def _pairs(self, model: nn.Module) -> list[tuple[Tensor, Tensor, bool]]:
        """(average, current, whether it is averaged) for every parameter, then every buffer."""
        pairs = [
            (a.detach(), c.detach(), True)
            for a, c in zip(self.module.parameters(), model.parameters(), strict=True)
        ]
        return pairs + [
            (a.detach(), c.detach(), self.use_buffers)
            for a, c in zip(self.module.buffers(), model.buffers(), strict=True)
        ]

    def match_layout(self, model: nn.Module) -> None:
        """Store each averaged tensor in the memory layout of ``model``'s (e.g. channels-last)."""
        averages = itertools.chain(self.module.parameters(), self.module.buffers())
        currents = itertools.chain(model.parameters(), model.buffers())
        for average, current in zip(averages, currents, strict=True):
            if average.shape == current.shape and average.stride() != current.stride():
                average.data = torch.empty_like(current, device=average.device).copy_(average)

    def load_state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """Load as ``AveragedModel`` does; the update count is read again at the next update."""
        self._updates = None
        return super().load_state_dict(*args, **kwargs)


class EMA(EMAWeightAveraging):
    """Keep an exponential moving average of the weights (and batch-norm statistics).

    After each step the average moves ``1 - decay`` of the way towards the current weights, so it
    averages roughly the last ``1 / (1 - decay)`` steps (1,000 for 0.999). Until ``n`` updates make
    ``(1 + n) / (10 + n)`` larger than ``decay``, that smaller decay is used (a warm-up; for 0.999
    it lasts 8,990 updates).

    Args:
        decay: Largest weight of the old average at an update, in [0, 1).
        update_every_n_steps: Update the average every this many optimizer steps.
        update_starting_at_step: First optimizer step to update at (``null``: from the first).
        update_starting_at_epoch: Also update at the end of every epoch from this one.
        device: Where to keep the average; ``null`` = the training device.
        use_buffers: Average the buffers (batch-norm running statistics) as well.

    """

    def __init__(
        self,
        decay: float = 0.999,
        update_every_n_steps: int = 1,
        update_starting_at_step: int | None = None,
        update_starting_at_epoch: int | None = None,
        device: str | None = None,
        use_buffers: bool = True,
    ) -> None:
        if not 0.0 <= decay < 1.0:
            raise ConfigError(f"EMA decay must be in [0, 1), got {decay}")
        if update_every_n_steps < 1:
            raise ConfigError(f"update_every_n_steps must be 1 or more, got {update_every_n_steps}")
        super().__init__(
            device=device,
            use_buffers=use_buffers,
            decay=decay,
            update_every_n_steps=update_every_n_steps,
            update_starting_at_step=update_starting_at_step,
            update_starting_at_epoch=update_starting_at_epoch,
        )
        self.decay = decay

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Create the average when ``fit`` begins, on the training device unless ``device`` is set."""
        if stage == "fit":
            device = self._device if self._device is not None else trainer.strategy.root_device
            self._average_model = EMAModel(
                pl_module, self.decay, torch.device(device), self._use_buffers
            )

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Follow the memory layout the model trains in (set in its ``setup``, after ours)."""
        if isinstance(self._average_model, EMAModel):
            self._average_model.match_layout(pl_module)

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Restore the average and the raw weights when resuming ``fit``; nothing otherwise.

        Outside ``fit`` the checkpoint's ``state_dict``, the averaged weights, is what the model
        should use, and Lightning has already loaded it.
        """
        if trainer.state.fn == "fit":
            super().on_load_checkpoint(trainer, pl_module, checkpoint)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Let go of the average after ``fit`` (the model holds it by then)."""
        if stage == "fit":
            self._average_model = None
