"""Look inside a network: each layer's output shape and parameters, and the conv feature maps.

    python -c "from mnist_lit.viz.introspect import layer_table; from mnist_lit.models.convnet import ConvNet; [print(r) for r in layer_table(ConvNet())]"

The figures (``plots.py``), the TensorBoard dashboards (``dashboards.py``) and the report use these.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mnist_lit.constants import IMAGE_SIZE


@dataclass(frozen=True)
class LayerRow:
    """One layer of a network as the reference derives it by hand.

    Args:
        name: Module path in the network, e.g. ``features.0``; ``input`` for the input row.
        layer: What the layer is, e.g. ``Conv2d(1, 32, 3x3, padding 1)``.
        output_shape: Shape of one image's output, without the batch dimension.
        params: Trainable parameters of the layer.

    """

    name: str
    layer: str
    output_shape: tuple[int, ...]
    params: int

    @property
    def shape(self) -> str:
        """The output shape as the reference writes it, e.g. ``32 x 14 x 14``."""
        return " x ".join(map(str, self.output_shape))


def layer_table(
    net: nn.Module, input_shape: tuple[int, ...] = (1, IMAGE_SIZE, IMAGE_SIZE)
) -> list[LayerRow]:
    """Run one zero image through ``net`` and list every leaf layer's output shape and parameters.

    Args:
        net: Any module taking ``(B, *input_shape)``; it is left in the mode it was in.
        input_shape: Shape of one input image.

    Returns:
        An ``input`` row, then one row per leaf module in the order they ran.

    """
    rows = [LayerRow("input", "image", tuple(input_shape), 0)]
    names = {module: name for name, module in net.named_modules()}

    def record(module: nn.Module, _inputs: object, output: Tensor) -> None:
        params = sum(p.numel() for p in module.parameters() if p.requires_grad)
        rows.append(LayerRow(names[module], _describe(module), tuple(output.shape[1:]), params))

    leaves = [m for m in net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(record) for m in leaves]
    was_training = net.training
    try:
        net.eval()  # batch norm would refuse a batch of one in training mode
        weight = next(net.parameters())  # the input takes its device and dtype (e.g. bf16-true)
        with torch.inference_mode():
            net(torch.zeros(1, *input_shape, device=weight.device, dtype=weight.dtype))
    finally:
        net.train(was_training)
        for handle in handles:
            handle.remove()
    return rows


def _describe(module: nn.Module) -> str:
    """Describe a layer in a few words: the class and its main sizes, e.g. ``Conv2d(1, 32, 3x3, padding 1)``."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        padding = module.padding if isinstance(module.padding, str) else module.padding[0]
        return f"Conv2d({module.in_channels}, {module.out_channels}, {kh}x{kw}, padding {padding})"
    if isinstance(module, nn.MaxPool2d):
        return f"MaxPool2d({module.kernel_size}x{module.kernel_size})"
    if isinstance(module, nn.Linear):
        return f"Linear({module.in_features}, {module.out_features})"
    if isinstance(module, nn.Dropout):
        return f"Dropout({module.p})"
    return type(module).__name__


def feature_maps(features: nn.Sequential, images: Tensor) -> list[Tensor]:
    """Return what each conv block of ``features`` responds to, at the block's full resolution.

    The map of a block is taken just before its max-pool (after the conv, and its batch norm if
    any) and passed through ReLU, as the block does after pooling: max-pool and ReLU commute, so
    these are the block's activations before they are halved in size.

    Args:
        features: The conv part of a network (``ConvNet.features``): blocks of conv, optional
            batch norm, max-pool and ReLU.
        images: ``(B, 1, 28, 28)`` normalised images on the network's device.

    Returns:
        One ``(B, C, H, W)`` tensor per block on the CPU, e.g. 32 x 28 x 28, 64 x 14 x 14 and
        128 x 7 x 7 for the reference network.

    """
    maps: list[Tensor] = []
    hooks = [
        previous.register_forward_hook(
            lambda _m, _i, output: maps.append(torch.relu(output).detach().float().cpu())
        )
        for previous, module in zip(features, list(features)[1:], strict=False)
        if isinstance(module, nn.MaxPool2d)
    ]
    was_training = features.training
    try:
        features.eval()
        with torch.inference_mode():
            features(images)
    finally:
        features.train(was_training)
        for hook in hooks:
            hook.remove()
    return maps
