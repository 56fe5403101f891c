"""The public entry point for reading digits: `Recognizer.load(path).read(image)`."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitrec.ctc import DecodedNumber, best_path_text, decode_number
from digitrec.errors import ConfigError
from digitrec.layout import NumberFinderRuntime, field_choices
from digitrec.preprocess import ImageError, Preprocessed, PreprocessOptions, extract_digits
from digitrec.preprocess.decode import ImageInput, Picture, decode_picture
from digitrec.preprocess.field_image import field_image
from digitrec.preprocess.fields import Field, FieldOptions, FoundFields, field_in_box, find_fields
from digitrec.runtime import Classifier, StripReader, load_runtime_model

# --- tuning --------------------------------------------------------------------------
# A number read less surely than EXTRA_DOUBT and shorter than EXTRA_SHORT of the picture's
# surest number is dropped: the strokes of a register's neighbouring rows poking into a
# cell, cut by its edge. On danish-rowid/validation (reader v6): keeping all 87.69%,
# 91.73% with these, 92.99% dropping every doubtful extra; but that also dropped a page's
# less legible numbers of full height.
EXTRA_DOUBT = 0.8
EXTRA_SHORT = 0.8
# A lone digit fills at least this share of its picture's height (a register cell's
# number fills ~15-25%); the digit classifier reads it (see `lone_digit`) ...
TIGHT = 0.5
LONE_SURE = 0.5  # ... and, where the reader saw no digit, only when more likely right than wrong;
# where it read several, only when the classifier is this sure (a register cell's rule,
# one tall piece of ink, reads as a 1 at ~0.9; USPS's lone digits that the reader split
# read at 0.85-0.98), or surer than the reader, and the piece is between LONE_NARROW and
# LONE_WIDE of its height wide (two joined digits are wider; a rule is narrower). "Or
# surer" (reader v12): optdigits 1,705 -> 1,706 of 1,797 right, USPS 7,203 -> 7,204,
# MNIST's test digits 9,913 -> 9,914, real-dev and the validation amounts unchanged,
# the validation cells 4,362 -> 4,361 (a page's margin taken for a digit, read as a 0 at
# 0.71 over the reader's 47 at 0.22).
LONE_OVERRULE = 0.8
LONE_NARROW = 0.5
LONE_WIDE = 1.25
# A field's answer gets a second look: the finder's surest place cut again with
# SECOND_LOOK_PAD of its height around it (the first look cuts PAD, 0.15) and read again;
# an answer that this look does not read the same is SECOND_LOOK_MISS as sure. On the
# validation parts (reader v12), the answers right at 99% precision: register cells 69.5%
# -> 75.8% (the share among places used before: 53.5%), amounts 45.7% either way.
SECOND_LOOK_PAD = 0.3
SECOND_LOOK_MISS = 0.5
# How a picture is read by a field reader: `field`, whole, as one number (a register cell,
# a cheque's amount box, a strip, a lone digit); `page`, its numbers found by the field
# finder and each read as a field; `auto`, a page when the picture is at least PAGE_SIDE
# pixels on its longer side and the finder sees a number on it (a photo's one number is
# read from its own crop, not shrunk with the whole photo to the reader's 96 pixels).
LAYOUTS = ("auto", "field", "page")
PAGE_SIDE = 600
PAGE_PAD = 0.3  # a number found on a page is read with this much of its height around it


def reads_whole_fields(meta: dict[str, Any]) -> bool:
    """Whether a model is a field reader (a whole field in), from its metadata."""
    return meta.get("kind") == "reader" and meta.get("input", {}).get("layout") == "field"


@dataclass
class PageNumbers:
    """Where a page's numbers are, before they are read."""

    boxes: list[tuple[int, int, int, int]]  # x, y, w, h in the picture
    warning: str | None  # why none were found, when the finder says


@dataclass
class DigitReading:
    digit: int
    confidence: float
    top3: list[tuple[int, float]]
    box: tuple[int, int, int, int]  # x, y, w, h in the original picture
    image: np.ndarray  # the uint8 28x28 image that was classified
    probabilities: list[float] = field(default_factory=list)  # all ten, for 0..9

    def to_dict(self) -> dict[str, Any]:
        return {
            "digit": self.digit,
            "confidence": self.confidence,
            "top3": [list(t) for t in self.top3],
            "box": list(self.box),
            "probabilities": [round(p, 6) for p in self.probabilities],
        }


