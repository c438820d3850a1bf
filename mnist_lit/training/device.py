"""Describe the compute device a Trainer uses, as the reference system prints it at start."""

from __future__ import annotations

import platform
from pathlib import Path

import torch
from lightning.pytorch import Trainer


def cpu_model() -> str:
    """Return the CPU's model name (from ``/proc/cpuinfo`` on Linux), or the platform's guess."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


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
