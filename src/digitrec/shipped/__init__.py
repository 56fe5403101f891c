"""The models that ship inside the package, so that `digitrec predict photo.jpg` and
`digitrec serve` work after installing, with no training and no network:

- reader.safetensors: the number reader (recipe `strip-reader`);
- classifier.safetensors: the digit classifier for `--single`, the pixels endpoint and
  the drawing board's 28x28 previews (recipe `handwriting`);
- finder.safetensors, beside the reader when shipped with it: where a field's or a page's
  numbers are (`python -m digitrec.training.finder`);
- MODELS.json: where each came from and what it measured;
- calibration.json: how often the shipped reader's answers at or above each confidence
  were right on its validation fields (`digitrec calibrate`), for `digitrec review`.

They are made from the project's own recipes by `make models`, which trains all three and
runs `python -m digitrec.shipped RUN_READER RUN_CLASSIFIER --finder FINDER` to copy them here.
"""

from __future__ import annotations

from pathlib import Path

from digitrec.errors import CheckpointError

HERE = Path(__file__).resolve().parent
READER = HERE / "reader.safetensors"
CLASSIFIER = HERE / "classifier.safetensors"
FINDER = HERE / "finder.safetensors"
CARD = HERE / "MODELS.json"
CALIBRATION = HERE / "calibration.json"


def shipped(path: Path) -> Path:
    """A shipped model's file, or a clear error when this install has none."""
    if not path.exists():
        raise CheckpointError(
            f"this install has no shipped {path.stem} model ({path}); "
            "pass --model, or make the default models with `make models`"
        )
    return path
