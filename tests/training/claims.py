"""What each process of the claiming test runs: a module light to import, as spawned processes
import the module of their target (the test module would import Lightning, ~5 s each)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
from pathlib import Path

from mnist_lit.training.runs import claim_run_dir


def claim(
    root: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    """Claim a run folder under ``root`` once every process is ready; report its name."""
    barrier.wait()  # all processes ask at the same moment
    out.put(claim_run_dir(Path(root)).name)
