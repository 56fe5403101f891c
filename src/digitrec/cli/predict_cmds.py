"""`digitrec predict`: read the digits in pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from PIL import Image

from digitrec.cli.common import JsonOption, emit_json, err
from digitrec.errors import DigitrecError


def predict(
    paths: list[Path] = typer.Argument(..., help="Image files or folders of images."),
    model: Optional[Path] = typer.Option(None, "--model", help="Run folder, checkpoint or .onnx: a number reader (recipe `reader`) or a digit classifier; default: the shipped reader."),
    single: bool = typer.Option(False, "--single", help="Treat each whole image as one digit (uses a digit classifier)."),
    min_confidence: float = typer.Option(0.0, "--min-confidence", min=0.0, max=1.0, help="Report numbers read with less confidence as not read."),
    deskew: bool = typer.Option(False, "--deskew", help="Straighten slanted digits before reading them."),
    save_crops: Optional[Path] = typer.Option(None, "--save-crops", help="Write the normalised 28x28 crops here, for inspection."),
    device: str = typer.Option("cpu", "--device", help="cpu is fastest for single pictures."),
    as_json: bool = JsonOption,
) -> None:
    """Read the digits in each picture: one line per image (--json: one JSON object per line)."""
    from digitrec.preprocess import PreprocessOptions
    from digitrec.recognizer import Recognizer, find_pictures

    recognizer = Recognizer.load(model, device, PreprocessOptions(single=single, deskew=deskew), min_confidence=min_confidence)
    if single and recognizer.classifier is None:
        raise DigitrecError(f"--single reads one digit with a digit classifier, and {model or 'the shipped reader'} is a number reader with none beside it; pass a classifier's run folder")
    pictures = find_pictures(paths)
    if not pictures:
        raise DigitrecError(f"no image files found in {', '.join(map(str, paths))}")
    if save_crops is not None:
        save_crops.mkdir(parents=True, exist_ok=True)
    failures = 0
    for picture in pictures:
        path, problem = picture.path, picture.problem
        if problem is None:
            try:
                reading = recognizer.read(path)
            except DigitrecError as e:
                problem = str(e)
        if problem is not None:  # its own line, and the rest are still read
            failures += 1
            if as_json:
                emit_json({"file": str(path), "text": "", "digits": [], "error": problem})
            else:
                err.print(f"{path}: error: {problem}", markup=False)
            continue
        if save_crops is not None:
            for i, d in enumerate(reading.digits):
                Image.fromarray(d.image).save(save_crops / f"{path.stem}_{i}_{d.digit}.png")
        if as_json:
            emit_json({"file": str(path), **reading.to_dict()})
        elif reading.text:  # tab-separated: file, number read, confidence
            print(f"{path}\t{reading.text}\t{reading.confidence:.3f}", flush=True)
        else:
            print(f"{path}\t\t0.000\t({reading.warning})", flush=True)
    if failures:
        raise typer.Exit(1)
