"""Attribution maps: which pixels of a digit made the network read it as it did (Captum).

    from mnist_lit.explain import Explainer
    explain = Explainer(net, mean, std)
    maps = explain(images, "integrated_gradients")            # (B, 28, 28), for the predicted digits
    why_not_1 = explain(images, "occlusion", target=1)        # "why not a 1?"

Three methods, each a map over the 28x28 input for one target digit:

- ``integrated_gradients``: the gradient averaged along the straight path from a black image to the
  digit, times the difference (Sundararajan et al., 2017). Signed, per pixel; zero where the digit
  is black, as the baseline is.
- ``occlusion``: how much the target's logit falls when a 4x4 patch is painted black, averaged over
  the patches covering each pixel (Zeiler and Fergus, 2014). Signed; about 170 forward passes.
- ``grad_cam``: the last conv layer's (rectified) channels weighted by their mean gradient,
  ReLU'd, upsampled from 7x7 to 28x28 (Selvaraju et al., 2017). Coarse, positive, one forward and
  one backward pass: cheap enough for the demo's every stroke.

Positive values speak for the target digit, negative ones against it. Images are given as the
network sees them, normalised with ``mean`` and ``std``; "black" is pixel value 0 normalised.
"""

from __future__ import annotations

import copy
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients, LayerGradCam, Occlusion
from torch import Tensor, nn

from mnist_lit.constants import IMAGE_SIZE, MEAN, NUM_CLASSES, STD
from mnist_lit.errors import ConfigError

Method = Literal["integrated_gradients", "occlusion", "grad_cam"]
"""The name of an attribution method."""

METHODS: tuple[Method, ...] = get_args(Method)
"""Every method, in the order the figures show them."""

METHOD_TITLES: dict[str, str] = {
    "integrated_gradients": "Integrated Gradients",
    "occlusion": "Occlusion (4x4)",
    "grad_cam": "Grad-CAM (last conv)",
}
"""How figures name each method."""


BATCH = 256
"""Images per forward pass of IG and Occlusion (on an AMD EPYC core, 512 was 1.4x slower per map)."""