@dataclass
class NumberReading:
    """One number of a picture: its digits, its box and how sure the reader is of it."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]  # x, y, w, h in the original picture
    digits: list[DigitReading] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "confidence": self.confidence,
            "box": list(self.box),
            "digits": [d.to_dict() for d in self.digits],
        }


@dataclass
class Reading:
    """What a picture says. `text` is its number, or its numbers joined by spaces, in
    reading order; `numbers` has each with its box; `digits` all digits in order."""

    text: str
    digits: list[DigitReading] = field(default_factory=list)
    width: int = 0
    height: int = 0
    warning: str | None = None
    numbers: list[NumberReading] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        """The probability that every digit is right, as the model sees it."""
        if self.numbers:
            return float(np.prod([n.confidence for n in self.numbers]))
        return float(np.prod([d.confidence for d in self.digits])) if self.digits else 0.0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "text": self.text,
            "confidence": self.confidence,
            "digits": [x.to_dict() for x in self.digits],
            "numbers": [n.to_dict() for n in self.numbers],
        }
        if self.warning:
            d["warning"] = self.warning
        return d


class Recognizer:
    """Trained models plus the preprocessing paths; reads pictures of numbers.

    With a number reader, `read` finds the numbers of a picture and reads each whole;
    with a digit classifier (or `single=True`), it cuts the writing into digits and
    classifies each (the path for one digit, the pixels endpoint and the drawing board's
    28x28 previews).
    """

    def __init__(
        self,
        classifier: Classifier | None = None,
        options: PreprocessOptions = PreprocessOptions(),
        reader: StripReader | None = None,
        field_options: FieldOptions = FieldOptions(),
        min_confidence: float = 0.0,
        layout: str = "auto",
        finder: NumberFinderRuntime | None = None,
    ):
        if classifier is None and reader is None:
            raise ValueError("a Recognizer needs a classifier, a reader or both")
        if not 0.0 <= min_confidence <= 1.0:
            raise ConfigError(f"--min-confidence is a probability in [0, 1], got {min_confidence}")
        self.classifier, self.reader = classifier, reader
        self.options, self.field_options, self.min_confidence = options, field_options, min_confidence
        self.layout = check_layout(layout)
        self.finder = finder  # a page's numbers: learned (`layout.finder`), else the rule-based field finder

    @classmethod
    def load(
        cls,
        path: str | os.PathLike | None = None,
        device: str = "cpu",
        options: PreprocessOptions = PreprocessOptions(),
        runtime: str = "auto",
        min_confidence: float = 0.0,
        classifier: str | os.PathLike | None = None,
        field_options: FieldOptions = FieldOptions(),
        layout: str = "auto",
        finder: str | os.PathLike | None = None,
    ) -> Recognizer:
        """From a run folder (its best checkpoint), a .safetensors checkpoint or an .onnx
        export, of a number reader or a digit classifier; None: the shipped models.

        A reader is paired with a digit classifier for single digits (`classifier`, else
        the shipped one when this install has it and the runtime is PyTorch). A reader
        finds numbers with the number finder at `finder` (a checkpoint or its .onnx
        export; for the shipped reader, or a strip reader that learned from a finder's
        strips: the shipped finder), else with the rule-based field finder."""
        from digitrec.shipped import CLASSIFIER, FINDER, READER, shipped

        model = load_runtime_model(Path(path) if path is not None else shipped(READER), device, runtime)
        is_shipped = path is None or Path(path).resolve() == READER.resolve()  # `serve` names the shipped reader's file
        if (
            is_shipped
            and finder is None
            and FINDER.exists()
            and model.meta.get("kind") == "reader"
            and model.runtime == "pytorch"
        ):
            finder = FINDER  # shipped beside the shipped reader
        if finder is None and model.meta.get("input", {}).get("cut") == "finder":
            if not FINDER.exists() or model.runtime != "pytorch":
                raise ConfigError(
                    f"{path} reads strips cut by a number finder: "
                    "pass one with --finder (a checkpoint, or its ONNX export from `digitrec export`)"
                )
            finder = FINDER  # it learned from the shipped finder's strips
        if finder is not None and model.meta.get("kind") != "reader":
            raise ConfigError(
                f"a number finder ({finder}) finds numbers for a number reader to read; "
                f"{path or 'the shipped model'} is a digit classifier"
            )
        if model.meta.get("kind") != "reader":
            return cls(model, options, min_confidence=min_confidence)  # type: ignore[arg-type]
        if classifier is None and model.runtime == "pytorch" and CLASSIFIER.exists():
            classifier = CLASSIFIER
        single = load_runtime_model(Path(classifier), device, runtime) if classifier is not None else None
        if single is not None and single.meta.get("kind") == "reader":
            raise ConfigError(f"{classifier} is a number reader; single digits need a digit classifier")
        found_by = NumberFinderRuntime.load(finder, device) if finder is not None else None
        return cls(
            single,
            options,
            reader=model,
            field_options=field_options,
            min_confidence=min_confidence,
            layout=layout,
            finder=found_by,
        )  # type: ignore[arg-type]

    @property
    def model(self) -> Classifier | StripReader:
        return self.reader if self.reader is not None else self.classifier  # type: ignore[return-value]

    @property
    def meta(self) -> dict[str, Any]:
        return self.model.meta

    @property
    def runtime(self) -> str:
        return self.model.runtime

    def classify(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for uint8 (N, 28, 28) MNIST-style images, in one batch."""
        if self.classifier is None:
            raise ConfigError("this model is a number reader; reading single 28x28 digits needs a digit classifier")
        return self.classifier.classify(np.asarray(images, np.uint8))

    def read(
        self, image: ImageInput, single: bool | None = None, name: str | None = None, layout: str | None = None
    ) -> Reading:
        """Read the numbers of a picture (path, bytes, PIL image or numpy array)."""
        single = self.options.single if single is None else single
        if self.reader is not None and not single:
            return self.read_numbers(image, name, layout)
        pre = self.preprocess(image, single, name)
        return self.reading(pre, self.classify(pre.images))

    @property
    def reads_fields(self) -> bool:
        """Whether the reader reads whole fields (else strips cut by the field finder)."""
        return self.reader is not None and reads_whole_fields(self.reader.meta)

    @property
    def has_layouts(self) -> bool:
        """Whether `--layout` applies: a field reader, or a strip reader with a number
        finder (a strip reader alone cuts every picture by the rules)."""
        return self.reads_fields or (self.reader is not None and self.finder is not None)

    def read_numbers(self, image: ImageInput, name: str | None = None, layout: str | None = None) -> Reading:
        """The number reader's path: a field read whole, or a page's numbers found and each read."""
        assert self.reader is not None
        layout = self.layout if layout is None else check_layout(layout)
        # Decoded once: a lone digit's picture is read by the digit path too.
        side = max(self.field_options.max_side, self.options.max_side)  # enough for both paths
        picture = decode_picture(image, name, self.field_options.max_pixels, side)
        if not self.has_layouts:
            return self.read_strips(picture, name)
        found = None
        if layout == "auto":
            layout, found = self.choose_layout(picture, name)
        if layout == "field":
            return self.read_field(picture, name)
        return self.read_page(picture, name, found)

    def choose_layout(self, picture: Picture, name: str | None) -> tuple[str, PageNumbers | None]:
        """`auto`'s rule: field or page (see PAGE_SIDE), and the numbers found, if looked for."""
        if max(picture.width, picture.height) < PAGE_SIDE:
            return "field", None
        found = self.find_numbers(picture, name)
        return ("page" if found.boxes else "field"), found

    def find_numbers(self, picture: Picture, name: str | None) -> PageNumbers:
        """Where a page's numbers are: the learned number finder's boxes when the
        Recognizer has one, else the rule-based field finder's."""
        if self.finder is not None:
            found = self.finder.find(picture, name)
            return PageNumbers(found.boxes, None)
        fields = find_fields(picture, self.field_options, name)
        return PageNumbers([f.box for f in fields.fields], fields.warning)

    def read_field(self, picture: Picture, name: str | None) -> Reading:
        """A picture that is one field, read whole: one number, or none."""
        number = self.field_number(picture, name)
        return self._kept(picture, [number] if number is not None else [], None)

    def read_page(self, picture: Picture, name: str | None, found: PageNumbers | None = None) -> Reading:
        """A page: its numbers found (`find_numbers`), each read whole as a field."""
        found = found if found is not None else self.find_numbers(picture, name)
        numbers = []
        for box in found.boxes:
            if self.reads_fields:
                crop, (dx, dy) = _crop_around(picture, box)
                number = self.field_number(crop, name)
                number = _shifted(number, dx, dy) if number is not None else None
            else:
                number = self.number_in_field(picture, field_in_box(picture, box), name)
            if number is not None:
                numbers.append(number)
        return self._kept(picture, numbers, found.warning)

    def field_number(self, picture: Picture, name: str | None) -> NumberReading | None:
        """The number of a picture that is one field, however sure; None: no digit. A
        field reader reads it whole; a strip reader reads each place the finder marks
        (the whole picture when it marks none: a tight crop) and answers `likeliest_number`."""
        assert self.reader is not None
        if not self.reads_fields:
            assert self.finder is not None
            places = self.finder.field_places(picture, name)
            # Whether the picture is one lone digit is asked once, at the surest place: asked
            # at every place, a date or a printed word below a register's number got the
            # classifier's answer for the whole picture (a rule read as a 1) at its own
            # chance (validation cells, reader v12: 4,361 -> 4,363 right; lone-digit sets unchanged).
            choices = field_choices(picture, places)
            readings = [
                (self.number_in_field(picture, field, name, alone=i == 0), chance)
                for i, (field, chance) in enumerate(choices)
            ]
            return self.second_look(picture, places, likeliest_number(readings))
        field = field_image(picture, name, height=int(self.reader.meta["input"]["shape"][1])).as_field()
        ((probs, boxes),) = self.reader.read_columns([field.strip])
        read = decode_number(probs, field, self.reader.stride, boxes)
        lone = self.lone_field_digit(picture, name, read)
        return lone if lone is not None else self._number(field, read)

    def number_in_field(
        self, picture: Picture, field: Field, name: str | None = None, alone: bool = False
    ) -> NumberReading | None:
        """A strip reader's number in a field of `picture`, however sure; None: no digit.
        `alone`: the picture is this one field (a lone digit that fills it is then read
        by the digit classifier, as on the rule-based path: `lone_digit`)."""
        assert self.reader is not None
        (probs,) = self.reader.column_probabilities([field.strip])
        read = decode_number(probs, field, self.reader.stride)
        lone = (
            self.lone_digit(picture, name, FoundFields([], picture.width, picture.height), [read], where=field.box)
            if alone
            else None
        )
        if lone is not None and lone.numbers:
            return lone.numbers[0]
        # The number's box is the field's: where the finder found it (the ink under the
        # digits' CTC columns can miss a digit's edge).
        return self._number(field, read, field.box)

    def second_look(
        self, picture: Picture, places: list[tuple[tuple[int, int, int, int], float]], number: NumberReading | None
    ) -> NumberReading | None:
        """`number`, less sure (SECOND_LOOK_MISS) unless the finder's surest place, cut with
        a wider margin and read again, reads the same: a reading that changes with the cut
        hangs on a stroke at its edge, or was taken from a place the finder doubted. No
        place found (the whole picture was read): nothing to look at again."""
        assert self.reader is not None
        if number is None or not places:
            return number
        (probs,) = self.reader.column_probabilities([field_in_box(picture, places[0][0], pad=SECOND_LOOK_PAD).strip])
        if best_path_text(probs) == number.text:
            return number
        return dataclasses.replace(number, confidence=number.confidence * SECOND_LOOK_MISS)

    def _number(
        self, field: Field, read: DecodedNumber, box: tuple[int, int, int, int] | None = None
    ) -> NumberReading | None:
        """The number read in a field, with its digits (its box: `box`, else its digits'); None: no digit."""
        if not read.text:
            return None
        box = box if box is not None else _union(d.box for d in read.digits)
        return NumberReading(read.text, read.confidence, box, self._digit_readings(field, read))

    def _kept(self, picture: Picture, numbers: list[NumberReading], warning: str | None) -> Reading:
        """A picture's reading from the numbers read on it: those at or above --min-confidence."""
        kept = [n for n in numbers if n.confidence >= self.min_confidence]
        return self._reading(kept, len(numbers) - len(kept), picture.width, picture.height, warning)

    def _reading(
        self, numbers: list[NumberReading], doubtful: int, width: int, height: int, warning: str | None
    ) -> Reading:
        """A picture's reading from the numbers kept on it; `doubtful` more were read below
        --min-confidence, which the warning says when nothing was kept."""
        if not numbers and warning is None:
            warning = "no digit found" + (
                f": {doubtful} field(s) read below --min-confidence {self.min_confidence:g}" if doubtful else ""
            )
        return Reading(
            " ".join(n.text for n in numbers), [d for n in numbers for d in n.digits], width, height, warning, numbers
        )

    def lone_field_digit(self, picture: Picture, name: str | None, read: DecodedNumber) -> NumberReading | None:
        """A field the reader reads as one digit, where the digit path also finds exactly one:
        both models' probabilities averaged (the classifier is the specialist for lone
        digits, the reader for what surrounds them), the digit path's box."""
        if self.classifier is None or len(read.digits) != 1:
            return None
        pre = self.preprocess(picture, None, name)
        if len(pre.digits) != 1:
            return None
        reader_p = np.asarray(read.digits[0].probabilities, np.float64)
        p = (self.classify(pre.images)[0] + reader_p / max(reader_p.sum(), 1e-9)) / 2
        return self.reading(pre, p[None].astype(np.float32)).numbers[0]

    @staticmethod
    def _digit_readings(field: Field, read: DecodedNumber) -> list[DigitReading]:
        return [
            DigitReading(
                d.digit,
                d.confidence,
                d.top3,
                d.box,
                field.strip[d.rows[0] : d.rows[1], d.columns[0] : d.columns[1]],
                d.probabilities,
            )
            for d in read.digits
        ]

    def read_strips(self, picture: Picture, name: str | None = None) -> Reading:
        """A strip reader's path: find the fields, read each strip whole."""
        assert self.reader is not None
        found = find_fields(picture, self.field_options, name)
        stride = self.reader.stride
        probs = self.reader.column_probabilities([f.strip for f in found.fields])
        decoded = [decode_number(p, f, stride) for f, p in zip(found.fields, probs)]
        lone = self.lone_digit(picture, name, found, decoded)
        if lone is not None and lone.confidence >= self.min_confidence:
            return lone
        doubtful = int(lone is not None)  # a lone digit read below --min-confidence
        read_fields = [] if lone is not None else [(f, d) for f, d in zip(found.fields, decoded) if d.text]
        surest = max(read_fields, key=lambda fd: fd[1].confidence, default=None)
        numbers = []
        for f, read in read_fields:
            if self.neighbours_stroke(f, read, *surest):
                continue
            if read.confidence < self.min_confidence:
                doubtful += 1
                continue
            digits = [
                DigitReading(
                    d.digit, d.confidence, d.top3, d.box, f.strip[:, d.columns[0] : d.columns[1]], d.probabilities
                )
                for d in read.digits
            ]
            numbers.append(NumberReading(read.text, read.confidence, f.box, digits))
        return self._reading(numbers, doubtful, found.width, found.height, found.warning)

    @staticmethod
    def neighbours_stroke(field: Field, read: DecodedNumber, surest_field: Field, surest: DecodedNumber) -> bool:
        """Whether a number read beside a surer one is a neighbour's stroke (see EXTRA_DOUBT)."""
        return (
            read.confidence < min(EXTRA_DOUBT, surest.confidence) and field.box[3] < EXTRA_SHORT * surest_field.box[3]
        )

    def lone_digit(
        self,
        image: Picture,
        name: str | None,
        found: FoundFields,
        decoded: list[DecodedNumber],
        where: tuple[int, int, int, int] | None = None,
    ) -> Reading | None:
        """A picture that a lone digit fills, read by the digit classifier, the specialist
        for lone digits, through the digit path's own cleaning; None when it is not one.

        In a tight crop of one digit the field finder takes a 7's bar for a rule or a
        1's stem for a border (USPS: 7s read as 1s, 1s as nothing), a number finder's
        surest box may hold one stroke, and the number reader, seeing one digit fill its
        whole field, may read a 6 as `11`. The digit path answers where its one digit
        fills most of the picture's height, and then: where the reader read one digit,
        and either no field read fills less of the picture (`found`: the rule-based
        fields the reader read) or, given `where` (the box where a number finder found
        the number), the digit covers its centre and either that box fills most of the
        picture's height too or the classifier is surer than the reader (a register
        cell's number is small in it, and a rule there is one tall piece of ink that the
        classifier reads as a 1, less surely than the reader reads the number); where the
        reader read none and the classifier is more likely right than wrong; where it
        read several and the classifier is sure, or surer than the reader, of a
        digit-shaped piece of ink."""
        if self.classifier is None:
            return None
        if any(d.digits and f.box[3] < TIGHT * found.height for f, d in zip(found.fields, decoded)):
            return None
        pre = self.preprocess(image, None, name)
        if len(pre.digits) != 1 or pre.digits[0].box[3] < TIGHT * pre.height:
            return None
        if where is not None and not _covers(pre.digits[0].box, where):
            return None
        reading = self.reading(pre, self.classify(pre.images))
        return reading if _classifier_wins(reading.confidence, decoded, pre.digits[0].box, where, pre.height) else None

    def preprocess(self, image: ImageInput, single: bool | None = None, name: str | None = None) -> Preprocessed:
        """The first half of `read`: the picture's digits as MNIST-style 28x28 images."""
        options = self.options if single is None else dataclasses.replace(self.options, single=single)
        return extract_digits(image, options, name)

    @staticmethod
    def reading(pre: Preprocessed, probabilities: np.ndarray) -> Reading:
        """The second half of `read`: the digits of `pre` with their (N, 10) probabilities.
        Split from `read` so that a server can classify the digits of many requests at once."""
        assert len(probabilities) == len(pre.digits)
        if not pre.digits:
            return Reading("", [], pre.width, pre.height, pre.warning)
        readings = []
        for crop, p in zip(pre.digits, probabilities):
            order = np.argsort(-p, kind="stable")[:3]
            top3 = [(int(i), float(p[i])) for i in order]
            readings.append(DigitReading(top3[0][0], top3[0][1], top3, crop.box, crop.image, p.tolist()))
        text = "".join(str(r.digit) for r in readings)
        x0, y0 = min(r.box[0] for r in readings), min(r.box[1] for r in readings)
        x1, y1 = max(r.box[0] + r.box[2] for r in readings), max(r.box[1] + r.box[3] for r in readings)
        number = NumberReading(
            text, float(np.prod([r.confidence for r in readings])), (x0, y0, x1 - x0, y1 - y0), readings
        )
        return Reading(text, readings, pre.width, pre.height, numbers=[number])


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ConfigError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return layout


