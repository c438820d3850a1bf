"""What the processes of a distributed run (DDP) share: one helper, a no-op in a single process."""

from __future__ import annotations

from typing import Any

import torch


def gather(item: Any) -> list[Any]:
    """Return every process's ``item`` (by rank) on every process; ``[item]`` without DDP.

    ``item`` must be picklable; every process must call this at the same point.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [item]
    items: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(items, item)
    return items
