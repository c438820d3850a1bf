"""``python -m mnist_lit.export --ckpt_path best --format onnx``: a checkpoint as one file."""

import sys

from mnist_lit.export.command import main

if __name__ == "__main__":
    sys.argv[0] = "python -m mnist_lit.export"
    main()
