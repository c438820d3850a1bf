"""``python -m tests.helpers ARGS``: the CLI in a new process, accepting the tests' tiny MNIST.

The checksums of the tiny files come in ``TINY_MNIST_CHECKSUMS`` (JSON), as ``conftest.py`` makes
them; ``cli.start_cli`` starts one.
"""

import json
import os

from mnist_lit.cli import main
from mnist_lit.data import mnist as fetch

fetch.FILES.update(json.loads(os.environ["TINY_MNIST_CHECKSUMS"]))
main()
