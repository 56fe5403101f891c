"""What the engine trains: a task turns data into batches, outputs into a loss, and a
model into validation figures. The engine's loop, checkpoints and resume are the same
for every kind of model; adding a kind is adding a task.

- `ClassificationTask`: 28x28 digits and their classes (the tutorials' recipes, ours);
- `ReaderTask`: field strips and their digit strings (the number reader, CTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from digitrec.data.dataset import DigitDataset
from digitrec.data.folders import FieldDataset
from digitrec.data.synthetic import NumberMaker, cat_padded
from digitrec.data.synthetic_fields import CutFieldMaker, FieldMaker
from digitrec.models.inputs import predict_logits
from digitrec.models.reader import BLANK, NUM_CLASSES, STRIDE
from digitrec.training.augment import prepare_batch, warp_strips
from digitrec.training.config import Recipe
from digitrec.training.distributed import SINGLE, Distributed

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

    def shard(self, group: Distributed, seed: int) -> None: ...  # train on this rank's part of each batch

    def set_epoch(self, epoch: int) -> None: ...


ORDER_SEED = 1_000_003  # DDP: epoch e's shared order is drawn from seed * ORDER_SEED + e


class ClassificationTask:
    def __init__(self, train_set: DigitDataset, val_set: DigitDataset | None):
        assert train_set.labels is not None
        self.train_set, self.val_set = train_set, val_set
        self.train_size, self.val_size = len(train_set), len(val_set) if val_set is not None else 0
        self.group, self.order_seed, self.epoch = SINGLE, 0, 1

    def shard(self, group: Distributed, seed: int) -> None:
        """Under DDP every rank draws the same order of the epoch (from the run's seed and
        the epoch, not from its own generator, which augments its own images) and trains
        on its slice of each batch, so that one step of all ranks is one batch."""
        self.group, self.order_seed = group, seed

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def steps_per_epoch(self, recipe: Recipe) -> int:
        n, bs = len(self.train_set), recipe.batch_size
        if recipe.drop_last or n % bs < self.group.world:  # DDP: a last batch too small to give each rank an image goes
            return n // bs
        return -(-n // bs)

    def epoch_indices(self, recipe: Recipe, generator: torch.Generator) -> Iterator[torch.Tensor]:
        """This rank's images of each step of one epoch, in a fresh random order."""
        bs, device = recipe.batch_size, self.train_set.images.device
        if self.group.active:
            generator = torch.Generator(device=device).manual_seed(self.order_seed * ORDER_SEED + self.epoch)
        order = torch.randperm(len(self.train_set), generator=generator, device=device)
        for step in range(self.steps_per_epoch(recipe)):
            idx = order[step * bs : (step + 1) * bs]
            yield idx[self.group.rank :: self.group.world] if self.group.active else idx

    def batches(self, recipe: Recipe, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass over the training set in a fresh random order, augmented on the device."""
        data = self.train_set
        for idx in self.epoch_indices(recipe, generator):
            yield prepare_batch(data.images[idx], recipe.normalization, recipe.augment, generator), data.labels[idx]

    def loss(self, output: torch.Tensor, target: torch.Tensor, recipe: Recipe) -> torch.Tensor:
        return F.cross_entropy(output, target, label_smoothing=recipe.label_smoothing)

    def stats(self, output: torch.Tensor, target: torch.Tensor, loss: torch.Tensor, recipe: Recipe) -> BatchStats:
        # Report plain cross-entropy, so training and validation losses are comparable
        # even when the optimised loss is label-smoothed.
        reported = loss if recipe.label_smoothing == 0 else F.cross_entropy(output.float(), target)
        return BatchStats(reported * len(target), (output.argmax(1) == target).sum(), len(target))

    def validate(self, model: nn.Module, recipe: Recipe) -> Validation | None:
        """Loss and accuracy on the validation split; under DDP each rank scores its
        share of it and the sums are added up."""
        if self.val_set is None or not len(self.val_set):
            return None
        g = self.group
        images, labels = self.val_set.images[g.rank :: g.world], self.val_set.labels[g.rank :: g.world]
        logits = predict_logits(model, images, recipe.normalization)
        labels = labels.to(logits.device)
        loss_sum, correct, count = g.sum(
            F.cross_entropy(logits, labels, reduction="sum"), (logits.argmax(1) == labels).sum(), len(labels)
        )
        return Validation(loss_sum / count, correct / count)


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
    """Mean CTC loss per number of (B, T, 11) logits (a box head's outputs past them are
    not this loss's); digit d is class d + 1."""
    log_probs = logits[..., :NUM_CLASSES].float().log_softmax(2).transpose(0, 1)  # (T, B, C)
    t, b = log_probs.shape[:2]
    flat = (targets.digits + 1).clamp_min(1)  # padding is ignored past each length
    input_lengths = torch.full((b,), t, dtype=torch.long, device=logits.device)
    return F.ctc_loss(
        log_probs, flat, input_lengths, targets.lengths, blank=BLANK, reduction="mean", zero_infinity=True
    )


def greedy_digits(logits: torch.Tensor) -> torch.Tensor:
    """Best-path CTC decoding of (B, T, 11) logits, vectorised: (B, T) digits, -1 padded."""
    best = logits[..., :NUM_CLASSES].argmax(2)
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
    return cat_padded(strips, to_stride(max(s.shape[-1] for s in strips)))


class ReaderTask:
    """Synthetic numbers mixed with real fields; validated on real fields, whole numbers."""

    def __init__(
        self,
        maker: NumberMaker | FieldMaker | CutFieldMaker,
        real: list[FieldDataset],
        weights: tuple[float, ...],
        val: list[FieldDataset],
        real_share: float,
    ):
        self.maker, self.val, self.real_share = maker, val, real_share
        self.device = maker.device
        self.train_size = sum(len(d) for d in real)
        self.val_size = sum(len(d) for d in val)
        real = [d for d in real if len(d)]
        # All real strips in one padded uint8 tensor on the device, so that a batch of them
        # is one index and one slice. Each field's chance of being drawn is its set's
        # weight shared among the set's fields.
        self.real_strips = cat_padded([d.strips for d in real]).to(self.device) if real else None
        self.real_widths = torch.cat([d.widths for d in real]).to(self.device) if real else None
        self.real_texts = [t for d in real for t in d.texts]
        self.real_weights = (
            torch.cat([torch.full((len(d),), w / len(d)) for d, w in zip(real, weights)]) if real else None
        )
        self.group = SINGLE

    def shard(self, group: Distributed, seed: int) -> None:
        """Under DDP each rank draws its own share of every batch, from its own generator
        (seeded by its rank): disjoint random streams of synthetic numbers and real fields."""
        self.group = group

    def set_epoch(self, epoch: int) -> None:
        pass  # a reader's epoch is a count of random draws, not a pass in some order

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
        batch_size = max(1, recipe.batch_size // self.group.world)  # this rank's share
        n_real = round(batch_size * self.real_share) if self.real_strips is not None else 0
        n_syn = batch_size - n_real
        cpu = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator, device=self.device)))
        left = self.steps_per_epoch(recipe)
        while left:
            steps = min(POOL_STEPS, left)
            strips, widths, texts = self._pool(steps, n_syn, n_real, generator, cpu)
            by_width = torch.argsort(widths, stable=True)
            for chunk in torch.randperm(steps, generator=cpu).tolist():
                idx = by_width[chunk * batch_size : (chunk + 1) * batch_size]
                x = strips[idx, :, :, : to_stride(int(widths[idx].max()))].contiguous(memory_format=torch.channels_last)
                yield x, texts_to_targets([texts[i] for i in idx.tolist()], self.device)
            left -= steps

    def loss(self, output: torch.Tensor, target: StripTargets, recipe: Recipe) -> torch.Tensor:
        return ctc_loss(output, target)

    def stats(self, output: torch.Tensor, target: StripTargets, loss: torch.Tensor, recipe: Recipe) -> BatchStats:
        n = len(target.lengths)
        return BatchStats(loss * n, exact_matches(output, target).sum(), n)

    def validate(self, model: nn.Module, recipe: Recipe) -> Validation | None:
        return score_fields(model, self.val, self.device, self.group) if self.val else None


