"""Pictures the tests make from digits: on paper, photographed, ruled, transparent."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def paper(width: int, height: int, seed: int = 0, level: int = 235, noise: float = 6.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(level + rng.normal(0, noise, (height, width)), 0, 255).astype(np.float32)


def paste_digit(
    page: np.ndarray, digit: np.ndarray, x: int, y: int, height: int, ink: float = 30.0
) -> tuple[int, int, int, int]:
    """Write a white-on-black 28x28 digit as dark ink onto `page`, `height` pixels tall.
    Returns the box of the digit's ink (x, y, w, h)."""
    scale = height / 28
    big = (
        np.asarray(Image.fromarray(digit).resize((round(28 * scale), round(28 * scale)), Image.BICUBIC), np.float32)
        / 255
    )
    big = np.clip(big, 0, 1)
    h, w = big.shape
    region = page[y : y + h, x : x + w]
    page[y : y + h, x : x + w] = region * (1 - big) + ink * big
    ys, xs = np.nonzero(big > 0.2)
    return (x + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def shadow(page: np.ndarray, darkest: float = 0.55) -> np.ndarray:
    """A diagonal shadow: light falls off from one corner to the other."""
    h, w = page.shape
    ramp = np.add.outer(np.linspace(0, 1, h), np.linspace(0, 1, w)) / 2
    return page * (1 - (1 - darkest) * ramp)


def ruled_lines(
    page: np.ndarray, spacing: int, colour: float = 120.0, width: int = 2, vertical: bool = False
) -> np.ndarray:
    out = page.copy()
    for pos in range(spacing // 2, (page.shape[1] if vertical else page.shape[0]), spacing):
        if vertical:
            out[:, pos : pos + width] = np.minimum(out[:, pos : pos + width], colour)
        else:
            out[pos : pos + width, :] = np.minimum(out[pos : pos + width, :], colour)
    return out


def to_uint8(page: np.ndarray) -> np.ndarray:
    return np.clip(page, 0, 255).round().astype(np.uint8)


def encode(page: np.ndarray, fmt: str = "PNG", rotate: float = 0.0, **save) -> bytes:
    image = Image.fromarray(to_uint8(page))
    if rotate:
        image = image.rotate(rotate, resample=Image.BICUBIC, expand=False, fillcolor=int(np.median(page)))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def transparent_strokes(digit: np.ndarray, size: int = 200) -> np.ndarray:
    """Black strokes on a fully transparent canvas, stored as (0, 0, 0, 0) outside the
    strokes, as drawing apps export them."""
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.BICUBIC), np.uint8)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., 3] = big
    return rgba
