"""Training: the Trainer and what it needs from the machine and the disk.

- ``trainer.py``: Lightning's ``Trainer`` with ``precision: auto`` and safe checkpoint files.
- ``precision.py``: which precision is fastest on the device a run lands on.
- ``device.py``: the CPU's model and flags, and the compute device as printed at start.
- ``checkpoints.py``: ``--ckpt_path best|last|PATH`` resolved and checked; models from files.
- ``checkpoint_io.py``: checkpoint files written atomically and read without running code.
- ``runs.py``: run folders (``lightning_logs/version_N/``): claimed once, resumed in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

if TYPE_CHECKING:
    from mnist_lit.training.trainer import Trainer

__all__ = ["Trainer"]

__getattr__ = lazy_attributes(__name__, {"Trainer": "trainer"})