def _classifier_wins(
    surety: float,
    decoded: list[DecodedNumber],
    digit: tuple[int, int, int, int],
    where: tuple[int, int, int, int] | None,
    height: int,
) -> bool:
    """Whether the classifier's reading of a picture's one tall `digit` (read `surety`
    sure) stands over what the reader read (`decoded`): see `Recognizer.lone_digit`."""
    digits_read = sum(len(n.digits) for n in decoded)
    if digits_read == 0:
        return surety >= LONE_SURE
    surer_than_reader = surety > max(n.confidence for n in decoded if n.digits)
    if digits_read == 1:
        number_is_small = where is not None and where[3] < TIGHT * height
        return not number_is_small or surer_than_reader
    _, _, w, h = digit
    return (surety >= LONE_OVERRULE or surer_than_reader) and LONE_NARROW * h <= w <= LONE_WIDE * h


def _covers(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    """Whether `box` covers the centre of `other` (both x, y, w, h)."""
    x, y, w, h = box
    ox, oy, ow, oh = other
    return x <= ox + ow / 2 <= x + w and y <= oy + oh / 2 <= y + h


def likeliest_number(readings: list[tuple[NumberReading | None, float]]) -> NumberReading | None:
    """A field's one number among the readings of the places the finder marked: the one
    most likely both to be the number (the finder's chance) and to be read right (the
    reader's confidence). A date or a note below a register's number can be where the
    finder is surest, but its reading is doubtful; a place read as no digit never wins.

    On the register cells' validation part: 90.95% right (the surest place) -> 92.81%
    (reader v12, its confidence the product of its digits' peaks), 93.11% (the chance that
    the columns spell the number, `ctc.labelling_probability`)."""
    read = [(number, number.confidence * chance) for number, chance in readings if number is not None]
    return max(read, key=lambda r: r[1])[0] if read else None


def _union(boxes) -> tuple[int, int, int, int]:
    boxes = list(boxes)
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def _crop_around(picture: Picture, box: tuple[int, int, int, int]) -> tuple[Picture, tuple[int, int]]:
    """The part of a picture around a box (in the picture's pixels), with PAGE_PAD of its
    height around it, as a picture of its own, and where it starts."""
    x, y, w, h = box
    pad = round(PAGE_PAD * h)
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(picture.width, x + w + pad), min(picture.height, y + h + pad)
    s = picture.scale
    gray = picture.gray[
        int(y0 * s) : max(int(y0 * s) + 1, int(y1 * s)), int(x0 * s) : max(int(x0 * s) + 1, int(x1 * s))
    ]
    return Picture(gray, x1 - x0, y1 - y0), (x0, y0)


def _shifted(number: NumberReading, dx: int, dy: int) -> NumberReading:
    def move(box):
        return (box[0] + dx, box[1] + dy, box[2], box[3])

    digits = [dataclasses.replace(d, box=move(d.box)) for d in number.digits]
    return dataclasses.replace(number, box=move(number.box), digits=digits)


__all__ = ["LAYOUTS", "DigitReading", "ImageError", "NumberReading", "Reading", "Recognizer"]
