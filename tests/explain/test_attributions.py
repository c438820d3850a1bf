"""``Explainer``: a map per image for the digit read or any other, from each method."""

from __future__ import annotations

import pytest
import torch

from mnist_lit.errors import ConfigError
from mnist_lit.explain import METHODS, Explainer, choose_examples
from mnist_lit.explain.attributions import Method
from mnist_lit.models.convnet import ConvNet


@pytest.fixture
def explain() -> Explainer:
    torch.manual_seed(0)
    return Explainer(ConvNet())


def corner_digits(count: int, explain: Explainer) -> torch.Tensor:
    """Images lit only in their top-left 10x10 corner, the rest black, normalised."""
    images = torch.full((count, 1, 28, 28), explain.black)
    images[:, :, 2:10, 2:10] = torch.rand(count, 1, 8, 8) * 3
    return images


@pytest.mark.parametrize("method", METHODS)
def test_one_map_per_image_for_the_digit_read_or_any_other(
    explain: Explainer, method: Method
) -> None:
    images = corner_digits(3, explain)
    maps = explain(images, method)
    assert maps.shape == (3, 28, 28) and maps.dtype == torch.float32 and maps.isfinite().all()
    read = explain.net(images).argmax(dim=1)
    torch.testing.assert_close(maps, explain(images, method, read))  # default: the digit read
    other = (read + 1) % 10
    assert not torch.allclose(maps, explain(images, method, other))  # "why not a 1?" differs
    if method == "grad_cam":
        assert (maps >= 0).all()  # ReLU'd, as in the paper
    else:  # input methods: nothing where no patch or path changes a pixel, far from the digit
        assert maps[:, 16:, 16:].abs().max() < 1e-5 * maps.abs().max()  # rounding only


def test_integrated_gradients_add_up_to_the_change_in_the_logit(explain: Explainer) -> None:
    """Completeness (Sundararajan et al.): the map sums to logit(image) - logit(black)."""
    images = corner_digits(4, explain)
    digits = torch.tensor([0, 3, 5, 9])
    maps = explain(images, "integrated_gradients", digits)
    with torch.no_grad():
        logits = explain.net(images).gather(1, digits[:, None])[:, 0]
        black = explain.net(torch.full_like(images, explain.black)).gather(1, digits[:, None])[:, 0]
    torch.testing.assert_close(maps.sum(dim=(1, 2)), logits - black, rtol=0.05, atol=2e-3)


def test_grad_cam_works_with_batch_norm() -> None:
    torch.manual_seed(0)
    net = ConvNet(batch_norm=True).eval()
    explain = Explainer(net)
    images = corner_digits(2, explain)
    before = net(images)
    assert explain(images, "grad_cam").shape == (2, 28, 28)
    torch.testing.assert_close(net(images), before)  # the network is left as it was


def test_bad_requests_are_clear_errors(explain: Explainer) -> None:
    images = corner_digits(1, explain)
    with pytest.raises(ConfigError, match="unknown attribution method 'saliency'"):
        explain(images, "saliency")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="target digits must be 0 to 9"):
        explain(images, "grad_cam", 10)
    with pytest.raises(ConfigError, match=r"expected \(B, 1, 28, 28\) images, got \(28, 28\)"):
        explain(images[0, 0], "grad_cam")
    with pytest.raises(ConfigError, match="steps must be 2 or more"):
        Explainer(ConvNet(), steps=1)


def test_examples_are_right_digits_of_each_class_and_confident_mistakes() -> None:
    labels = torch.tensor([3, 3, 1, 0, 1, 7])
    read = torch.tensor([5, 3, 1, 0, 4, 1])
    confidence = torch.tensor([0.6, 0.9, 0.9, 0.9, 0.95, 0.7])
    probabilities = torch.zeros(6, 10).scatter(1, read[:, None], confidence[:, None])
    chosen = choose_examples(labels, probabilities, mistakes=2)
    assert chosen.right.tolist() == [3, 2, 1]  # digits 0, 1, 3 in order (7 was never right)
    assert chosen.mistakes.tolist() == [4, 5]  # the most confident first
