"""The fixed, whitened first layer: what it computes, that training never moves it, and
that a checkpoint carries it."""

import pytest
import torch

from digitrec.models import ModelConfig, build_model, count_parameters
from digitrec.models.whitening import PatchWhitening, fit_fixed_layers, needs_fitting


def correlated_images(n=300, seed=0):
    """Smooth random images: neighbouring pixels correlate, as in real digits."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    return torch.nn.functional.avg_pool2d(x, 3, 1, 1) * 4 + 0.5


def test_its_filters_whiten_the_patches_they_were_fitted_to():
    layer = PatchWhitening(directions=6, kernel=5)
    images = correlated_images()
    layer.fit(images)
    out = layer(images)[:, :6]  # the first half; the second is its negative
    flat = out.permute(0, 2, 3, 1).reshape(-1, 6)
    assert flat.mean(0).abs().max() < 0.02, "the bias centres the patches"
    cov = flat.T @ flat / len(flat)
    # Unit variance up to the eps that keeps weak directions from blowing up, and no correlation.
    assert torch.allclose(torch.diag(cov), torch.ones(6), atol=0.15), torch.diag(cov)
    assert (cov - torch.diag(torch.diag(cov))).abs().max() < 0.02
    both = layer(images)
    assert torch.allclose(both[:, 6:], -both[:, :6]), "each direction comes with its negative"


def test_a_fit_is_reproducible_whatever_the_eigenvector_signs():
    a, b = PatchWhitening(4, 5), PatchWhitening(4, 5)
    images = correlated_images()
    a.fit(images)
    b.fit(images.flip(0))  # the same patches in another order
    assert torch.allclose(a.weight, b.weight, atol=1e-5)


def test_more_directions_than_a_patch_has_are_refused():
    with pytest.raises(ValueError, match="5x5 patch has 25 directions"):
        PatchWhitening(26, 5)


def test_a_whitened_fastnet_trains_everything_but_its_first_layer():
    plain = build_model(ModelConfig("fastnet", {"conv1": 24}))
    whitened = build_model(ModelConfig("fastnet", {"conv1": 24, "whiten": True}))
    assert count_parameters(plain) - count_parameters(whitened) == 24 * 25 + 24
    assert needs_fitting(whitened) and not needs_fitting(plain)
    fit_fixed_layers(whitened, correlated_images())
    assert not needs_fitting(whitened)
    with pytest.raises(ValueError, match="conv1 must be even"):
        build_model(ModelConfig("fastnet", {"conv1": 25, "whiten": True}))


def test_a_checkpoint_carries_the_fitted_layer_and_a_rebuilt_model_reads_alike():
    config = ModelConfig("fastnet", {"conv1": 8, "conv2": 16, "hidden": 32, "whiten": True})
    model = build_model(config).eval()
    fit_fixed_layers(model, correlated_images())
    rebuilt = build_model(config).eval()
    rebuilt.load_state_dict(model.state_dict())
    assert not needs_fitting(rebuilt), "a loaded layer is not fitted again (fine-tuning keeps it)"
    x = correlated_images(4, seed=1)
    with torch.inference_mode():
        assert torch.equal(rebuilt(x), model(x))


def test_at_stride_two_the_first_layer_replaces_the_first_max_pool():
    pooled = build_model(ModelConfig("fastnet", {"whiten": True}))
    strided = build_model(ModelConfig("fastnet", {"whiten": True, "first_stride": 2}))
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in pooled) == 2
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in strided) == 1
    x = correlated_images(3)
    fit_fixed_layers(strided, x)
    assert strided[0](x).shape == (3, 24, 12, 12), "28 -> 12 in one step, as conv then pool did"
    assert strided(x).shape == (3, 10) and count_parameters(strided) == count_parameters(pooled)
    with pytest.raises(ValueError, match="first_stride is 1"):
        build_model(ModelConfig("fastnet", {"first_stride": 3}))
