"""The machine: the CPU's model and flags, and the compute device as printed at the start of a run."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch
from lightning.pytorch import Trainer

CPUINFO = Path("/proc/cpuinfo")


@functools.cache
def _first_cpu() -> dict[str, str]:
    """Return the fields of the first processor in ``/proc/cpuinfo`` (Linux; else empty), read once."""
    fields: dict[str, str] = {}
    if CPUINFO.is_file():
        for line in CPUINFO.read_text(errors="replace").splitlines():
            if not line.strip():
                break  # the end of the first processor's block
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model() -> str:
    """Return the CPU's model name (from ``/proc/cpuinfo`` on Linux), or the platform's guess."""
    name = _first_cpu().get("model name")
    return name or platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags() -> frozenset[str]:
    """Return the CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    return frozenset(_first_cpu().get("flags", "").split())


def describe_device(trainer: Trainer) -> str:
    """Return a few lines on the device ``trainer`` runs on: CUDA details or the CPU and threads."""
    device = trainer.strategy.root_device
    lines = [f"CUDA available: {torch.cuda.is_available()}"]
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        lines += [
            f"CUDA devices: {torch.cuda.device_count()} (using {trainer.num_devices})",
            f"Current CUDA device: {index} {torch.cuda.get_device_name(index)}",
            f"CUDA version: {torch.version.cuda}, cuDNN version: {cudnn}",
        ]
    elif device.type == "mps":
        lines.append("Device: Apple MPS")
    else:
        lines.append(f"Device: CPU {cpu_model()}, {torch.get_num_threads()} threads")
    if trainer.world_size > 1:
        lines.append(
            f"Processes: {trainer.world_size} ({trainer.num_devices} per machine x "
            f"{trainer.num_nodes} machines, strategy {type(trainer.strategy).__name__})"
        )
    choice = getattr(trainer, "precision_choice", None)  # set by mnist_lit.training.trainer.Trainer
    why = f" (auto: {choice.reason})" if choice is not None else ""
    lines.append(f"Precision: {trainer.precision}{why}")
    return "\n".join(lines)
