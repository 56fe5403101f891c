"""Any picture -> a grayscale float image in [0, 1].

Accepts a path, bytes, a PIL image or a numpy array; PNG, JPEG, BMP, GIF, WebP and TIFF
through Pillow. EXIF orientation is applied, transparency is flattened onto a background
that contrasts with the strokes, and oversized images are refused from their header,
before any pixel is decoded.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitrec.errors import DigitrecError

ImageInput = str | os.PathLike | bytes | bytearray | Image.Image | np.ndarray

# --- limits and tuning ---------------------------------------------------------------
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is the largest we decode
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
REDUCIBLE = ("L", "LA", "RGB", "RGBA", "I", "F")  # modes Image.reduce takes
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B in grey: Pillow's own "L" conversion
OPAQUE = 0.99  # alpha above this everywhere (253/255 and up) is an opaque picture: nothing to flatten
PAINTED = 0.5  # a pixel more opaque than this is painted: part of the drawing, not of the transparent canvas
MOSTLY_PAINTED = 0.6  # painted over more than this share, the transparent parts are holes in a painted background
LIGHT_PAINT = 0.5  # paint whose median grey is above this (mid-grey) is light, and decides the background
SPECIAL_FILES = (  # files that are not pictures, told apart from their mode without opening them
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class ImageError(DigitrecError):
    """A picture cannot be read: missing, corrupt, not an image, or too large."""


class ImageTooLargeError(ImageError):
    """A picture has more pixels than digitrec decodes (a server answers 413)."""


def path_problem(path: Path) -> str | None:
    """Why the file at `path` cannot be a picture, in one sentence, or None. Never opens
    it: opening a FIFO or a device could block for ever."""
    try:
        mode = path.stat().st_mode  # follows links
    except FileNotFoundError:
        if path.is_symlink():
            return f"{path} is a dangling symlink (to {os.readlink(path)})"
        return f"{path} does not exist"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return f"{path} is a symlink loop"
        return f"cannot read {path}: {e.strerror or e}"
    if stat.S_ISDIR(mode):
        return f"{path} is a folder, not an image"
    kind = next((name for test, name in SPECIAL_FILES if test(mode)), None)
    if kind:
        return f"{path} is {kind}, not a picture; not read"
    return None


def _open(source: ImageInput, name: str) -> Image.Image:
    try:
        if isinstance(source, (bytes, bytearray)):
            if not source:
                raise ImageError(f"{name} is empty")
            image = Image.open(io.BytesIO(bytes(source)), formats=FORMATS)
        else:
            path = Path(source)
            problem = path_problem(path)
            if problem:
                raise ImageError(problem)
            if path.stat().st_size == 0:
                raise ImageError(f"{path} is empty")
            image = Image.open(path, formats=FORMATS)
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image digitrec can read (PNG, JPEG, BMP, GIF, WebP or TIFF)") from None
    except Image.DecompressionBombError as e:
        # Pillow refuses very large images from their header before we see the size.
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found.group(1)) / 1e6:.0f} megapixels, " if found else ""
        raise ImageTooLargeError(
            f"{name} is {size}over the limit of {MAX_PIXELS / 1e6:.3g} megapixels; scale it down first"
        ) from None
    except PermissionError:
        raise ImageError(f"cannot read {name}: permission denied") from None
    except (OSError, SyntaxError) as e:  # Pillow's errors for bad headers and short files
        raise ImageError(f"{name} is corrupt or truncated ({e})") from None
    except ValueError as e:  # a text or colour-profile chunk that inflates past Pillow's limit
        raise ImageError(f"{name} has metadata that Pillow refuses to expand ({e})") from None
    return image


def check_size(width: int, height: int, name: str, max_pixels: int = MAX_PIXELS) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(f"{name} has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width}x{height} = {width * height / 1e6:.3g} megapixels, over the limit of "
            f"{max_pixels / 1e6:.3g}; scale it down first"
        )


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """Composite onto white or black, whichever contrasts with the opaque strokes.

    A drawing of black strokes on a transparent canvas stores transparent pixels as
    (0, 0, 0, 0): flattened onto black it would vanish, so the background is chosen from
    the colour of what is painted.
    """
    rgb = rgba[..., :3].astype(np.float32) / 255.0
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    gray = rgb @ np.array(LUMA, np.float32)
    if alpha.min() > OPAQUE:
        return gray
    painted = alpha > PAINTED
    if not painted.any():
        return np.ones_like(gray)  # fully transparent: blank
    if painted.mean() > MOSTLY_PAINTED:
        # Mostly opaque: the transparent parts are holes in a painted background.
        background = 1.0 if np.median(gray[painted]) > LIGHT_PAINT else 0.0
    else:
        background = 0.0 if np.median(gray[painted]) > LIGHT_PAINT else 1.0
    return alpha * gray + (1 - alpha) * background


def _from_array(array: np.ndarray, name: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageError(f"{name} has shape {a.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
    check_size(a.shape[1], a.shape[0], name, max_pixels)
    if a.dtype == np.bool_:
        a = a.astype(np.float32)
    if not np.issubdtype(a.dtype, np.number):
        raise ImageError(f"{name} has dtype {a.dtype}; expected numbers")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ImageError(f"{name} contains NaN or infinite values")
    if a.min() < 0 or a.max() > 255:
        raise ImageError(f"{name} has values outside 0-255 (min {a.min():g}, max {a.max():g})")
    if a.max() > 1.0 or np.issubdtype(np.asarray(array).dtype, np.integer):
        a = a / 255.0
    if a.ndim == 2:
        return a
    if a.shape[2] == 4:
        return _flatten_alpha((a * 255).round().astype(np.uint8))
    return a[..., :3] @ np.array(LUMA, np.float32)


@dataclass(frozen=True)
class Picture:
    """A decoded picture: its grey image, perhaps reduced for reading, and its own size,
    in which every box is reported."""

    gray: np.ndarray  # float32 (h, w) in [0, 1], in the picture's own polarity
    width: int
    height: int

    @property
    def scale(self) -> float:
        """Pixels of `gray` per pixel of the picture."""
        return self.gray.shape[1] / self.width


def decode_image(source: ImageInput, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A float32 (H, W) grayscale image in [0, 1], in the picture's own polarity."""
    return decode_picture(source, name, max_pixels).gray


