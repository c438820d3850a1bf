"""``torch.compile`` of the network for every stage (``compile``).

python -m mnist_lit fit --config configs/default.yaml --model.compile default
"""

from __future__ import annotations

from typing import Literal

from torch import nn

CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]


def compile_in_place(net: nn.Module, mode: CompileMode | None) -> bool:
    """Compile ``net`` in place with ``mode`` unless it is ``None`` or done; return whether it was now.

    In place (``nn.Module.compile``), the weights keep their names in checkpoints. The first
    batches of each kind wait while it compiles.
    """
    if mode is None or is_compiled(net):
        return False
    net.compile(mode=mode)
    return True


def is_compiled(net: nn.Module) -> bool:
    """Whether ``net.compile`` has been called (``nn.Module`` keeps the compiled call there)."""
    return getattr(net, "_compiled_call_impl", None) is not None
