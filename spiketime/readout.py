"""Class decisions from output spike trains, shared by every backend and the trainer."""
from __future__ import annotations

import numpy as np


def predict(spikes: np.ndarray) -> np.ndarray:
    """Most output spikes wins; a tie goes to the lowest class index. [N, K, T] -> [N]."""
    counts = np.asarray(spikes).reshape(len(spikes), spikes.shape[1], -1).sum(axis=-1)
    return counts.argmax(axis=1).astype(np.int64)


def accuracy(spikes: np.ndarray, labels: np.ndarray) -> float:
    labels = np.asarray(labels)
    return float((predict(spikes) == labels).mean()) if len(labels) else float("nan")
