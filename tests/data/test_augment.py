"""On-device augmentation: each training image moved by its own bounded random affine, and only
training batches touched."""

from types import SimpleNamespace

import pytest
import torch

from mnist_lit.data.augment import degrade, random_affine
from mnist_lit.data.datamodule import MNISTDataModule, normalize
from mnist_lit.data.synthetic import make_digits

BLACK = -1.0  # normalised black with mean 0.5, std 0.5


def blank(batch: int = 64) -> torch.Tensor:
    return torch.full((batch, 1, 28, 28), BLACK)


def ink(images: torch.Tensor) -> torch.Tensor:
    return (images - BLACK).squeeze(1)  # (B, 28, 28), 0 on the background


def centres(images: torch.Tensor) -> torch.Tensor:
    """(B, 2) centre of mass (row, column) of each image's ink."""
    mass = ink(images)
    grid = torch.arange(28.0)
    total = mass.sum(dim=(1, 2))
    rows = (mass.sum(dim=2) * grid).sum(dim=1) / total
    cols = (mass.sum(dim=1) * grid).sum(dim=1) / total
    return torch.stack([rows, cols], dim=1)


def test_no_amounts_leave_the_images_as_they_are() -> None:
    images = torch.randn(4, 1, 28, 28)
    assert random_affine(images) is images


def test_each_image_is_shifted_by_its_own_amount_within_the_bound() -> None:
    images = blank()
    images[:, :, 12:16, 12:16] = 1.0  # a square whose centre of mass is (13.5, 13.5)
    moved = random_affine(
        images, shift=0.1, background=BLACK, generator=torch.Generator().manual_seed(0)
    )
    offsets = centres(moved) - 13.5
    assert offsets.abs().max() <= 2.8 + 0.05  # 10% of 28 pixels
    assert offsets.abs().max() > 2.0  # and the bound is used
    assert offsets.std(dim=0).min() > 1.0  # not one shift for the whole batch
    assert ink(moved).sum(dim=(1, 2)) == pytest.approx(ink(images).sum(dim=(1, 2)), rel=1e-4)


def test_the_shift_bound_holds_with_rotation_and_zoom() -> None:
    images = blank(256)
    images[:, :, 13:15, 13:15] = 1.0  # a dot at the centre, (13.5, 13.5)
    moved = random_affine(images, 12, 0.1, 0.1, BLACK, torch.Generator().manual_seed(5))
    offsets = centres(moved) - 13.5
    assert offsets.abs().max() <= 2.8 + 0.05  # turning and zooming about the centre add nothing
    assert offsets.abs().max() > 2.6


def test_rotation_turns_a_bar_by_at_most_the_angle_about_the_centre() -> None:
    images = blank()
    images[:, :, 13:15, 4:24] = 1.0  # a horizontal bar through the centre
    turned = random_affine(
        images, degrees=20, background=BLACK, generator=torch.Generator().manual_seed(1)
    )
    mass = ink(turned).clamp(min=0)
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre = centres(turned)
    dy, dx = rows - centre[:, 0, None, None], cols - centre[:, 1, None, None]
    # orientation of the ink from its second moments
    angle = 0.5 * torch.atan2(
        2 * (mass * dx * dy).sum(dim=(1, 2)), (mass * (dx**2 - dy**2)).sum(dim=(1, 2))
    )
    degrees = angle.rad2deg().abs()
    assert degrees.max() <= 20.5 and degrees.max() > 14
    assert (centre - 13.5).abs().max() < 0.2  # rotation alone does not move it


def test_scaling_changes_the_size_within_the_bound() -> None:
    images = blank()
    images[:, :, 9:19, 9:19] = 1.0
    zoomed = random_affine(
        images, scale=0.2, background=BLACK, generator=torch.Generator().manual_seed(2)
    )
    area = ink(zoomed).sum(dim=(1, 2)) / ink(images).sum(dim=(1, 2))
    assert area.min() >= 0.8**2 - 0.02 and area.max() <= 1.2**2 + 0.02
    assert area.min() < 0.75 and area.max() > 1.3  # both ways, near the bounds


