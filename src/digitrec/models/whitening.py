"""A first convolution fixed before training, from the training images themselves.

airbench (Keller Jordan's CIFAR-10 speed runs) starts its network with a convolution
whose filters whiten the images' patches and are never trained. On a CPU that pays twice
over: the filters are good from the first step, and nothing before the second layer
needs a backward pass: no weight gradient for a one-channel convolution, no pooling or
ReLU backward at full resolution, no input gradient for the second convolution. On
fastnet that is a quarter to a third of a training step (2 cores; `bench/whitening.py`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Tuning constants
FIT_IMAGES = 2000  # training images whose patches estimate the covariance: ~1.2M patches, ~0.1 s on a CPU
WHITENING_EPS = 1e-2  # added to each eigenvalue: keeps the weakest kept directions from amplifying noise


class PatchWhitening(nn.Module):
    """A `kernel`x`kernel` convolution of one channel onto 2 x `directions` channels: the
    top principal directions of the training patches, each scaled to unit variance, and
    their negatives (the ReLU after it keeps both signs). Its weights are buffers, not
    parameters: an optimiser never sees them, a checkpoint carries them, and a model
    rebuilt for prediction loads them with no data."""

    def __init__(self, directions: int, kernel: int, stride: int = 1):
        super().__init__()
        if directions > kernel * kernel:
            raise ValueError(f"a {kernel}x{kernel} patch has {kernel * kernel} directions, not {directions}")
        self.kernel, self.stride = kernel, stride
        self.register_buffer("weight", torch.zeros(2 * directions, 1, kernel, kernel))
        self.register_buffer("bias", torch.zeros(2 * directions))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @property
    def directions(self) -> int:
        return self.weight.shape[0] // 2

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> None:
        """Sets the filters from float images (N, 1, H, W) as the model sees them
        (normalised); the centring is the bias, so the filters see centred patches."""
        k = self.kernel
        patches = images[:, 0].unfold(1, k, 1).unfold(2, k, 1).reshape(-1, k * k).double()
        mean = patches.mean(0)
        centred = patches - mean
        # The k*k x k*k covariance is made where the images are; only it goes to the CPU.
        mean, covariance = mean.cpu(), (centred.T @ centred / len(centred)).cpu()
        values, vectors = torch.linalg.eigh(covariance)  # ascending
        values, vectors = values.flip(0)[: self.directions], vectors.flip(1)[:, : self.directions]
        # An eigenvector's sign is arbitrary: fix it, so that a fit is reproducible anywhere.
        vectors = vectors * torch.sign(vectors[vectors.abs().argmax(0), torch.arange(vectors.shape[1])])
        filters = (vectors / (values + WHITENING_EPS).sqrt()).T
        filters = torch.cat([filters, -filters])
        self.weight.copy_(filters.reshape_as(self.weight).to(self.weight))
        self.bias.copy_((-(filters @ mean)).to(self.bias))
        self.fitted.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight.to(x.dtype), self.bias.to(x.dtype), self.stride)

    def extra_repr(self) -> str:
        return f"directions={self.directions}, kernel={self.kernel}, stride={self.stride}, fixed"


def needs_fitting(model: nn.Module) -> bool:
    return any(isinstance(m, PatchWhitening) and not bool(m.fitted) for m in model.modules())


def fit_fixed_layers(model: nn.Module, images: torch.Tensor) -> None:
    """Fits each whitening layer not yet fitted (one loaded from a checkpoint keeps its
    filters) to float model inputs `images` (N, 1, H, W)."""
    for m in model.modules():
        if isinstance(m, PatchWhitening) and not bool(m.fitted):
            m.fit(images)