class Explainer:
    """Compute attribution maps of a network for batches of digits.

    Args:
        net: Maps normalised ``(B, 1, 28, 28)`` images to ``(B, 10)`` logits; Grad-CAM needs a
            ``ConvNet`` (or any module with ``conv_layers()``). Put in eval mode, left on its device.
        mean: Normalisation mean the network was trained with.
        std: Normalisation standard deviation it was trained with.
        steps: Points on the path for Integrated Gradients (Gauss-Legendre; 32 keeps the
            completeness error of a trained ConvNet a few percent of the logit).
        window: Side of the square patch Occlusion paints black.
        stride: Step between Occlusion's patches.

    >>> from mnist_lit.models.convnet import ConvNet
    >>> maps = Explainer(ConvNet())(torch.zeros(2, 1, 28, 28), "grad_cam")
    >>> tuple(maps.shape)
    (2, 28, 28)

    """

    def __init__(
        self,
        net: nn.Module,
        mean: float = MEAN,
        std: float = STD,
        steps: int = 32,
        window: int = 4,
        stride: int = 2,
    ) -> None:
        if steps < 2:
            raise ConfigError(f"steps must be 2 or more, got {steps}")
        if not 1 <= stride <= window <= IMAGE_SIZE:
            raise ConfigError(
                f"need 1 <= stride <= window <= {IMAGE_SIZE}, got window {window}, stride {stride}"
            )
        if any(p.is_inference() for p in net.parameters()):
            # weights loaded in inference mode (as in Lightning's test) take no gradients: a copy
            with torch.inference_mode(False):
                net = copy.deepcopy(net)
        self.net = net.eval()
        self.mean, self.std = mean, std
        self.steps, self.window, self.stride = steps, window, stride
        self._cam: tuple[nn.Module, nn.Module] | None = None  # made on the first Grad-CAM

    @property
    def black(self) -> float:
        """A black pixel (0) as the network sees it: the baseline of IG and Occlusion."""
        return (0.0 - self.mean) / self.std

    def __call__(
        self,
        images: Tensor,
        method: Method = "integrated_gradients",
        target: int | Tensor | None = None,
    ) -> Tensor:
        """Return one map per image: ``(B, 28, 28)`` float on the CPU, positive for ``target``.

        Args:
            images: ``(B, 1, 28, 28)`` normalised images.
            method: One of ``METHODS``.
            target: The digit to explain: ``None`` for each image's predicted digit, one digit
                for all images, or a ``(B,)`` tensor of digits ("why not a 1?": ``target=1``).

        Raises:
            ConfigError: An unknown method, a target outside 0-9, or images of the wrong shape.

        """
        if method not in METHODS:
            raise ConfigError(f"unknown attribution method {method!r}: choose one of {METHODS}")
        if images.dim() != 4 or images.shape[1:] != (1, IMAGE_SIZE, IMAGE_SIZE):
            raise ConfigError(f"expected (B, 1, 28, 28) images, got {tuple(images.shape)}")
        device = next(self.net.parameters()).device
        # gradients also where the caller is in inference mode (Lightning's on_test_end)
        with torch.inference_mode(False), torch.enable_grad():
            inputs = images.detach().to(device, torch.float32).clone()  # not an inference tensor
            targets = self.targets(inputs, target)
            maps = self._attribute(inputs, method, targets)
        return maps.detach().float().reshape(-1, IMAGE_SIZE, IMAGE_SIZE).cpu()

    def _attribute(self, inputs: Tensor, method: Method, targets: Tensor) -> Tensor:
        if method == "integrated_gradients":
            ig = IntegratedGradients(self.net)
            maps: Tensor = ig.attribute(
                inputs, baselines=self.black, target=targets, n_steps=self.steps,
                internal_batch_size=BATCH,
            )  # fmt: skip
        elif method == "occlusion":
            occlusion = Occlusion(self.net)
            patches = (IMAGE_SIZE - self.window) // self.stride + 1
            maps = occlusion.attribute(
                inputs, sliding_window_shapes=(1, self.window, self.window),
                strides=(1, self.stride, self.stride), baselines=self.black, target=targets,
                perturbations_per_eval=max(1, min(patches * patches, BATCH // len(inputs))),
            )  # fmt: skip
        else:
            maps = self._grad_cam(inputs, targets)
        return maps

    def targets(self, images: Tensor, target: int | Tensor | None) -> Tensor:
        """Return the ``(B,)`` digits to explain: the predicted ones for ``None``."""
        if target is None:
            with torch.no_grad():
                read: Tensor = self.net(images).argmax(dim=1)
                return read
        targets = torch.as_tensor(target, device=images.device).long().expand(len(images))
        if bool(((targets < 0) | (targets >= NUM_CLASSES)).any()):
            raise ConfigError(f"target digits must be 0 to {NUM_CLASSES - 1}, got {target}")
        return targets.clone()

    def _grad_cam(self, images: Tensor, targets: Tensor) -> Tensor:
        if self._cam is None:
            self._cam = self._cam_view()
        net, layer = self._cam
        # (B, 1, 7, 7) on the last conv's rectified output, ReLU'd as in the paper -> (B, 1, 28, 28)
        coarse = LayerGradCam(net, layer).attribute(images, target=targets, relu_attributions=True)
        return F.interpolate(coarse, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear")

    def _cam_view(self) -> tuple[nn.Module, nn.Module]:
        """Return the network with a ReLU right after its last conv (and its BatchNorm), and that ReLU.

        Grad-CAM weighs activations that are positive, but a ConvNet block is conv -> pool -> ReLU,
        so the conv's own output is mostly negative and its map came out blank. The added ReLU
        changes no logit (ReLU and max-pool commute: relu(pool(relu(x))) == relu(pool(x))) and
        shares the weights; its output is the last conv's 7x7 activations as the next layer sees them.
        """
        features = getattr(self.net, "features", None)
        classifier = getattr(self.net, "classifier", None)
        if not isinstance(features, nn.Sequential) or not isinstance(classifier, nn.Module):
            raise ConfigError("Grad-CAM needs a ConvNet (features and classifier) to explain")
        layers = list(features)
        convs = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Conv2d)]
        if not convs:
            raise ConfigError("Grad-CAM needs a conv layer, and the network has none")
        end = convs[-1] + 1
        if end < len(layers) and isinstance(layers[end], nn.BatchNorm2d):
            end += 1
        relu = nn.ReLU()
        view = nn.Sequential(*layers[:end], relu, *layers[end:], classifier).eval()
        return view, relu
