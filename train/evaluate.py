"""PyTorch-side evaluation of the trained model: the 'trained' half of parity.

The input is dense spikes uint8 [N, C, T] or a batch source (`spiketime.data.sources`:
an `EventSource` of an events file, say): a source is read `batch_size` samples at a
time, so a whole split never needs to be dense; the outputs are the same either way.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from spiketime.data.sources import Source
from spiketime.train.model import SpikingNet


def _batches(X: np.ndarray | Source, batch_size: int) -> Iterator[torch.Tensor]:
    n = len(X)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        batch = X.batch(np.arange(start, stop)) if hasattr(X, "batch") else X[start:stop]
        yield torch.as_tensor(batch, dtype=torch.float32)


def _steps(X: np.ndarray | Source) -> int:
    return int(X.steps) if hasattr(X, "batch") else int(X.shape[-1])


def run_trained(model: SpikingNet, X: np.ndarray | Source, batch_size: int = 256) -> np.ndarray:
    """Output spikes uint8 [N, classes, T] of slayer's forward pass, each sample from rest."""
    model.eval()
    outs = []
    with torch.no_grad():
        for batch in _batches(X, batch_size):
            outs.append(model(batch).numpy().astype(np.uint8))
    if not outs:
        return np.zeros((0, model.config.outputs, _steps(X)), dtype=np.uint8)
    return np.concatenate(outs)


def run_trained_layers(model: SpikingNet, X: np.ndarray | Source,
                       batch_size: int = 256) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Output spikes and every hidden layer's, uint8 [N, n_i, T], of slayer's forward pass."""
    model.eval()
    outs, hidden = [], []
    with torch.no_grad():
        for batch in _batches(X, batch_size):
            out, layers = model(batch, hidden=True)
            outs.append(out.numpy().astype(np.uint8))
            hidden.append([h.numpy().astype(np.uint8) for h in layers])
    if not outs:
        return run_trained(model, X), tuple(
            np.zeros((0, n, _steps(X)), np.uint8) for n in model.config.hidden)
    return np.concatenate(outs), tuple(np.concatenate(h) for h in zip(*hidden, strict=True))
