"""digitrec: handwritten-digit recognition, from MNIST to your own handwriting."""

__version__ = "0.1.0"

from digitrec.errors import DigitrecError  # noqa: E402

__all__ = ["DigitrecError", "__version__"]
