"""Package attributes imported on first use, so that a command loads only what it needs.

``python -m mnist_lit.demo``, for example, reads images with ``mnist_lit.data.preprocess``
without waiting for Lightning, which ``mnist_lit.data.MNISTDataModule`` would import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports ``package.<homes[name]>`` for ``name``.

    Args:
        package: The package's ``__name__``.
        homes: Each public name and the module of ``package`` that defines it.

    >>> getattr_ = lazy_attributes("mnist_lit", {"IMAGE_SIZE": "constants"})
    >>> getattr_("IMAGE_SIZE")
    28

    """

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
