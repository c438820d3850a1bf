"""How the Trainer writes and reads checkpoint files: atomically, and without running code.

Lightning's own writer replaces a checkpoint through a temporary file in the system's temp
folder, which is a copy (not an atomic rename) when that is another file system, so a crash
while saving can leave ``last.ckpt`` truncated. Here the file is written next to its target
and renamed (``files.atomic_write``). Loading uses torch's weights-only unpickler, so a
checkpoint cannot run code, and a corrupt or foreign file is named in a one-line error
(``checkpoints.load_checkpoint``).
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.types import _PATH

from mnist_lit.files import atomic_write
from mnist_lit.training.checkpoints import load_checkpoint


def _is_local(path: _PATH) -> bool:
    return "://" not in str(path)


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's ``TorchCheckpointIO`` with atomic local writes and weights-only reads.

    Remote paths (``s3://...``) are left to Lightning.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        """Write ``checkpoint`` to ``path`` all at once: a crash leaves the old file intact."""
        if not _is_local(path) or storage_options is not None:
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        with atomic_write(path, "wb") as file:
            torch.save(checkpoint, file)

    def load_checkpoint(
        self, path: _PATH, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Read a checkpoint with torch's weights-only unpickler (``weights_only`` is ignored).

        Raises:
            CheckpointError: The file is missing, unreadable, corrupt or holds code; the
                message names it. (Whether it is a Lightning checkpoint is checked by the CLI,
                which reads every ``--ckpt_path`` first.)

        """
        if not _is_local(path):
            return super().load_checkpoint(path, map_location, weights_only=True)
        return load_checkpoint(path, map_location=map_location or "cpu", lightning=False)
