"""What a resumed ``fit`` needs put right: the random generators and the schedule's length.

    python -m mnist_lit fit --config configs/default.yaml --ckpt_path last

(The optimizer state's memory layout is put right by ``layout.match_optimizer_state``.)
"""

from __future__ import annotations

from typing import Any

import torch

from mnist_lit.errors import ConfigError

RNG_KEY = "rng_states"
"""Checkpoint key of the random generators' state."""


def save_rng_state(checkpoint: dict[str, Any], device: torch.device) -> None:
    """Keep the random generators' state, for a resumed run to draw as the first would have.

    Dropout masks, for example, then come out as if the run had never stopped.
    """
    checkpoint[RNG_KEY] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and device.type == "cuda":
        checkpoint[RNG_KEY]["cuda"] = torch.cuda.get_rng_state(device)


def restore_rng_state(checkpoint: dict[str, Any], device: torch.device) -> None:
    """Restore the random generators' state kept by ``save_rng_state`` (if the file has one)."""
    state = checkpoint.get(RNG_KEY)
    if state is None:
        return
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def check_schedule_length(scheduler: object, steps: int) -> None:
    """Refuse a restored OneCycle schedule made for another number of steps than ``steps``.

    It keeps the length it was made with: a run resumed with another ``max_epochs`` would fail
    in PyTorch once it went past it, or stop short of annealing.
    """
    if isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR):
        total = scheduler.total_steps
        if total != steps:
            raise ConfigError(
                f"the checkpoint's OneCycle schedule lasts {total} steps but this run "
                f"would take {steps}; resume with the max_epochs, data and batch size it "
                "started with"
            )
