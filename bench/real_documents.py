"""How well digitrec reads whole numbers on real documents, against today's path and Tesseract.

    python bench/real_documents.py --reader runs/reader --classifier runs/handwriting \\
        [--data-dir ../shared/data] [--tesseract-limit 300] [--json out.json]

Three readers, side by side, each from image file to answer:
- reader: the number reader (`Recognizer` with a `reader` model: find fields, CTC);
- components: today's path, connected components cut into digits for a 28x28 classifier;
- tesseract: Tesseract 5, `--psm 7` with a digits whitelist (apt-get install tesseract-ocr).

Sets (none is trained on by the reader; the first two choose its checkpoints):
- danish-rowid/validation: 2,697 register cells;
- orand-car-a-dev:validation: the fixed third of the cheque amounts the reader never trains on;
- synthetic: numbers of 2-6 MNIST *test* digits with every kind of distractor, written as
  PNG files at twice the strip height, half dark-on-light;
- usps: the 7,291 USPS training digits as image files (16-200 px, both polarities, PNG/JPEG);
- real-dev: 38 real drawings.

Per set and reader: whole numbers right, character error rate, ms per image. Tesseract
reads at most --tesseract-limit images per set (evenly spaced): it takes ~0.1 s each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_handwriting import write_usps  # noqa: E402

from digitrec import Recognizer  # noqa: E402
from digitrec.data.folders import read_labels  # noqa: E402
from digitrec.device import describe_machine  # noqa: E402
from digitrec.evaluation.numbers import NumberScore, calibration, recognizer_reader, score_reader  # noqa: E402

TARGETS = {  # the targets, whole numbers right
    "danish-rowid/validation": 0.97,
    "orand-car-a-dev:validation": 0.93,
    "synthetic": 0.99,
    "usps": 0.985,
    "real-dev": 1.0,
}
SYNTHETIC_COUNT = 1000
TARGET_MS = 30.0


def synthetic_files(root: Path, folder: Path, count: int) -> list[tuple[Path, str]]:
    """Numbers of 2-6 MNIST test digits with the distractors of real fields, as PNG files."""
    import torch

    from digitrec.data import load_dataset
    from digitrec.data.synthetic import DigitBank, NumberMaker

    test = load_dataset("mnist", "test", root)
    maker = NumberMaker(DigitBank.from_images(test.images, test.labels))
    batch = maker.batch(count, torch.Generator().manual_seed(2026), lengths=(2, 6))
    files = []
    for i, (strip, width, text) in enumerate(zip(batch.strips[:, 0], batch.widths, batch.texts())):
        pixels = (strip[:, : int(width)].numpy() * 255).round().astype(np.uint8)
        if i % 2:
            pixels = 255 - pixels  # dark ink on light paper, as a scan
        image = Image.fromarray(pixels).resize((2 * pixels.shape[1], 2 * pixels.shape[0]), Image.BICUBIC)
        path = folder / f"{i:04d}_{text}.png"
        image.save(path)
        files.append((path, text))
    return files


def tesseract_reader(path: Path) -> tuple[str, float]:
    out = subprocess.run(
        ["tesseract", str(path), "stdout", "--psm", "7", "-c", "tessedit_char_whitelist=0123456789"],
        capture_output=True, text=True, timeout=60,
    )
    return "".join(c for c in out.stdout if c.isdigit()), 1.0


def evenly(files: list, limit: int | None) -> list:
    if limit is None or len(files) <= limit:
        return files
    return [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", required=True, help="run folder, checkpoint or .onnx of a number reader")
    parser.add_argument("--classifier", help="run folder of a digit classifier, for today's path (skipped without)")
    parser.add_argument("--data-dir", default=os.environ.get("DIGITREC_DATA", "../shared/data"))
    parser.add_argument("--tesseract-limit", type=int, default=300, help="images per set for Tesseract (0: skip it)")
    parser.add_argument("--limit", type=int, default=None, help="images per set for every reader (quick runs)")
    parser.add_argument("--sets", default=",".join(TARGETS), help="comma-separated sets to run")
    parser.add_argument("--json", dest="json_out", help="also write the figures here")
    args = parser.parse_args(argv)

    import cv2
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    cv2.setNumThreads(os.cpu_count() or 1)
    root = Path(args.data_dir)
    readers = {"reader": recognizer_reader(Recognizer.load(args.reader))}
    if args.classifier:
        readers["components"] = recognizer_reader(Recognizer.load(args.classifier))
    if args.tesseract_limit and shutil.which("tesseract"):
        readers["tesseract"] = tesseract_reader
    elif args.tesseract_limit:
        print("tesseract is not installed (apt-get install tesseract-ocr): its column is skipped", file=sys.stderr)

    report: dict = {"machine": describe_machine(), "reader": args.reader, "classifier": args.classifier, "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        sets: dict[str, list[tuple[Path, str]]] = {}
        for name in args.sets.split(","):
            if name in ("danish-rowid/validation", "orand-car-a-dev:validation"):
                sets[name] = [(f.path, f.label) for f in read_labels(name, root)]
            elif name == "synthetic":
                (Path(tmp) / "synthetic").mkdir()
                sets[name] = synthetic_files(root, Path(tmp) / "synthetic", SYNTHETIC_COUNT)
            elif name == "usps":
                (Path(tmp) / "usps").mkdir()
                usps = np.load(root / "usps" / "usps-train.npz")
                sets[name] = [(p, str(label)) for p, label, _ in write_usps(usps["images"], usps["labels"], Path(tmp) / "usps", False)]
            elif name == "real-dev":
                sets[name] = [(p, p.name[0]) for p in sorted((root / "real-dev").glob("*.png"))]
            else:
                raise SystemExit(f"unknown set {name!r}; choose from {', '.join(TARGETS)}")
        for name, files in sets.items():
            files = evenly(files, args.limit)
            row = {}
            for reader_name, read in readers.items():
                subset = evenly(files, args.tesseract_limit) if reader_name == "tesseract" else files
                read(subset[0][0])  # warm-up: the first call pays one-off set-up costs
                score: NumberScore = score_reader(read, subset, f"{name} / {reader_name}")
                row[reader_name] = score.to_dict()
                if reader_name == "reader":
                    row[reader_name]["calibration"] = calibration(score.results)
                print(
                    f"{name:<28} {reader_name:<11} {100 * score.accuracy:6.2f}% of {score.size:>5}  "
                    f"CER {100 * score.character_error_rate:5.2f}%  {score.ms_per_image:6.1f} ms/image",
                    flush=True,
                )
            report["sets"][name] = row

    print()
    print("| set | target | " + " | ".join(readers) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in readers) + " |")
    for name, row in report["sets"].items():
        cells = [
            f"{100 * row[r]['accuracy']:.2f}% (CER {100 * row[r]['character_error_rate']:.2f}%, {row[r]['ms_per_image']:.1f} ms)"
            + (f" [{row[r]['size']}]" if r == "tesseract" else "")
            for r in readers
        ]
        print(f"| {name} ({row['reader']['size']:,}) | ≥ {100 * TARGETS[name]:g}% | " + " | ".join(cells) + " |")
    slowest = max(row["reader"]["ms_per_image"] for row in report["sets"].values())
    print(f"\nreader: slowest set {slowest:.1f} ms per image (target ≤ {TARGET_MS:g} ms)")
    for name, row in report["sets"].items():
        r = row["reader"]
        if r["confusions"]:
            print(f"{name}: most frequent confusions " + ", ".join(f"{c['true'] or '∅'}->{c['read'] or '∅'} x{c['count']}" for c in r["confusions"][:6]))
    for name in ("danish-rowid/validation", "orand-car-a-dev:validation"):
        if name in report["sets"]:
            cal = report["sets"][name]["reader"]["calibration"]
            print(f"{name}: " + "; ".join(f"≥{c['min_confidence']:g}: {100 * c['answered']:.0f}% answered, {100 * c['right_when_answered']:.2f}% right" for c in cal))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