def decode_picture(
    source: ImageInput | Picture, name: str | None = None, max_pixels: int = MAX_PIXELS, min_side: int | None = None
) -> Picture:
    """Decode a picture; with `min_side`, reduced by a whole factor while its longer side
    stays at least `min_side` (readers work at a bounded resolution: a 6300x6300 scan was
    300 MB per request decoded whole). JPEGs are reduced while decoding (DCT scaling)."""
    if isinstance(source, Picture):
        return source
    if name is None:
        name = str(source) if isinstance(source, (str, os.PathLike)) else f"the {type(source).__name__} image"
    if isinstance(source, np.ndarray):
        gray = _from_array(source, name, max_pixels)
        return Picture(gray, gray.shape[1], gray.shape[0])
    ours = not isinstance(source, Image.Image)
    image = _open(source, name) if ours else source
    check_size(image.width, image.height, name, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings about odd metadata are not the user's problem
            w0, h0 = image.size
            factor = max(1, max(w0, h0) // min_side) if min_side else 1
            if factor > 1 and ours and image.format == "JPEG":
                image.draft(image.mode, (-(-w0 // factor), -(-h0 // factor)))
            oriented = ImageOps.exif_transpose(image, in_place=True) if ours else ImageOps.exif_transpose(image)
            image = image if oriented is None else oriented
            # The picture's size as shown: its header's, turned as EXIF turned the pixels.
            width, height = (w0, h0) if (image.width >= image.height) == (w0 >= h0) else (h0, w0)
            factor = max(1, max(image.size) // min_side) if min_side else 1  # what DCT scaling left to do
            if factor > 1:
                if image.mode not in REDUCIBLE:  # palette, bilevel, 16-bit
                    image = image.convert(
                        "RGBA" if _has_alpha(image) else "I" if image.mode.startswith("I;16") else "L"
                    )
                image = image.reduce(factor)
            return Picture(_gray(image), width, height)
    except (OSError, ValueError, SyntaxError) as e:  # truncated or corrupt pixel data
        raise ImageError(f"{name} is corrupt or truncated ({e})") from None


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _gray(image: Image.Image) -> np.ndarray:
    if _has_alpha(image):
        return _flatten_alpha(np.asarray(image.convert("RGBA")))
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(image, dtype=np.float32)
        span = float(a.max() - a.min()) or 1.0
        return (a - a.min()) / span
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
