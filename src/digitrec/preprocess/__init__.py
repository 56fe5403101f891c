"""Pictures of handwriting -> MNIST-style 28x28 digits (decode, ink, segment, normalise)."""

from digitrec.preprocess.decode import MAX_PIXELS, ImageError, ImageTooLargeError, decode_image
from digitrec.preprocess.pipeline import DigitCrop, Preprocessed, PreprocessOptions, extract_digits

__all__ = [
    "MAX_PIXELS",
    "DigitCrop",
    "ImageError",
    "ImageTooLargeError",
    "PreprocessOptions",
    "Preprocessed",
    "decode_image",
    "extract_digits",
]
