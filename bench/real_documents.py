"""How well digitrec reads whole numbers on real documents, against the digit path and Tesseract.

    python bench/real_documents.py [--reader PATH] [--classifier PATH] \
        [--data-dir ../shared/data] [--tesseract-limit 300] [--json out.json]

Readers, each from image file to answer:
- reader: the default path (`Recognizer` with the number reader, `--layout auto`; the
  shipped reader unless --reader);
- components: connected components cut into digits for the digit classifier (the
  shipped classifier unless --classifier); for the lone-digit sets, the classifier
  reading the whole picture as one digit (`--single`), the best the project had;
- tesseract: Tesseract 5, `--psm 7` with a digits whitelist (apt-get install tesseract-ocr).

Sets. Real fields are split by page (`data.folders`); the reader trains on the train
parts, its checkpoints are chosen on the validation parts, the test parts choose nothing:
- danish-rowid:validation / :test: register cells of every register;
- orand-car-a-dev:validation / :test: cheque amounts;
- synthetic: 1,000 fields (cells and strips, with their surroundings) of 2-8
  MNIST *test* digits, as PNG files, half dark-on-light; their true digit boxes are known,
  so the mean IoU of the reader's digit boxes is measured here;
- pages: 200 synthetic forms of 1000x700 pixels, each with 2-6 numbers of 1-6 MNIST *test*
  digits written in printed boxes, on lines or beside printed labels, among printed text
  and rules; a number counts when it is read whole, and every number read that is not on
  the page counts against (a box border read as a 1);
- lone digits: mnist-test (the 10,000 test digits as PNG files), usps (7,291 files,
  16-200 px, both polarities, PNG/JPEG), optdigits (1,797), real-dev (38 drawings).

Per set and reader: whole numbers right, character error rate, ms per image. For the
reader also: the share of fields answered at 99% precision (surest first; the threshold
found on each set), the share answered above the threshold found on the validation part
(for the test parts: what an archive would get), and how often `--layout auto` read the
picture as one field (every set here is one field per picture). Tesseract reads at most
--tesseract-limit images per set (evenly spaced): it takes ~0.1 s each. --json also
keeps the reader's every reading of the real sets (file, label, read, confidence), to
compare two readers on any subset afterwards. Where `bench/audits/` lists labels of a
validation part found wrong by eye, that part is also reported with them corrected.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
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

from real_handwriting import write_usps

from digitrec import Recognizer
from digitrec.data.folders import read_labels
from digitrec.device import describe_machine
from digitrec.evaluation.numbers import (
    NumberScore,
    accepted_above,
    accepted_at_precision,
    calibration,
    recognizer_reader,
    score_reader,
)
from digitrec.preprocess.decode import decode_picture

REAL = ("danish-rowid:validation", "danish-rowid:test", "orand-car-a-dev:validation", "orand-car-a-dev:test")
LONE = ("mnist-test", "usps", "optdigits", "real-dev")
TARGETS = {  # the targets, whole numbers right ("best": no worse than the classifier)
    "danish-rowid:validation": 0.97,
    "danish-rowid:test": 0.97,
    "orand-car-a-dev:validation": 0.93,
    "orand-car-a-dev:test": 0.93,
    "synthetic": 0.97,
    "pages": 0.95,
    "mnist-test": "best",
    "usps": "best",
    "optdigits": "best",
    "real-dev": 1.0,
}
SYNTHETIC_COUNT = 1000
PAGE_COUNT = 200
PAGE_SIZE = (1000, 700)
LABELS = ("Amount", "Total", "No.", "Qty", "Date", "Account", "Code", "Ref.", "Box", "Page")
TARGET_MS = 30.0
TARGET_IOU = 0.7
ACCEPT_PRECISION = 0.99
AUDITS = Path(__file__).parent / "audits"  # labels found wrong by eye, per data set (see its README)


def synthetic_files(
    root: Path, folder: Path, count: int, seed: int = 2026
) -> tuple[list[tuple[Path, str]], dict[str, np.ndarray]]:
    """Fields of 2-8 MNIST test digits with the surroundings of real fields, as PNG files,
    and each file's true digit boxes (x0, y0, x1, y1 in its pixels). Seed 2026 is measured;
    tuning looks at others."""
    import dataclasses

    import torch

    from digitrec.data import load_dataset
    from digitrec.data.synthetic import DigitBank, NumberMaker, SyntheticConfig
    from digitrec.data.synthetic_fields import FieldConfig, FieldMaker

    test = load_dataset("mnist", "test", root)
    numbers = NumberMaker(DigitBank.from_images(test.images, test.labels), SyntheticConfig(min_digits=2, max_digits=8))
    maker = FieldMaker(numbers, dataclasses.replace(FieldConfig(), empty=0.0, lone=0.0, max_digits=8))
    batch = maker.batch(count, torch.Generator().manual_seed(seed))
    files, boxes = [], {}
    for i, (field, width, text, digit_boxes) in enumerate(
        zip(batch.strips[:, 0], batch.widths, batch.texts(), batch.boxes)
    ):
        pixels = (field[:, : int(width)].numpy() * 255).round().astype(np.uint8)
        if i % 2:
            pixels = 255 - pixels  # dark ink on light paper, as a scan
        path = folder / f"{i:04d}_{text}.png"
        Image.fromarray(pixels).save(path)
        files.append((path, text))
        boxes[str(path)] = digit_boxes[: len(text)].numpy()
    return files, boxes


def page_files(root: Path, folder: Path, count: int) -> list[tuple[Path, list[str]]]:
    """Synthetic forms: numbers of MNIST test digits in printed boxes, on lines and beside
    printed labels, among printed text and rules; each page with its numbers."""
    from PIL import ImageDraw, ImageFont

    from digitrec.data import load_dataset

    test = load_dataset("mnist", "test", root)
    images, labels = test.images.numpy(), test.labels.numpy()
    by_digit = [np.flatnonzero(labels == d) for d in range(10)]
    rng = np.random.default_rng(2026)
    font = ImageFont.load_default(size=22)
    files = []
    for i in range(count):
        page = Image.new("L", PAGE_SIZE, int(rng.integers(215, 250)))
        draw = ImageDraw.Draw(page)
        for y in range(40, PAGE_SIZE[1], 140):  # printed text and rules between the numbers
            draw.text(
                (int(rng.integers(20, 300)), y),
                " ".join(rng.choice(["Form", "Name", "Signature", "Office use", "Received"], 3)),
                fill=40,
                font=font,
            )
            if rng.random() < 0.5:
                draw.line([(0, y + 36), (PAGE_SIZE[0], y + 36)], fill=120, width=2)
        numbers = []
        rows = rng.permutation(4)[: int(rng.integers(2, 7)) // 2 + 1]
        for row in sorted(rows):
            for column in sorted(rng.permutation(2)[: 1 + int(rng.random() < 0.5)]):
                if len(numbers) >= 6:
                    break
                text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 7))))
                height = int(rng.integers(36, 60))
                x, y = 80 + column * 480 + int(rng.integers(0, 60)), 90 + row * 140 + int(rng.integers(0, 20))
                style = rng.choice(["box", "line", "label"])
                if style == "label":
                    draw.text((x, y + height // 3), LABELS[int(rng.integers(len(LABELS)))] + ":", fill=30, font=font)
                    x += 130
                width = 10 + len(text) * int(height * 0.8)
                if style == "box":
                    draw.rectangle([x - 12, y - 10, x + width + 12, y + height + 10], outline=30, width=2)
                if style == "line":
                    draw.line([(x - 10, y + height + 6), (x + width + 10, y + height + 6)], fill=60, width=2)
                for k, c in enumerate(text):
                    digit = Image.fromarray(images[rng.choice(by_digit[int(c)])]).resize(
                        (height, height), Image.BICUBIC
                    )
                    ink = np.asarray(digit, np.float32) / 255
                    box = (x + k * int(height * 0.8), y)
                    region = np.asarray(page.crop((*box, box[0] + height, box[1] + height)), np.float32)
                    page.paste(Image.fromarray(np.clip(region * (1 - ink) + 25 * ink, 0, 255).astype(np.uint8)), box)
                numbers.append(text)
        path = folder / f"page_{i:03d}.png"
        page.save(path)
        files.append((path, numbers))
    return files


def score_pages(recognizer: Recognizer, files: list[tuple[Path, list[str]]]) -> dict:
    """Numbers found and read whole, and numbers read that are not on the page."""
    import time
    from collections import Counter

    found = extra = total = 0
    seconds = 0.0
    for path, numbers in files:
        started = time.perf_counter()
        read = Counter(n.text for n in recognizer.read(path).numbers)
        seconds += time.perf_counter() - started
        truth = Counter(numbers)
        found += sum((read & truth).values())
        extra += sum((read - truth).values())
        total += len(numbers)
    return {
        "numbers": total,
        "found": found / max(1, total),
        "extra": extra,
        "ms_per_page": 1000 * seconds / max(1, len(files)),
    }


def lone_files(name: str, root: Path, folder: Path) -> list[tuple[Path, str]]:
    """A single-digit set as image files with their labels."""
    if name == "real-dev":
        return [(p, p.name[0]) for p in sorted((root / "real-dev").glob("*.png"))]
    folder.mkdir()
    if name == "usps":
        usps = np.load(root / "usps" / "usps-train.npz")
        return [(p, str(label)) for p, label, _ in write_usps(usps["images"], usps["labels"], folder, False)]
    if name == "optdigits":
        data = np.load(root / "optdigits-windep" / "optdigits-windep-32x32.npz")
        images, labels = data["images"], data["labels"]
    else:
        from digitrec.data import load_dataset

        test = load_dataset("mnist", "test", root)
        images, labels = test.images.numpy(), test.labels.numpy()
    files = []
    for i, (image, label) in enumerate(zip(images, labels)):
        path = folder / f"{i:05d}_{label}.png"
        Image.fromarray(image).save(path)
        files.append((path, str(label)))
    return files


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_iou(
    recognizer: Recognizer, files: list[tuple[Path, str]], truth: dict[str, np.ndarray]
) -> tuple[float, float, int]:
    """Mean IoU of the reader's digit boxes against the true ones, over the digits of the
    fields it read with the right number of digits (a digit missed or added has no pair),
    and over those of the fields it read right."""
    scores, right = [], []
    for path, label in files:
        reading = recognizer.read(path)
        if len(reading.digits) != len(label):
            continue
        for d, true in zip(reading.digits, truth[str(path)]):
            x, y, w, h = d.box
            scores.append(iou(np.array([x, y, x + w, y + h], float), true))
            if reading.text == label:
                right.append(scores[-1])
    return (float(np.mean(scores)) if scores else 0.0), (float(np.mean(right)) if right else 0.0), len(scores)


def tesseract_reader(path: Path) -> tuple[str, float]:
    out = subprocess.run(
        ["tesseract", str(path), "stdout", "--psm", "7", "-c", "tessedit_char_whitelist=0123456789"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "".join(c for c in out.stdout if c.isdigit()), 1.0


def evenly(files: list, limit: int | None) -> list:
    if limit is None or len(files) <= limit:
        return files
    return [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--reader", help="run folder, checkpoint or .onnx of a number reader (default: the shipped one)"
    )
    parser.add_argument("--classifier", help="run folder of a digit classifier (default: the shipped one)")
    parser.add_argument(
        "--finder",
        help="a number finder's checkpoint: where numbers are, in a field and on a page "
        "(default: the one shipped with the shipped reader, else the rule-based field finder)",
    )
    parser.add_argument("--data-dir", default=os.environ.get("DIGITREC_DATA", "../shared/data"))
    parser.add_argument("--tesseract-limit", type=int, default=300, help="images per set for Tesseract (0: skip it)")
    parser.add_argument("--limit", type=int, default=None, help="images per set for every reader (quick runs)")
    parser.add_argument("--sets", default=",".join(TARGETS), help="comma-separated sets to run")
    parser.add_argument("--json", dest="json_out", help="also write the figures here")
    args = parser.parse_args(argv)

    import cv2
    import torch

    from digitrec.shipped import CLASSIFIER

    # One core: the time per field. Through the environment, because loading a
    # model sets PyTorch's threads to one per core unless OMP_NUM_THREADS says otherwise
    # (a set_num_threads(1) made before the loads was undone by them: two threads).
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    root = Path(args.data_dir)
    recognizer = Recognizer.load(args.reader, classifier=args.classifier, finder=args.finder)
    classifier = Recognizer.load(args.classifier or CLASSIFIER)
    readers = {"reader": recognizer_reader(recognizer), "components": recognizer_reader(classifier)}
    single = {"reader": readers["reader"], "components": lambda path: _single(classifier, path)}
    if args.tesseract_limit and shutil.which("tesseract"):
        readers["tesseract"] = tesseract_reader
    elif args.tesseract_limit:
        print("tesseract is not installed (apt-get install tesseract-ocr): its column is skipped", file=sys.stderr)

    report: dict = {
        "machine": describe_machine(),
        "reader": args.reader or "shipped",
        "classifier": args.classifier or "shipped",
        "sets": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            if name not in TARGETS:
                raise SystemExit(f"unknown set {name!r}; choose from {', '.join(TARGETS)}")
            if name == "pages":
                (Path(tmp) / "pages").mkdir()
                pages = page_files(
                    root, Path(tmp) / "pages", min(PAGE_COUNT, args.limit or PAGE_COUNT)
                )  # made alike: the first N
                report["pages"] = {
                    layout: score_pages(
                        Recognizer.load(args.reader, classifier=args.classifier, layout=layout, finder=args.finder),
                        pages,
                    )
                    for layout in ("auto", "page")
                }
                field_share = _field_share(recognizer, pages)
                report["pages"]["auto_chose_page"] = None if field_share is None else 1 - field_share
                report["pages"]["pages"] = len(pages)
                for layout in ("auto", "page"):
                    r = report["pages"][layout]
                    print(
                        f"{'pages':<28} --layout {layout:<5} {100 * r['found']:6.2f}% of {r['numbers']} numbers "
                        "found and read, "
                        f"{r['extra']} read that are not there, {r['ms_per_page']:.0f} ms/page",
                        flush=True,
                    )
                continue
            truth = None
            if name in REAL:
                files = [(f.path, f.label) for f in read_labels(name, root)]
            elif name == "synthetic":
                (Path(tmp) / "synthetic").mkdir()
                files, truth = synthetic_files(
                    root, Path(tmp) / "synthetic", min(SYNTHETIC_COUNT, args.limit or SYNTHETIC_COUNT)
                )
            else:
                files = lone_files(name, root, Path(tmp) / name)
            files = evenly(files, args.limit)
            row = {}
            for reader_name, read in (single if name in LONE else readers).items():
                subset = evenly(files, args.tesseract_limit) if reader_name == "tesseract" else files
                read(subset[0][0])  # warm-up: the first call pays one-off set-up costs
                score: NumberScore = score_reader(read, subset, f"{name} / {reader_name}")
                row[reader_name] = score.to_dict()
                extra = ""
                if reader_name == "reader":
                    row["reader"]["calibration"] = calibration(score.results)
                    share, threshold = accepted_at_precision(score.results, ACCEPT_PRECISION)
                    row["reader"]["accepted_at_99"] = {"share": share, "threshold": threshold}
                    extra = f"  accepted at 99% {100 * share:5.1f}% (conf ≥ {threshold:.3f})"
                print(
                    f"{name:<28} {reader_name:<11} {100 * score.accuracy:6.2f}% of {score.size:>5}  "
                    f"CER {100 * score.character_error_rate:5.2f}%  {score.ms_per_image:6.1f} ms/image{extra}",
                    flush=True,
                )
                row[f"{reader_name}_results"] = score.results
                corrected = audited(name, score.results)
                if reader_name == "reader" and corrected is not None:
                    row["reader"]["audited"] = corrected
                    print(
                        f"{name:<28} {reader_name:<11} {100 * corrected['accuracy']:6.2f}% "
                        f"with {corrected['corrected']} labels corrected by eye "
                        f"(bench/audits), accepted at 99% {100 * corrected['accepted_at_99']:5.1f}%",
                        flush=True,
                    )
                if name in REAL and reader_name == "reader":  # every reading, to compare readers on any subset later
                    row["reader"]["readings"] = [
                        [Path(r.file).name, r.label, r.text, round(r.confidence, 5)] for r in score.results
                    ]
            row["layout_field"] = _field_share(recognizer, files)
            if truth is not None:
                row["box_iou"], row["box_iou_read_right"], row["box_pairs"] = box_iou(recognizer, files, truth)
                print(
                    f"{name:<28} digit boxes: mean IoU {row['box_iou']:.3f} over {row['box_pairs']:,} digits "
                    f"({row['box_iou_read_right']:.3f} where the number was read right; target ≥ {TARGET_IOU})"
                )
            report["sets"][name] = row

    _apply_validation_thresholds(report)
    for row in report["sets"].values():
        for key in [k for k in row if k.endswith("_results")]:
            del row[key]
    _print_tables(report, readers)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, indent=2))
    return 0


def audited(name: str, results: list) -> dict | None:
    """A real set's figures with the labels that `AUDITS` found wrong by eye corrected, for
    the parts that were looked at (validation); None where no label of theirs was listed."""
    path = AUDITS / f"{name.split(':')[0]}.csv"
    if not name.endswith(":validation") or not path.exists():
        return None
    with path.open(newline="") as f:
        seen = {row["file"]: row["seen"] for row in csv.DictReader(f)}
    fixed = [dataclasses.replace(r, label=seen[Path(r.file).name]) if Path(r.file).name in seen else r for r in results]
    changed = sum(a.label != b.label for a, b in zip(fixed, results))
    if not changed:
        return None
    share, threshold = accepted_at_precision(fixed, ACCEPT_PRECISION)
    return {
        "corrected": changed,
        "accuracy": sum(r.correct for r in fixed) / len(fixed),
        "accepted_at_99": share,
        "threshold": threshold,
    }


def _single(classifier: Recognizer, path: Path) -> tuple[str, float]:
    reading = classifier.read(path, single=True)
    return reading.text, reading.confidence


def _field_share(recognizer: Recognizer, files: list) -> float | None:
    """How often `--layout auto` reads these pictures as one field (None: a strip reader
    without a finder, which has no layouts)."""
    if not recognizer.has_layouts:
        return None
    chosen = [recognizer.choose_layout(decode_picture(path), None)[0] for path, _ in files]
    return chosen.count("field") / max(1, len(chosen))


def _apply_validation_thresholds(report: dict) -> None:
    """A test part answered above the 99%-precision threshold found on its validation part."""
    for test in [n for n in report["sets"] if n.endswith(":test")]:
        val = test.replace(":test", ":validation")
        if val not in report["sets"]:
            continue
        threshold = report["sets"][val]["reader"]["accepted_at_99"]["threshold"]
        share, right = accepted_above(report["sets"][test]["reader_results"], threshold)
        report["sets"][test]["reader"]["accepted_at_validation_threshold"] = {
            "threshold": threshold,
            "share": share,
            "right": right,
        }


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f}%"


def _print_tables(report: dict, readers: dict) -> None:
    print()
    if "pages" in report:
        p = report["pages"]
        chose = "" if p["auto_chose_page"] is None else f", auto chose page for {100 * p['auto_chose_page']:.0f}%"
        print(
            f"pages ({p['auto']['numbers']} numbers on {p['pages']} pages, "
            "target ≥ 95% found and read, no border read): "
            f"--layout auto {100 * p['auto']['found']:.1f}% ({p['auto']['extra']} extra{chose}), "
            f"--layout page {100 * p['page']['found']:.1f}% ({p['page']['extra']} extra)\n"
        )
    if not report["sets"]:
        return
    print("| set | target | " + " | ".join(readers) + " | accepted at 99% | auto: field |")
    print("| --- | --- | " + " | ".join("---" for _ in readers) + " | --- | --- |")
    for name, row in report["sets"].items():
        cells = [
            (
                f"{100 * row[r]['accuracy']:.2f}% (CER {100 * row[r]['character_error_rate']:.2f}%, "
                f"{row[r]['ms_per_image']:.1f} ms)"
            )
            + (f" [{row[r]['size']}]" if r == "tesseract" else "")
            if r in row
            else "—"
            for r in readers
        ]
        target = TARGETS[name]
        goal = "≥ classifier" if target == "best" else f"≥ {100 * target:g}%"
        accepted = row["reader"]["accepted_at_99"]
        at_val = row["reader"].get("accepted_at_validation_threshold")
        shown = f"{100 * accepted['share']:.1f}%" + (
            f" ({100 * at_val['share']:.1f}% at {100 * at_val['right']:.2f}% right above validation's threshold)"
            if at_val
            else ""
        )
        print(
            f"| {name} ({row['reader']['size']:,}) | {goal} | "
            + " | ".join(cells)
            + f" | {shown} | {_percent(row['layout_field'])} |"
        )
    slowest = max(row["reader"]["ms_per_image"] for row in report["sets"].values())
    print(f"\nreader: slowest set {slowest:.1f} ms per image, one core (target ≤ {TARGET_MS:g} ms)")
    for name, row in report["sets"].items():
        r = row["reader"]
        if r["confusions"]:
            print(
                f"{name}: most frequent confusions "
                + ", ".join(f"{c['true'] or '∅'}->{c['read'] or '∅'} x{c['count']}" for c in r["confusions"][:6])
            )


if __name__ == "__main__":
    sys.exit(main())
