"""A model's hyperparameters as a user reads them: without the entries Lightning adds for itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def public_hparams(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """Return the hyperparameters without the keys LightningCLI adds (``_instantiator``, ...).

    >>> public_hparams({"lr": 0.001, "_instantiator": "lightning.pytorch.cli.instantiate_module"})
    {'lr': 0.001}

    """
    return {key: value for key, value in hparams.items() if not key.startswith("_")}
