"""PyTorch-side evaluation of the trained model: the 'trained' half of parity."""
from __future__ import annotations

import numpy as np
import torch

from spiketime.train.model import SpikingNet


def run_trained(model: SpikingNet, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Output spikes uint8 [N, classes, T] of slayer's forward pass, each sample from rest."""
    model.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            batch = torch.as_tensor(X[start:start + batch_size], dtype=torch.float32)
            outs.append(model(batch).numpy().astype(np.uint8))
    if not outs:
        return np.zeros((0, model.config.outputs, X.shape[-1]), dtype=np.uint8)
    return np.concatenate(outs)


def run_trained_layers(model: SpikingNet, X: np.ndarray,
                       batch_size: int = 256) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Output spikes and every hidden layer's, uint8 [N, n_i, T], of slayer's forward pass."""
    model.eval()
    outs, hidden = [], []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            batch = torch.as_tensor(X[start:start + batch_size], dtype=torch.float32)
            out, layers = model(batch, hidden=True)
            outs.append(out.numpy().astype(np.uint8))
            hidden.append([h.numpy().astype(np.uint8) for h in layers])
    if not outs:
        return run_trained(model, X), tuple(
            np.zeros((0, n, X.shape[-1]), np.uint8) for n in model.config.hidden)
    return np.concatenate(outs), tuple(np.concatenate(h) for h in zip(*hidden, strict=True))
