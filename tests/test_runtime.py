"""runtime: the reader runs without oneDNN, whose per-shape kernel cache grew a process
reading strips of every width (see runtime.without_onednn)."""

from __future__ import annotations

import numpy as np
import torch

from digitrec.runtime import load_runtime_model
from digitrec.shipped import READER


def test_the_reader_runs_without_onednn_and_gives_the_setting_back(monkeypatch):
    reader = load_runtime_model(READER)
    seen = []
    forward = reader.loaded.model.forward
    monkeypatch.setattr(
        reader.loaded.model, "forward", lambda x: seen.append(torch.backends.mkldnn.enabled) or forward(x)
    )
    assert torch.backends.mkldnn.enabled
    strips = [np.full((32, width), 0, np.uint8) for width in (40, 96)]
    assert len(reader.column_probabilities(strips)) == 2
    assert seen == [False] and torch.backends.mkldnn.enabled
