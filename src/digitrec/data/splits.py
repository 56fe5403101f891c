"""Seeded validation splits and K-fold indices: the same seed gives the same split anywhere."""

from __future__ import annotations

import torch


def _permutation(n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=generator)


def train_val_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint sorted train and validation indices; validation is `round(n * val_fraction)`."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {val_fraction}")
    n_val = round(n * val_fraction)
    perm = _permutation(n, seed)
    return perm[n_val:].sort().values, perm[:n_val].sort().values


def kfold_indices(n: int, folds: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """K (train, validation) pairs; the validation parts are disjoint and cover range(n)."""
    if folds < 2 or folds > n:
        raise ValueError(f"K-fold needs 2 <= folds <= {n}, got {folds}")
    parts = torch.tensor_split(_permutation(n, seed), folds)
    pairs = []
    for k in range(folds):
        val = parts[k].sort().values
        train = torch.cat([p for j, p in enumerate(parts) if j != k]).sort().values
        pairs.append((train, val))
    return pairs
