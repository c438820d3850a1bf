"""``python -m mnist_lit.robustness --ckpt_path best``: the robustness suite."""

import sys

from mnist_lit.robustness.command import main

if __name__ == "__main__":
    sys.argv[0] = "python -m mnist_lit.robustness"
    main()
