"""Typed, serialisable training configuration. A recipe is one `Recipe` value."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from digitrec.data.synthetic import SyntheticConfig
from digitrec.data.synthetic_fields import FieldConfig
from digitrec.errors import ConfigError
from digitrec.models.inputs import Normalization
from digitrec.models.registry import ModelConfig


@dataclass(frozen=True)
class OptimizerConfig:
    name: Literal["adam", "adamw", "adadelta", "rmsprop", "sgd"]
    lr: float
    betas: tuple[float, float] = (0.9, 0.999)  # adam, adamw
    rho: float = 0.9  # adadelta's rho, rmsprop's decay (PyTorch calls it alpha)
    eps: float = 1e-7  # Keras' default epsilon (PyTorch's are 1e-8 / 1e-6)
    momentum: float = 0.0  # sgd, rmsprop
    nesterov: bool = False  # sgd
    weight_decay: float = 0.0


@dataclass(frozen=True)
class ScheduleConfig:
    kind: Literal["constant", "step", "plateau", "onecycle"] = "constant"
    step_size: int = 1  # step: epochs between decays
    gamma: float = 0.1  # step: decay factor
    factor: float = 0.5  # plateau: decay factor
    patience: int = 3  # plateau: epochs without improvement before decaying
    min_lr: float = 0.0  # plateau: floor
    min_delta: float = 1e-4  # plateau: smallest change that counts (absolute, as Keras)
    pct_start: float = 0.25  # onecycle: fraction of steps spent warming up
    div_factor: float = 25.0  # onecycle: start lr = lr / div_factor
    final_div_factor: float = 1e4  # onecycle: end lr = start lr / final_div_factor
    anneal: Literal["linear", "cos"] = "linear"  # onecycle: shape of both ramps


AUGMENT_FILLS = ("zeros", "nearest")


@dataclass(frozen=True)
class AugmentConfig:
    """Random affine per image, drawn on the device. Zero everywhere means no augmentation."""

    rotation: float = 0.0  # degrees, uniform in [-rotation, rotation]
    zoom: float = 0.0  # scale uniform in [1 - zoom, 1 + zoom]
    zoom_each_axis: bool = False  # draw the x and y zoom separately, as Keras'
    # ImageDataGenerator does (its zoom_range); else one zoom for both axes
    fill: str = "zeros"  # what the transform uncovers: zeros, or "nearest" edge pixels
    # (Keras' default fill_mode, which a tutorial that never sets it gets)
    shift: float = 0.0  # fraction of the image size, per axis, uniform in [-shift, shift]
    elastic: float = 0.0  # largest elastic displacement, in pixels (a smooth random field)
    thickness: float = 0.0  # probability that a stroke is thickened or thinned by a pixel
    blur: float = 0.0  # largest blend towards a Gaussian-blurred copy, in [0, 1]

    @property
    def enabled(self) -> bool:
        return bool(self.rotation or self.zoom or self.shift or self.elastic or self.thickness or self.blur)


@dataclass(frozen=True)
class ReaderConfig:
    """What a number reader trains on: synthetic numbers made on the fly, mixed with real
    labelled fields. Folders are labelled folders (`data.folders`), relative to the data root."""

    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    digit_sources: tuple[str, ...] = ("mnist", "optdigits")  # single digits the numbers are built from
    real: tuple[str, ...] = ("danish-rowid/train", "orand-car-a-dev:train")  # real fields trained on
    real_weights: tuple[float, ...] = (0.6, 0.4)  # share of each real set among the real fields of a batch
    validation: tuple[str, ...] = (
        "danish-rowid/validation",
        "orand-car-a-dev:validation",
    )  # choose checkpoints on these
    real_share: float = 0.5  # fraction of the training fields that are real (the rest synthetic)
    steps_per_epoch: int = 200
    # set: whole fields (`preprocess.field_image`), else strips cut by the field finder
    fields: FieldConfig | None = None
    # Set (for strips): `cut_share` of the synthetic strips are cut from synthetic fields
    # around their number, as the number finder cuts a real field (`CutFieldMaker`). Tried
    # on v12's recipe (H200, 2026-12-04): synthetic fields read 69.3% -> 75.3%, but the
    # validation parts fell 92.6% -> 89.1% (at 0.75 with fewer real fields: 76.7%, 89.4%).
    cut_fields: FieldConfig | None = None
    cut_share: float = 0.5
    # A number finder's checkpoint ("shipped": digitrec's own): each real field becomes the
    # one strip where it is surest there is a number, as `Recognizer` reads a field with
    # it; None: strips cut by the rule-based field finder.
    finder: str | None = None

    def validate(self) -> None:
        if self.cut_fields is not None and self.fields is not None:
            raise ConfigError(
                "cut_fields cuts a strip reader's synthetic strips from fields; "
                "a reader of whole fields (fields set) has no strips to cut"
            )
        if not 0.0 <= self.cut_share <= 1.0:
            raise ConfigError(f"cut_share is a fraction in [0, 1], got {self.cut_share}")
        if not 0.0 <= self.real_share <= 1.0:
            raise ConfigError(f"real_share is a fraction in [0, 1], got {self.real_share}")


@dataclass(frozen=True)
class Recipe:
    """Everything that decides how a model is trained; the docstring-like `source` says
    what it reproduces and `published` what its source reported."""

    name: str
    summary: str
    model: ModelConfig
    optimizer: OptimizerConfig
    epochs: int
    batch_size: int
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    normalization: Normalization = field(default_factory=Normalization)
    val_split: float = 0.0  # fraction of the training set held out for validation
    label_smoothing: float = 0.0
    # decay of an exponential moving average of the weights, which is what gets validated and saved; 0 = off
    ema: float = 0.0
    drop_last: bool = False  # Keras keeps the last partial batch; fast recipes drop it
    reader: ReaderConfig | None = None  # set for number readers (field strips, CTC); None for digit classifiers
    source: str = ""
    published: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _to_jsonable(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        return _from_jsonable(cls, d)

    def with_overrides(self, **overrides: Any) -> Recipe:
        """A copy with top-level fields replaced; `lr` reaches into the optimizer, `finder`
        into a strip reader's data (the number finder that cuts its real fields)."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        recipe = self
        if "lr" in changes:
            recipe = dataclasses.replace(
                recipe, optimizer=dataclasses.replace(recipe.optimizer, lr=float(changes.pop("lr")))
            )
        if "finder" in changes:
            finder = str(Path(changes.pop("finder")).resolve())
            if recipe.reader is None or recipe.reader.fields is not None:
                raise ConfigError(
                    f"--finder cuts a strip reader's real fields; recipe {recipe.name} does not train one"
                )
            recipe = dataclasses.replace(recipe, reader=dataclasses.replace(recipe.reader, finder=finder))
        unknown = set(changes) - {f.name for f in dataclasses.fields(Recipe)}
        if unknown:
            raise ConfigError(f"recipes have no field {', '.join(sorted(unknown))}")
        recipe = dataclasses.replace(recipe, **changes)
        recipe.validate()
        return recipe

    def validate(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {self.batch_size}")
        if not 0.0 <= self.val_split < 1.0:
            raise ConfigError(f"the validation split is a fraction in [0, 1), got {self.val_split}")
        if self.optimizer.lr <= 0:
            raise ConfigError(f"the learning rate must be positive, got {self.optimizer.lr}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"the EMA decay must be in [0, 1), got {self.ema}")
        if self.augment.fill not in AUGMENT_FILLS:
            raise ConfigError(f"augmentation fill must be one of {', '.join(AUGMENT_FILLS)}, got {self.augment.fill!r}")
        if self.reader is not None:
            self.reader.validate()


def _to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, ModelConfig):
        return obj.to_dict()
    if isinstance(obj, (tuple, list)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_jsonable(v) for k, v in obj.items()}
    return obj


def _from_jsonable(tp: Any, value: Any) -> Any:
    """Rebuild a (nested) dataclass from `_to_jsonable` output, checking field names."""
    if tp is ModelConfig:
        return ModelConfig.from_dict(value)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        if value is None or len(options) != 1:
            return value
        return _from_jsonable(options[0], value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"expected a mapping for {tp.__name__}, got {value!r}")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = set(value) - names
        if unknown:
            raise ConfigError(f"{tp.__name__} has no field {', '.join(sorted(unknown))}")
        return tp(**{k: _from_jsonable(hints[k], v) for k, v in value.items()})
    if typing.get_origin(tp) is tuple and isinstance(value, list):
        return tuple(value)  # JSON has no tuples; frozen dataclasses compare them to tuples
    return value
