"""Command-line entry point: ``python -m mnist_lit fit``, as the console script ``mnist-lit``."""

import sys

from mnist_lit.entry import entry_point

if __name__ == "__main__":
    sys.argv[0] = "python -m mnist_lit"  # shown in --help instead of "__main__.py"
    entry_point()
