"""The reference CNN for 28x28 digits, as a plain ``nn.Module`` (no Lightning in here).

    python -c "import torch; from mnist_lit.models.convnet import ConvNet; print(ConvNet()(torch.zeros(1, 1, 28, 28)).shape)"

Defaults reproduce the reference network exactly: three blocks of conv 3x3 (padding 1) -> max-pool
2x2 -> ReLU with 32, 64 and 128 channels, then linear 1152 -> 128 -> 64 -> 10 with no activation
between the linear layers (the reference has none; ``fc_activation`` adds ReLU).
"""

from __future__ import annotations

from torch import Tensor, nn

from mnist_lit.constants import IMAGE_SIZE, NUM_CLASSES
from mnist_lit.errors import ConfigError


class ConvNet(nn.Module):
    """Three conv blocks and three linear layers mapping ``(B, 1, 28, 28)`` images to 10 logits.

    Args:
        channels: Output channels of the three conv layers.
        hidden: Widths of the two hidden linear layers.
        batch_norm: Add BatchNorm after each conv (before pooling) and each hidden linear layer.
        dropout: Dropout probability before each linear layer; 0 disables it.
        fc_activation: Put a ReLU after each hidden linear layer (the reference has none).
        num_classes: Number of output logits.

    """

    def __init__(
        self,
        channels: tuple[int, int, int] = (32, 64, 128),
        hidden: tuple[int, int] = (128, 64),
        batch_norm: bool = False,
        dropout: float = 0.0,
        fc_activation: bool = False,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        for name, widths in (("channels", channels), ("hidden", hidden)):
            if any(width < 1 for width in widths):
                raise ConfigError(f"{name} must all be positive, got {list(widths)}")
        blocks: list[nn.Module] = []
        in_channels, size = 1, IMAGE_SIZE
        for out_channels in channels:
            blocks += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)]
            if batch_norm:
                blocks += [nn.BatchNorm2d(out_channels)]
            blocks += [nn.MaxPool2d(2), nn.ReLU()]
            in_channels, size = out_channels, size // 2  # 28 -> 14 -> 7 -> 3 (floor)
        self.features = nn.Sequential(*blocks)

        layers: list[nn.Module] = [nn.Flatten()]
        in_features = in_channels * size * size  # 128 * 3 * 3 = 1152 by default
        for width in hidden:
            if dropout:
                layers += [nn.Dropout(dropout)]
            layers += [nn.Linear(in_features, width)]
            if batch_norm:
                layers += [nn.BatchNorm1d(width)]
            if fc_activation:
                layers += [nn.ReLU()]
            in_features = width
        if dropout:
            layers += [nn.Dropout(dropout)]
        layers += [nn.Linear(in_features, num_classes)]
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Map normalised images to logits.

        Shapes with the defaults:
        ``(B, 1, 28, 28)`` -> conv1 ``(B, 32, 28, 28)`` -> pool ``(B, 32, 14, 14)``
        -> conv2 ``(B, 64, 14, 14)`` -> pool ``(B, 64, 7, 7)``
        -> conv3 ``(B, 128, 7, 7)`` -> pool ``(B, 128, 3, 3)``
        -> flatten ``(B, 1152)`` -> ``(B, 128)`` -> ``(B, 64)`` -> logits ``(B, 10)``.
        """
        out: Tensor = self.classifier(self.features(x))
        return out

    def conv_layers(self) -> list[nn.Conv2d]:
        """Return the conv layers in order, e.g. to hook their feature maps."""
        return [m for m in self.features if isinstance(m, nn.Conv2d)]
