"""``python -m mnist_lit.report --ckpt_path best``: the report of one checkpoint."""

import sys

from mnist_lit.report.command import main

if __name__ == "__main__":
    sys.argv[0] = "python -m mnist_lit.report"
    main()
