"""digitrec's own architectures, built for accuracy per second of training."""

from __future__ import annotations

from torch import nn

from digitrec.models.registry import register


@register("fastnet")
def fastnet(conv1: int = 24, conv2: int = 32, hidden: int = 256, dropout: float = 0.0) -> nn.Module:
    """Conv 5x5 -> pool -> ReLU -> conv 3x3 -> pool -> ReLU -> dense -> dense.

    The layout of the fastest published MNIST recipe (train_mnist_fast). Pooling before
    the ReLU halves the activation work, and without batch norm a CPU step costs a
    third as much as the same widths with it (measured on 2 cores).
    """
    layers: list[nn.Module] = [
        nn.Conv2d(1, conv1, 5),  # 28 -> 24
        nn.MaxPool2d(2),  # 24 -> 12
        nn.ReLU(inplace=True),
        nn.Conv2d(conv1, conv2, 3),  # 12 -> 10
        nn.MaxPool2d(2),  # 10 -> 5
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(conv2 * 25, hidden),
        nn.ReLU(inplace=True),
    ]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, 10))
    return nn.Sequential(*layers)