def test_the_background_stays_black_and_the_draws_follow_the_generator() -> None:
    images = blank(8)
    assert torch.equal(random_affine(images, 12, 0.1, 0.1, background=BLACK), images)
    digits = normalize(torch.from_numpy(make_digits(8, seed=0)[0]).unsqueeze(1))

    def augment(seed: int) -> torch.Tensor:
        return random_affine(digits, 12, 0.1, 0.1, BLACK, torch.Generator().manual_seed(seed))

    assert torch.equal(augment(3), augment(3))
    assert not torch.equal(augment(3), augment(4))


def test_bad_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="0 <= scale < 1"):
        random_affine(blank(1), scale=1.0)


def test_only_training_batches_are_augmented() -> None:
    images = torch.zeros(32, 1, 28, 28, dtype=torch.uint8)
    images[:, :, 10:18, 10:18] = 255  # 10 pixels from every edge: more than any move reaches
    batch = (images, torch.arange(32) % 10)
    data = MNISTDataModule(augment_degrees=12, augment_shift=0.1, augment_scale=0.1)
    plain = normalize(batch[0])
    for training in (False, True):
        data.trainer = SimpleNamespace(training=training, testing=False)  # type: ignore[assignment]
        torch.manual_seed(0)
        out, out_labels = data.on_after_batch_transfer(batch, 0)
        assert torch.equal(out_labels, batch[1])
        assert torch.equal(out, plain) != training
    border = torch.ones(28, 28, dtype=torch.bool)
    border[2:-2, 2:-2] = False
    assert torch.equal(out[:, :, border], plain[:, :, border])  # what moves in is black


def test_degrade_blurs_fades_and_greys_the_chosen_share_only() -> None:
    images, _ = make_digits(400, seed=5)
    plain = normalize(torch.from_numpy(images).unsqueeze(1))
    generator = torch.Generator().manual_seed(0)
    out = degrade(plain, 0.5, 0.5, 0.5, generator=generator)
    changed = (out != plain).flatten(1).any(dim=1)
    assert 0.4 < changed.float().mean() < 0.6  # about half the batch
    pixels, before = out * 0.5 + 0.5, plain * 0.5 + 0.5
    assert pixels.min() >= 0 and pixels.max() <= 1
    # the degraded ones: weaker ink (the brightest pixel lower) on a lighter background
    assert (pixels[changed].amax(dim=(1, 2, 3)) < before[changed].amax(dim=(1, 2, 3)) + 0.11).all()
    corners = pixels[changed][:, :, :3, :3].mean()
    assert corners > before[changed][:, :, :3, :3].mean() + 0.1
    again = degrade(plain, 0.5, 0.5, 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert degrade(plain, 0.0, 0.5, 0.5) is plain
    with pytest.raises(ValueError, match="share must be in"):
        degrade(plain, 1.5, 0.5, 0.5)


def test_degrade_gives_some_images_bright_margins_at_their_edges() -> None:
    """A loose crop catches the paper's edge or a shadow: some sides get a band much brighter than
    the grey behind the digit (MNIST-C's stripe fooled a model trained on uniform greys only)."""
    images, _ = make_digits(800, seed=6)
    plain = normalize(torch.from_numpy(images).unsqueeze(1))

    def bright_sides(out: torch.Tensor) -> torch.Tensor:  # (N, 4): left, right, top, bottom
        pixels = out * 0.5 + 0.5
        sides = torch.stack(
            [pixels[..., :2].mean((1, 2, 3)), pixels[..., -2:].mean((1, 2, 3)),
             pixels[..., :2, :].mean((1, 2, 3)), pixels[..., -2:, :].mean((1, 2, 3))], dim=1,
        )  # fmt: skip
        return sides - sides.amin(dim=1, keepdim=True) > 0.2

    generator = torch.Generator().manual_seed(1)
    bright = bright_sides(degrade(plain, 1.0, 0.5, 0.5, generator=generator, margins=True))
    assert 0.5 < bright.any(dim=1).float().mean() < 0.8  # each side 1 in 4: 68% have at least one
    assert 0.2 < bright.float().mean() < 0.3  # and each side about as often
    without = bright_sides(degrade(plain, 1.0, 0.5, 0.5, generator=generator))
    assert without.any(dim=1).float().mean() < 0.1  # by default none (but digits near an edge)
