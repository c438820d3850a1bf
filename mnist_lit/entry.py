"""The ``mnist-lit`` command (``python -m mnist_lit``): picks its subcommand before importing it.

``mnist-lit fit|validate|test|predict`` is LightningCLI (``cli.py``); ``mnist-lit presets`` lists
the packaged configs without importing PyTorch or Lightning (about 8 s on an AVX2 CPU); the other
commands (``EXTRA_COMMANDS``) run their module's ``main`` with the arguments after their name.
"""

from __future__ import annotations

import importlib
import sys

EXTRA_COMMANDS = {
    "export": "mnist_lit.export.command",
    "report": "mnist_lit.report.command",
    "robustness": "mnist_lit.robustness.command",
    "demo": "mnist_lit.demo.app",
    "data-scale": "mnist_lit.experiments.data_scale",
    "presets": "",
}
"""``mnist-lit COMMAND`` besides LightningCLI's, and the module whose ``main(args)`` runs it."""


def entry_point() -> None:
    """Console script ``mnist-lit`` (same as ``python -m mnist_lit``)."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "presets":
        from mnist_lit.presets import describe_presets

        print(describe_presets())
    elif command in EXTRA_COMMANDS:
        importlib.import_module(EXTRA_COMMANDS[command]).main(sys.argv[2:])
    else:
        from mnist_lit.cli import main

        main()
