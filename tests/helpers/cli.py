"""The CLI as the tests drive it: in-process on tiny data, or in a new process (``python -m tests.helpers``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mnist_lit.cli import main
from tests.helpers.data import TinyMNIST

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root."""

CONFIG = str(ROOT / "configs" / "default.yaml")

PRESETS = ROOT / "configs" / "presets"


def cli_args(tiny: TinyMNIST, root: Path, *extra: str) -> list[str]:
    """Options for a run on ``tiny`` with its logs under ``root``; ``extra`` come last and win."""
    return [
        "--config", CONFIG,
        "--data.mirror", str(tiny.mirror),
        "--data.data_dir", str(root / "data"),
        "--data.val_size", "100",
        "--trainer.default_root_dir", str(root),
        "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
        "--trainer.log_every_n_steps", "5",
        "--dashboards.attributions", "false",  # seconds per test; test_dashboards.py turns them on
        *extra,
    ]  # fmt: skip


def run(subcommand: str, tiny: TinyMNIST, root: Path, *extra: str) -> Any:
    """Run ``python -m mnist_lit SUBCOMMAND`` in-process; return the LightningCLI object."""
    return main([subcommand, *cli_args(tiny, root, *extra)])


def expect_error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    """Run the CLI with ``args``, which must fail with exit code 2 and no traceback; return stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def start_cli(checksums: dict[str, str], args: list[str]) -> subprocess.Popen[str]:
    """Start the CLI with ``args`` in a new process that accepts the tiny MNIST files' ``checksums``.

    Its output (stdout and stderr) is in ``stdout``. The processes Lightning starts for DDP
    inherit the checksums through the environment.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers", *args],
        cwd=ROOT,  # so that tests.* imports
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TINY_MNIST_CHECKSUMS": json.dumps(checksums)},
    )


def run_cli(checksums: dict[str, str], args: list[str], timeout: float = 300) -> str:
    """Run the CLI with ``args`` in a new process; return its output (it must succeed)."""
    process = start_cli(checksums, args)
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def stall_at(marker: Path, **where: int | str) -> str:
    """The option that adds ``stall.Stall`` to a run: it writes ``marker`` and sleeps at ``where``."""
    return "--trainer.callbacks+=" + json.dumps(
        {"class_path": "tests.helpers.stall.Stall", "init_args": {"marker": str(marker), **where}}
    )


def wait_for(marker: Path, process: subprocess.Popen[str], seconds: float = 120) -> None:
    """Wait until ``process`` writes ``marker``; fail if it ends or takes too long."""
    deadline = time.monotonic() + seconds
    while not marker.exists():
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"the run ended before reaching the marker:\n{output}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the run did not reach the marker in time")
        time.sleep(0.1)
