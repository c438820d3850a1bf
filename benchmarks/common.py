"""Helpers shared by the benchmark scripts: the machine's description, MNIST, timed subprocesses."""

from __future__ import annotations

import datetime
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from mnist_lit.data.mnist import fetch_mnist
from mnist_lit.training.device import cpu_flags, cpu_model
from mnist_lit.training.precision import BF16_CPU_FLAGS

ROOT = Path(__file__).resolve().parents[1]


def header(title: str) -> str:
    """One line naming the benchmark, the CPU (and whether it has native bf16), torch and the date."""
    flags = cpu_flags()
    bf16 = [flag for flag in BF16_CPU_FLAGS if flag in flags]
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "?"
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (
        f"{title}\nCPU: {cpu_model()} ({simd}, native bf16: {', '.join(bf16) or 'none'}), "
        f"{torch.get_num_threads()} threads{gpu}; torch {torch.__version__}; "
        f"{datetime.date.today().isoformat()}"
    )


def prepare_mnist(data_dir: Path, mirror: str) -> Path:
    """Fetch and verify MNIST into ``data_dir`` (uncompressed, as torchvision's ``MNIST`` reads it)."""
    fetch_mnist(str(data_dir), mirror=mirror, download=mirror.startswith("http"))
    return data_dir


@dataclass
class Finished:
    """A subprocess's output lines, when each arrived (seconds after start), and its wall time."""

    lines: list[str]
    times: list[float]
    wall: float


def run_process(command: list[str]) -> Finished:
    """Run ``command`` from the repository root, timing each output line; stop on failure."""
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    lines, times = [], []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        times.append(time.perf_counter() - start)
    process.wait()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        tail = "\n".join(lines[-30:])
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{tail}")
    return Finished(lines, times, wall)
