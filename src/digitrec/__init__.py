"""digitrec: handwritten-digit recognition, from MNIST to your own handwriting."""

__version__ = "0.1.0"

from digitrec.errors import DigitrecError


def __getattr__(name: str):
    # `from digitrec import Recognizer` without importing torch for `import digitrec`.
    if name == "Recognizer":
        from digitrec.recognizer import Recognizer

        return Recognizer
    raise AttributeError(f"module 'digitrec' has no attribute {name!r}")


__all__ = ["DigitrecError", "Recognizer", "__version__"]
