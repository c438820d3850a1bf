"""The corruptions: seeded, shaped like MNIST, each doing what its name says, bad names refused."""

import pytest
import torch

from mnist_lit.errors import ConfigError
from mnist_lit.robustness.corruptions import CORRUPTIONS, corrupt, parse_spec


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    """Sixteen made-up digits, light on black, in [0, 1]."""
    from mnist_lit.data.synthetic import make_digits

    images, _ = make_digits(16, seed=3)
    return torch.from_numpy(images).float().unsqueeze(1) / 255


MNIST_C = [name for name, c in CORRUPTIONS.items() if c.family == "mnist-c"]


def test_mnist_c_has_its_fifteen_and_the_writer_shifts_their_five() -> None:
    assert MNIST_C == [
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
        "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
        "canny_edges",
    ]  # fmt: skip
    writer = [name for name, c in CORRUPTIONS.items() if c.family == "writer"]
    assert writer == ["thin", "thick", "slant", "elastic", "low_resolution"]


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_is_seeded_shaped_and_changes_the_digits(name: str, digits: torch.Tensor) -> None:
    before = digits.clone()
    out = corrupt(digits, name, seed=1)
    assert torch.equal(digits, before)  # the input is left as it was
    assert out.shape == digits.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, corrupt(digits, name, seed=1))  # the same call, the same images
    assert (out - digits).abs().mean() > 0.005  # it changed something


def test_a_random_corruption_differs_by_seed_and_not_by_order(digits: torch.Tensor) -> None:
    first = corrupt(digits, "shot_noise", seed=1)
    corrupt(digits, "fog", seed=1)  # another corruption in between draws from its own generator
    assert torch.equal(first, corrupt(digits, "shot_noise", seed=1))
    assert not torch.equal(first, corrupt(digits, "shot_noise", seed=2))


@pytest.mark.parametrize(
    "name", ["shot_noise", "impulse_noise", "rotate", "scale", "thin", "low_resolution"]
)
def test_a_higher_severity_changes_the_digits_more(name: str, digits: torch.Tensor) -> None:
    change = [(corrupt(digits, name, s, seed=0) - digits).abs().mean() for s in (1, 3, 5)]
    assert change[0] < change[1] < change[2]


def test_what_the_simple_ones_do(digits: torch.Tensor) -> None:
    stripe = corrupt(digits, "stripe")
    assert torch.allclose(stripe[..., :7], 1 - digits[..., :7])
    assert torch.equal(stripe[..., 7:21], digits[..., 7:21])
    assert corrupt(digits, "brightness", 5).min() >= 0.5  # a grey background
    edges = corrupt(digits, "canny_edges")
    assert set(edges.unique().tolist()) <= {0.0, 1.0}
    # translate moves each digit's centre of mass 3 pixels across and 3 up or down
    cols = torch.arange(28).float()

    def centre(images: torch.Tensor) -> torch.Tensor:
        mass = images.sum(dim=(1, 2, 3))
        x = (images.sum(dim=2).squeeze(1) * cols).sum(dim=1) / mass
        y = (images.sum(dim=3).squeeze(1) * cols).sum(dim=1) / mass
        return torch.stack([x, y], dim=1)

    blobs = torch.zeros(8, 1, 28, 28)
    blobs[..., 10:18, 11:17] = 1  # well inside the image: nothing leaves it
    moved = centre(corrupt(blobs, "translate", 3)) - centre(blobs)
    assert torch.allclose(moved.abs(), torch.full_like(moved, 3.0), atol=1e-4)
    assert len({tuple(m.sign().tolist()) for m in moved}) > 1  # directions drawn at random
    assert corrupt(digits, "thick").sum() > digits.sum() > corrupt(digits, "thin").sum()


def test_names_and_severities_that_do_not_exist_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"no corruption named 'rotation'.*rotate"):
        parse_spec("rotation")
    with pytest.raises(ConfigError, match="rotate has severities 1 to 5; got '6'"):
        parse_spec("rotate:6")
    with pytest.raises(ConfigError, match=r"zigzag has one severity \(1\); got '2'"):
        parse_spec("zigzag:2")
    assert parse_spec("rotate") == (CORRUPTIONS["rotate"], 2)  # MNIST-C's severity
    assert parse_spec("fog:1") == (CORRUPTIONS["fog"], 1)
