"""What the engine trains: a task turns data into batches, outputs into a loss, and a
model into validation figures. The engine's loop, checkpoints and resume are the same
for every kind of model; adding a kind is adding a task.

- `ClassificationTask`: 28x28 digits and their classes (the tutorials' recipes, ours);
- `ReaderTask`: field strips and their digit strings (the number reader, CTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from digitrec.data.dataset import DigitDataset
from digitrec.data.folders import FieldDataset
from digitrec.data.synthetic import NumberMaker
from digitrec.models.inputs import predict_logits
from digitrec.models.reader import BLANK, STRIDE
from digitrec.training.augment import prepare_batch, warp_strips
from digitrec.training.config import Recipe

# --- tuning --------------------------------------------------------------------------
VAL_BATCH = 256  # field strips per validation batch
POOL_STEPS = 8  # reader batches drawn at once and regrouped by width: each pads to its own
# widest strip, not to the widest of a mix (a register cell is ~35 px, a cheque ~95, a
# synthetic number up to ~220: mixed batches spent ~3/4 of their time on padding)


@dataclass(frozen=True)
class Validation:
    loss: float
    accuracy: float  # classes right, or whole numbers right for a reader


@dataclass(frozen=True)
class BatchStats:
    loss_sum: torch.Tensor  # reported loss times the batch size
    correct: torch.Tensor
    count: int


class Task(Protocol):
    train_size: int
    val_size: int

    def steps_per_epoch(self, recipe: Recipe) -> int: ...

    def batches(self, recipe: Recipe, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, object]]: ...

    def loss(self, output: torch.Tensor, target: object, recipe: Recipe) -> torch.Tensor: ...

    def stats(self, output: torch.Tensor, target: object, loss: torch.Tensor, recipe: Recipe) -> BatchStats: ...

    def validate(self, model: nn.Module, recipe: Recipe) -> Validation | None: ...


class ClassificationTask:
    def __init__(self, train_set: DigitDataset, val_set: DigitDataset | None):
        assert train_set.labels is not None
        self.train_set, self.val_set = train_set, val_set
        self.train_size, self.val_size = len(train_set), len(val_set) if val_set is not None else 0

    def steps_per_epoch(self, recipe: Recipe) -> int:
        n, bs = len(self.train_set), recipe.batch_size
        return n // bs if recipe.drop_last else -(-n // bs)

    def batches(self, recipe: Recipe, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass over the training set in a fresh random order, augmented on the device."""
        data, bs = self.train_set, recipe.batch_size
        order = torch.randperm(len(data), generator=generator, device=data.images.device)
        for step in range(self.steps_per_epoch(recipe)):
            idx = order[step * bs : (step + 1) * bs]
            yield prepare_batch(data.images[idx], recipe.normalization, recipe.augment, generator), data.labels[idx]

    def loss(self, output: torch.Tensor, target: torch.Tensor, recipe: Recipe) -> torch.Tensor:
        return F.cross_entropy(output, target, label_smoothing=recipe.label_smoothing)

    def stats(self, output: torch.Tensor, target: torch.Tensor, loss: torch.Tensor, recipe: Recipe) -> BatchStats:
        # Report plain cross-entropy, so training and validation losses are comparable
        # even when the optimised loss is label-smoothed.
        reported = loss if recipe.label_smoothing == 0 else F.cross_entropy(output.float(), target)
        return BatchStats(reported * len(target), (output.argmax(1) == target).sum(), len(target))

    def validate(self, model: nn.Module, recipe: Recipe) -> Validation | None:
        if self.val_set is None or not len(self.val_set):
            return None
        logits = predict_logits(model, self.val_set.images, recipe.normalization)
        labels = self.val_set.labels.to(logits.device)
        return Validation(F.cross_entropy(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item())


# --- the number reader ----------------------------------------------------------------


@dataclass
class StripTargets:
    digits: torch.Tensor  # long (B, L_max): digits, -1 past each number's end
    lengths: torch.Tensor  # long (B,)


def texts_to_targets(texts: list[str] | tuple[str, ...], device: torch.device) -> StripTargets:
    longest = max((len(t) for t in texts), default=0)
    digits = torch.full((len(texts), max(1, longest)), -1, dtype=torch.long)
    for i, t in enumerate(texts):
        digits[i, : len(t)] = torch.tensor([int(c) for c in t], dtype=torch.long)
    return StripTargets(digits.to(device), torch.tensor([len(t) for t in texts], dtype=torch.long, device=device))


def ctc_loss(logits: torch.Tensor, targets: StripTargets) -> torch.Tensor:
    """Mean CTC loss per number of (B, T, 11) logits; digit d is class d + 1."""
    log_probs = logits.float().log_softmax(2).transpose(0, 1)  # (T, B, C)
    t, b = log_probs.shape[:2]
    flat = (targets.digits + 1).clamp_min(1)  # padding is ignored past each length
    input_lengths = torch.full((b,), t, dtype=torch.long, device=logits.device)
    return F.ctc_loss(log_probs, flat, input_lengths, targets.lengths, blank=BLANK, reduction="mean", zero_infinity=True)


def greedy_digits(logits: torch.Tensor) -> torch.Tensor:
    """Best-path CTC decoding of (B, T, 11) logits, vectorised: (B, T) digits, -1 padded."""
    best = logits.argmax(2)
    prev = F.pad(best, (1, 0), value=BLANK)[:, :-1]
    emit = (best != BLANK) & (best != prev)
    pos = torch.cumsum(emit.long(), 1) - 1
    out = torch.full_like(best, -1)
    out.scatter_(1, torch.where(emit, pos, best.shape[1] - 1), torch.where(emit, best - 1, -1))
    # The scatter's dump slot (the last column) only matters if it was also written by a
    # real digit, which needs T emitted digits in T columns: a number as long as the strip.
    return out


def exact_matches(logits: torch.Tensor, targets: StripTargets) -> torch.Tensor:
    decoded = greedy_digits(logits)
    t = decoded.shape[1]
    want = torch.full_like(decoded, -1)
    n = min(t, targets.digits.shape[1])
    want[:, :n] = targets.digits[:, :n]
    return (decoded == want).all(1) & (targets.lengths <= t)


def to_stride(width: int) -> int:
    """`width` rounded up to a whole number of the reader's output columns."""
    return -(-width // STRIDE) * STRIDE


def pad_strips(strips: list[torch.Tensor]) -> torch.Tensor:
    """(B, 1, 32, W_i) float strips, each 0 past its fields' ends -> one batch padded with 0
    to a multiple of STRIDE."""
    width = to_stride(max(s.shape[-1] for s in strips))
    return torch.cat([F.pad(s, (0, width - s.shape[-1])) for s in strips], 0)


class ReaderTask:
    """Synthetic numbers mixed with real fields; validated on real fields, whole numbers."""

    def __init__(self, maker: NumberMaker, real: list[FieldDataset], weights: tuple[float, ...], val: list[FieldDataset], real_share: float):
        self.maker, self.val, self.real_share = maker, val, real_share
        self.device = maker.device
        self.train_size = sum(len(d) for d in real)
        self.val_size = sum(len(d) for d in val)
        real = [d for d in real if len(d)]
        # All real strips in one padded uint8 tensor on the device, so that a batch of them
        # is one index and one slice. Each field's chance of being drawn is its set's
        # weight shared among the set's fields.
        width = max((d.strips.shape[-1] for d in real), default=8)
        self.real_strips = torch.cat([F.pad(d.strips, (0, width - d.strips.shape[-1])) for d in real]).to(self.device) if real else None
        self.real_widths = torch.cat([d.widths for d in real]).to(self.device) if real else None
        self.real_texts = [t for d in real for t in d.texts]
        self.real_weights = torch.cat([torch.full((len(d),), w / len(d)) for d, w in zip(real, weights)]) if real else None

    def steps_per_epoch(self, recipe: Recipe) -> int:
        assert recipe.reader is not None
        return recipe.reader.steps_per_epoch

    def _real_batch(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        picks = torch.multinomial(self.real_weights, n, replacement=True, generator=generator)
        idx = picks.to(self.device)
        widths = self.real_widths[idx]
        strips = self.real_strips[idx, :, : int(widths.max())].unsqueeze(1).float().div_(255)
        return strips, widths, [self.real_texts[i] for i in picks.tolist()]

    def _pool(self, steps: int, n_syn: int, n_real: int, generator: torch.Generator, cpu: torch.Generator):
        """The strips, field widths and texts of `steps` batches, synthetic and real mixed."""
        parts, widths, texts = [], [], []
        if n_syn:
            syn = self.maker.batch(steps * n_syn, generator)
            parts.append(syn.strips[..., : int(syn.widths.max())])  # past every field's end: padding
            widths.append(syn.widths)
            texts += syn.texts()
        if n_real:
            real, real_widths, real_texts = self._real_batch(steps * n_real, cpu)
            real, real_widths = warp_strips(real, real_widths, generator)
            parts.append(real)
            widths.append(real_widths)
            texts += real_texts
        return pad_strips(parts), torch.cat(widths), texts

    def batches(self, recipe: Recipe, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, StripTargets]]:
        n_real = round(recipe.batch_size * self.real_share) if self.real_strips is not None else 0
        n_syn = recipe.batch_size - n_real
        cpu = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator, device=self.device)))
        left = self.steps_per_epoch(recipe)
        while left:
            steps = min(POOL_STEPS, left)
            strips, widths, texts = self._pool(steps, n_syn, n_real, generator, cpu)
            by_width = torch.argsort(widths, stable=True)
            for chunk in torch.randperm(steps, generator=cpu).tolist():
                idx = by_width[chunk * recipe.batch_size : (chunk + 1) * recipe.batch_size]
                x = strips[idx, :, :, : to_stride(int(widths[idx].max()))].contiguous(memory_format=torch.channels_last)
                yield x, texts_to_targets([texts[i] for i in idx.tolist()], self.device)
            left -= steps

    def loss(self, output: torch.Tensor, target: StripTargets, recipe: Recipe) -> torch.Tensor:
        return ctc_loss(output, target)

    def stats(self, output: torch.Tensor, target: StripTargets, loss: torch.Tensor, recipe: Recipe) -> BatchStats:
        n = len(target.lengths)
        return BatchStats(loss * n, exact_matches(output, target).sum(), n)

    def validate(self, model: nn.Module, recipe: Recipe) -> Validation | None:
        return score_fields(model, self.val, self.device) if self.val else None


@torch.inference_mode()
def score_fields(model: nn.Module, sets: list[FieldDataset], device: torch.device) -> Validation:
    """CTC loss and whole numbers right of a reader on labelled strips, the mean over
    `sets`: each set counts alike, however many fields it has, so that a small set of
    cheques does not drown in a large register."""
    was_training = model.training
    model.eval()
    losses, accuracies = [], []
    for data in sets:
        loss_sum, correct, count = 0.0, 0, 0
        order = torch.argsort(data.widths).tolist()  # similar widths batch with little padding
        for start in range(0, len(order), VAL_BATCH):
            idx = order[start : start + VAL_BATCH]
            w = to_stride(int(data.widths[idx].max()))
            x = data.strips[idx][:, None, :, :w].float().div_(255).to(device)
            targets = texts_to_targets([data.texts[i] for i in idx], device)
            logits = model(x.contiguous(memory_format=torch.channels_last))
            loss_sum += float(ctc_loss(logits, targets)) * len(idx)
            correct += int(exact_matches(logits, targets).sum())
            count += len(idx)
        losses.append(loss_sum / count)
        accuracies.append(correct / count)
    model.train(was_training)
    return Validation(sum(losses) / len(losses), sum(accuracies) / len(accuracies))
