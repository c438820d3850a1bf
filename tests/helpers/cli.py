"""``python -m tests.helpers.cli ARGS``: the CLI in a new process, accepting the tests' tiny MNIST.

The checksums of the tiny files come in ``TINY_MNIST_CHECKSUMS`` (JSON), as ``conftest.py`` makes
them; the processes that Lightning starts for DDP inherit it. ``start_cli`` starts one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mnist_lit.cli import main
from mnist_lit.data import mnist as fetch

ROOT = Path(__file__).resolve().parents[2]


def start_cli(checksums: dict[str, str], args: list[str]) -> subprocess.Popen[str]:
    """Start the CLI with ``args`` in a new process; its output is in ``stdout``."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.cli", *args],
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


if __name__ == "__main__":
    fetch.FILES.update(json.loads(os.environ["TINY_MNIST_CHECKSUMS"]))
    main()
