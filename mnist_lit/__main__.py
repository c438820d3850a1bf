"""Command-line entry point: ``python -m mnist_lit fit --config configs/default.yaml``."""

import sys

from mnist_lit.cli import main

if __name__ == "__main__":
    sys.argv[0] = "python -m mnist_lit"  # shown in --help instead of "__main__.py"
    main()