@torch.inference_mode()
def score_fields(
    model: nn.Module, sets: list[FieldDataset], device: torch.device, group: Distributed = SINGLE
) -> Validation:
    """CTC loss and whole numbers right of a reader on labelled strips, the mean over
    `sets`: each set counts alike, however many fields it has, so that a small set of
    cheques does not drown in a large register. Under DDP each rank scores its share of
    each set and the sums are added up."""
    was_training = model.training
    model.eval()
    losses, accuracies = [], []
    for data in sets:
        loss_sum, correct, count = 0.0, 0, 0
        order = torch.argsort(data.widths).tolist()[
            group.rank :: group.world
        ]  # similar widths batch with little padding
        for start in range(0, len(order), VAL_BATCH):
            idx = order[start : start + VAL_BATCH]
            w = to_stride(int(data.widths[idx].max()))
            x = data.strips[idx][:, None, :, :w].float().div_(255).to(device)
            targets = texts_to_targets([data.texts[i] for i in idx], device)
            logits = model(x.contiguous(memory_format=torch.channels_last))
            loss_sum += float(ctc_loss(logits, targets)) * len(idx)
            correct += int(exact_matches(logits, targets).sum())
            count += len(idx)
        loss_sum, correct, count = group.sum(loss_sum, correct, count)
        losses.append(loss_sum / count)
        accuracies.append(correct / count)
    model.train(was_training)
    return Validation(sum(losses) / len(losses), sum(accuracies) / len(accuracies))
