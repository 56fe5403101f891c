"""The five published tutorial architectures, layer for layer.

Each returns logits: the tutorials' final softmax lives in the loss (cross-entropy on
logits is the numerically stable form of Keras' softmax + categorical_crossentropy) and
in prediction. Parameter counts equal Keras' `model.summary()`.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from digitrec.models.keras import conv, keras_init_
from digitrec.models.registry import register


def _sequential(*layers: tuple[str, nn.Module]) -> nn.Sequential:
    return keras_init_(nn.Sequential(OrderedDict(layers)))


@register("mlp")
def mlp(hidden: int = 128, dropout: float = 0.2) -> nn.Module:
    """Flatten, Dense 128 relu, Dropout 0.2, Dense 10 (the Keras beginner tutorial): 101,770 params."""
    return _sequential(
        ("flatten", nn.Flatten()),
        ("dense", nn.Linear(784, hidden)),
        ("relu", nn.ReLU()),
        ("dropout", nn.Dropout(dropout)),
        ("dense_1", nn.Linear(hidden, 10)),
    )


@register("cnn-adadelta")
def cnn_adadelta() -> nn.Module:
    """Conv 32 5x5, Conv 64 5x5, MaxPool 2, Dropout 0.5, Dense 128, Dropout 0.5, Dense 10: 872,714 params."""
    return _sequential(
        ("conv2d", conv(1, 32, 5)),
        ("relu", nn.ReLU()),
        ("conv2d_1", conv(32, 64, 5)),
        ("relu_1", nn.ReLU()),
        ("max_pooling2d", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("dropout", nn.Dropout(0.5)),
        ("dense", nn.Linear(64 * 10 * 10, 128)),
        ("relu_2", nn.ReLU()),
        ("dropout_1", nn.Dropout(0.5)),
        ("dense_1", nn.Linear(128, 10)),
    )


@register("keras-mnist-cnn")
def keras_mnist_cnn() -> nn.Module:
    """Keras' examples/mnist_cnn.py: Conv 32 3x3, Conv 64 3x3, MaxPool, Dropout .25, Dense 128, Dropout .5:
    1,199,882 params."""
    return _sequential(
        ("conv2d", conv(1, 32, 3)),
        ("relu", nn.ReLU()),
        ("conv2d_1", conv(32, 64, 3)),
        ("relu_1", nn.ReLU()),
        ("max_pooling2d", nn.MaxPool2d(2)),
        ("dropout", nn.Dropout(0.25)),
        ("flatten", nn.Flatten()),
        ("dense", nn.Linear(64 * 12 * 12, 128)),
        ("relu_2", nn.ReLU()),
        ("dropout_1", nn.Dropout(0.5)),
        ("dense_1", nn.Linear(128, 10)),
    )


@register("deep-cnn-rmsprop")
def deep_cnn_rmsprop() -> nn.Module:
    """Five 3x3 convs (16 valid, 32, 32, 64, 64 same) with three pools and dropouts, Dense 512: 370,026 params."""
    return _sequential(
        ("conv2d", conv(1, 16, 3, "valid")),  # 28 -> 26
        ("relu", nn.ReLU()),
        ("conv2d_1", conv(16, 32, 3, "same")),
        ("relu_1", nn.ReLU()),
        ("max_pooling2d", nn.MaxPool2d(2)),  # 26 -> 13
        ("dropout", nn.Dropout(0.5)),
        ("conv2d_2", conv(32, 32, 3, "same")),
        ("relu_2", nn.ReLU()),
        ("conv2d_3", conv(32, 64, 3, "same")),
        ("relu_3", nn.ReLU()),
        ("max_pooling2d_1", nn.MaxPool2d(2)),  # 13 -> 6
        ("dropout_1", nn.Dropout(0.5)),
        ("conv2d_4", conv(64, 64, 3, "same")),
        ("relu_4", nn.ReLU()),
        ("max_pooling2d_2", nn.MaxPool2d(2)),  # 6 -> 3
        ("dropout_2", nn.Dropout(0.5)),
        ("flatten", nn.Flatten()),
        ("dense", nn.Linear(64 * 3 * 3, 512)),
        ("relu_5", nn.ReLU()),
        ("dense_1", nn.Linear(512, 10)),
    )


@register("kaggle-cnn-augmented")
def kaggle_cnn_augmented() -> nn.Module:
    """The Kaggle kernel's [Conv 32 5x5]x2, pool, [Conv 64 3x3]x2, pool, Dense 256, all 'same': 887,530 params."""
    return _sequential(
        ("conv2d", conv(1, 32, 5, "same")),
        ("relu", nn.ReLU()),
        ("conv2d_1", conv(32, 32, 5, "same")),
        ("relu_1", nn.ReLU()),
        ("max_pooling2d", nn.MaxPool2d(2)),  # 28 -> 14
        ("dropout", nn.Dropout(0.25)),
        ("conv2d_2", conv(32, 64, 3, "same")),
        ("relu_2", nn.ReLU()),
        ("conv2d_3", conv(64, 64, 3, "same")),
        ("relu_3", nn.ReLU()),
        ("max_pooling2d_1", nn.MaxPool2d(2, stride=2)),  # 14 -> 7
        ("dropout_1", nn.Dropout(0.25)),
        ("flatten", nn.Flatten()),
        ("dense", nn.Linear(64 * 7 * 7, 256)),
        ("relu_4", nn.ReLU()),
        ("dropout_2", nn.Dropout(0.5)),
        ("dense_1", nn.Linear(256, 10)),
    )
