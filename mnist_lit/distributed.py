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


def close() -> None:
    """End this process's part of a distributed run, if it has one; a no-op without DDP.

    Lightning destroys only NCCL process groups at exit. A gloo group (DDP on CPU) left to the
    interpreter's shutdown can abort the process ("terminate called without an active
    exception", exit code -6) after a run that succeeded.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
