"""Figures, drawn with matplotlib's non-interactive Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from digitrec.data.dataset import DigitDataset  # noqa: E402
from digitrec.fileio import atomic_write_bytes  # noqa: E402


def sample_grid(data: DigitDataset, count: int = 36, seed: int = 0) -> Figure:
    """A grid of random images, each titled with its label."""
    count = max(1, min(count, len(data)))
    chosen = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:count]
    cols = min(count, 6 if count <= 36 else 10)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.55 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, chosen.tolist()):
        ax.imshow(data.images[i].cpu().numpy(), cmap="gray_r", vmin=0, vmax=255)
        title = f"label {int(data.labels[i])}" if data.labels is not None else f"#{i}"
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"{count} random samples from {data.name}", fontsize=11)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
