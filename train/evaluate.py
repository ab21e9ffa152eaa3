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
