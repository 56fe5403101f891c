import torch

from digitrec.models.inputs import Normalization, to_float_batch
from digitrec.training.augment import prepare_batch, random_affine
from digitrec.training.config import AugmentConfig


def _blob() -> torch.Tensor:
    x = torch.zeros(8, 28, 28, dtype=torch.uint8)
    x[:, 10:18, 12:16] = 255
    return x


def _centre_of_mass(x: torch.Tensor) -> torch.Tensor:
    ys = torch.arange(28.0).view(1, 1, 28, 1)
    xs = torch.arange(28.0).view(1, 1, 1, 28)
    m = x.sum((1, 2, 3))
    return torch.stack([(x * ys).sum((1, 2, 3)) / m, (x * xs).sum((1, 2, 3)) / m], 1)


def test_disabled_augmentation_is_identity():
    x = to_float_batch(_blob())
    assert torch.equal(random_affine(x, AugmentConfig(), torch.Generator().manual_seed(0)), x)


def test_augmentation_varies_per_image_is_seeded_and_keeps_background_zero():
    x = to_float_batch(_blob())
    cfg = AugmentConfig(rotation=15, zoom=0.1, shift=0.1)
    a = random_affine(x, cfg, torch.Generator().manual_seed(0))
    b = random_affine(x, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert not torch.allclose(a[0], a[1])  # each image gets its own transform
    assert a[:, :, 0, :].abs().max() < 1e-6  # the border stays background
    assert a.min() >= 0 and a.max() <= 1


def test_shift_moves_the_centre_of_mass_by_at_most_the_configured_fraction():
    x = to_float_batch(_blob().repeat(32, 1, 1))
    shifted = random_affine(x, AugmentConfig(shift=0.1), torch.Generator().manual_seed(1))
    moved = (_centre_of_mass(shifted) - _centre_of_mass(x)).abs()
    assert moved.max() <= 0.1 * 28 + 0.5
    assert moved.max() > 1.0


def test_prepare_batch_normalises_and_is_channels_last():
    x = prepare_batch(_blob(), Normalization(0.5, 0.5))
    assert x.shape == (8, 1, 28, 28) and x.is_contiguous(memory_format=torch.channels_last)
    assert x.min().item() == -1.0 and x.max().item() == 1.0


def test_warp_strips_varies_each_field_and_keeps_its_ink_inside_its_new_width():
    from digitrec.training.augment import STRIP_STRETCH, warp_strips

    strips = torch.zeros(16, 1, 32, 120)
    widths = torch.full((16,), 60)
    strips[:, :, 8:24, 4:56] = 1.0  # a block of ink inside each 60-pixel field
    warped, new_widths = warp_strips(strips, widths, torch.Generator().manual_seed(0))
    again, _ = warp_strips(strips, widths, torch.Generator().manual_seed(0))
    assert torch.equal(warped, again)  # seeded
    assert warped.shape[-1] >= 120 * (1 + STRIP_STRETCH)  # room for the widest stretch
    ends = [int((row[0].sum(0) > 1e-3).nonzero().max()) for row in warped]
    assert len(set(ends)) > 8  # each field warped its own way
    assert all(end < int(w) for end, w in zip(ends, new_widths))
    ink = warped.sum((1, 2, 3)) / strips.sum((1, 2, 3))
    assert ((ink > 0.75) & (ink < 1.3)).all()  # stretched and squashed, not lost


def _spread(x: torch.Tensor) -> torch.Tensor:
    """Each image's ink spread (std) along y and x, (B, 2)."""
    c = _centre_of_mass(x)
    ys = torch.arange(28.0).view(1, 28, 1)
    xs = torch.arange(28.0).view(1, 1, 28)
    m = x.sum((1, 2, 3))
    img = x[:, 0]
    vy = (img * (ys - c[:, 0].view(-1, 1, 1)) ** 2).sum((1, 2)) / m
    vx = (img * (xs - c[:, 1].view(-1, 1, 1)) ** 2).sum((1, 2)) / m
    return torch.stack([vy.sqrt(), vx.sqrt()], 1)


def test_keras_zoom_scales_x_and_y_separately():
    square = torch.zeros(64, 28, 28, dtype=torch.uint8)
    square[:, 9:19, 9:19] = 255
    x = to_float_batch(square)
    before = _spread(x)
    for each_axis in (False, True):
        zoomed = random_affine(x, AugmentConfig(zoom=0.25, zoom_each_axis=each_axis), torch.Generator().manual_seed(2))
        ratio = _spread(zoomed) / before
        aspect = ratio[:, 0] / ratio[:, 1]
        assert ratio.min() < 0.9 and ratio.max() > 1.1, "zoomed in and out"
        if each_axis:
            assert (aspect - 1).abs().max() > 0.15, "Keras' zoom changes the aspect"
        else:
            assert (aspect - 1).abs().max() < 0.02, "one zoom for both axes keeps it"


def test_nearest_fill_repeats_the_edge_where_zeros_leave_background():
    x = torch.ones(4, 1, 28, 28)
    cfg = dict(shift=0.2)
    zeros = random_affine(x, AugmentConfig(**cfg), torch.Generator().manual_seed(3))
    nearest = random_affine(x, AugmentConfig(**cfg, fill="nearest"), torch.Generator().manual_seed(3))
    assert zeros.min() == 0 and torch.allclose(nearest, x)
