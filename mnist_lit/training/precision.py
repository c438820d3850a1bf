"""``precision: auto``: the numeric precision that is fastest on the machine a run lands on.

    python -m mnist_lit fit --config configs/default.yaml --trainer.precision auto

bf16 autocast pays where the hardware multiplies bf16 natively: CUDA GPUs with bf16 (Ampere and
newer) and CPUs with AMX or AVX-512 BF16 (about 2x faster than fp32 for this network on a Xeon
with AMX). Elsewhere it is emulated, and on a CPU with AVX2 only it trains about 10x *slower* than
fp32. So the choice is made from what the device reports, never assumed.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

import torch

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU flags (as ``/proc/cpuinfo`` names them) of native bf16 arithmetic, in order of preference."""


class Choice(NamedTuple):
    """A precision for Lightning's Trainer and why it was chosen."""

    precision: str
    """E.g. ``bf16-mixed`` or ``32-true``."""
    reason: str
    """One line for the user, e.g. ``the CPU has AMX (amx_bf16)``."""


def choose_precision(
    device_type: str, flags: Collection[str] = (), cuda_bf16: bool = False
) -> Choice:
    """Pick the fastest safe precision for a device.

    Args:
        device_type: ``cpu``, ``cuda``, ``mps``, ...
        flags: The CPU's feature flags (``cpu_flags()``); used when ``device_type`` is ``cpu``.
        cuda_bf16: Whether the CUDA device supports bf16 (``torch.cuda.is_bf16_supported()``).

    Returns:
        ``bf16-mixed`` on CUDA GPUs with bf16 and on CPUs with ``amx_bf16`` or ``avx512_bf16``;
        ``16-mixed`` (with loss scaling) on older CUDA GPUs; ``32-true`` everywhere else.

    """
    if device_type == "cuda":
        if cuda_bf16:
            return Choice("bf16-mixed", "the GPU computes in bf16 natively")
        return Choice("16-mixed", "the GPU has no bf16; fp16 with loss scaling instead")
    if device_type == "cpu":
        for flag in BF16_CPU_FLAGS:
            if flag in flags:
                return Choice("bf16-mixed", f"the CPU computes in bf16 natively ({flag})")
        return Choice(
            "32-true",
            "the CPU has neither AMX nor AVX-512 BF16, where bf16 is emulated and about 10x slower",
        )
    return Choice("32-true", f"bf16 is not known to pay on {device_type}")


def device_type(accelerator: object) -> str:
    """Return the type of device ``Trainer(accelerator=...)`` will use (before it is built).

    Strings follow Lightning's meaning: ``auto`` takes a CUDA GPU, else Apple's MPS, else the CPU;
    ``gpu`` takes CUDA, else MPS. An ``Accelerator`` instance is named by its class.
    """
    if not isinstance(accelerator, str):
        name = type(accelerator).__name__.lower()
        return next((kind for kind in ("cuda", "mps", "cpu") if kind in name), name)
    accelerator = accelerator.lower()
    if accelerator in ("auto", "gpu"):
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    return accelerator
