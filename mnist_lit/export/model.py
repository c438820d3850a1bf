"""What an exported file computes: ``predict``'s probabilities from pixels, as one ``nn.Module``.

    probabilities = Probabilities.from_classifier(model)(pixels)  # (N, 1, 28, 28) -> (N, 10)

The input is the image ``predict`` reads after its preprocessing and before its normalisation:
float32 grey levels in [0, 1] (``uint8 / 255``), a light digit on black as in MNIST. Inside: the
checkpoint's normalisation (``mean``/``std``), the network, the calibration's temperature and
the softmax, so a user of the file needs none of those numbers. It is the plain reading: no
test-time augmentation (``tta``), which is a setting of ``predict``, not stored in checkpoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from mnist_lit.constants import MEAN, STD
from mnist_lit.models.calibration import UNCALIBRATED

if TYPE_CHECKING:
    from mnist_lit.models.classifier import MNISTClassifier

INPUT_NAME = "pixels"
INPUT = (
    "float32 (N, 1, 28, 28), any N: grey levels in [0, 1] (uint8 pixels / 255), a light digit on "
    "black, centred as in MNIST (what predict's preprocessing makes of an image)"
)
OUTPUT_NAME = "probabilities"
OUTPUT = (
    "float32 (N, 10): the probability of each digit 0-9, summing to 1, temperature-scaled as "
    "predict's p0-p9 (without --model.tta)"
)


class Probabilities(nn.Module):
    """Map pixels ``(N, 1, 28, 28)`` in [0, 1] to the probabilities ``(N, 10)`` of digits 0-9.

    Args:
        net: Maps normalised images to logits (a ``ConvNet``), in eval mode.
        mean: Normalisation mean the network was trained with.
        std: Normalisation standard deviation it was trained with.
        temperature: The logits are divided by it before the softmax (1 = uncalibrated).

    >>> import torch
    >>> from mnist_lit.models.convnet import ConvNet
    >>> Probabilities(ConvNet().eval())(torch.zeros(3, 1, 28, 28)).shape
    torch.Size([3, 10])

    """

    def __init__(
        self, net: nn.Module, mean: float = MEAN, std: float = STD, temperature: float = 1.0
    ) -> None:
        super().__init__()
        self.net = net
        # Python floats, as predict uses them: the same scalar operations, the same rounding
        self.mean = float(mean)
        self.std = float(std)
        self.temperature = float(temperature)

    @classmethod
    def from_classifier(cls, model: MNISTClassifier) -> Probabilities:
        """Return the plain reading of a trained model: its network, normalisation, temperature."""
        temperature = (model.calibration or UNCALIBRATED).temperature
        hparams = model.hparams
        return cls(model.net, hparams["mean"], hparams["std"], temperature).eval()

    def forward(self, pixels: Tensor) -> Tensor:
        """Map pixels ``(N, 1, 28, 28)`` in [0, 1] to probabilities ``(N, 10)``."""
        x = (pixels - self.mean) / self.std  # as data.preprocess.normalize after its "/ 255"
        logits: Tensor = self.net(x)  # (N, 10)
        # as Calibration.probabilities, which predict_step applies
        return (logits.float() / self.temperature).softmax(dim=1)
