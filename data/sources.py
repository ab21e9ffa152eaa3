"""Where training samples come from, one batch at a time.

A source has `labels` (int64 [N]), `channels`, `steps`, `len()` and
`batch(indices) -> uint8 [b, C, T]`: the trainer never needs the whole dense array,
so a file that stores spikes as events can be read batch by batch. `ArraySource`
wraps arrays already in memory; `Subset` is a fixed selection of another source
(the validation split, a rank's shard).
"""
from __future__ import annotations

from typing import Protocol

import numpy as np


class Source(Protocol):
    labels: np.ndarray

    @property
    def channels(self) -> int: ...

    @property
    def steps(self) -> int: ...

    def __len__(self) -> int: ...

    def batch(self, indices: np.ndarray) -> np.ndarray: ...


class ArraySource:
    """Dense uint8 spikes [N, C, T] already in memory."""

    def __init__(self, X: np.ndarray, y: np.ndarray):
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
        self.X, self.labels = X, np.asarray(y, dtype=np.int64)

    @property
    def channels(self) -> int:
        return int(self.X.shape[1])

    @property
    def steps(self) -> int:
        return int(self.X.shape[2])

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: np.ndarray) -> np.ndarray:
        return np.asarray(self.X[np.asarray(indices)], dtype=np.uint8)


class Subset:
    """The samples `indices` of `base`, renumbered 0..len-1."""

    def __init__(self, base: Source, indices: np.ndarray):
        self.base, self.indices = base, np.asarray(indices, dtype=np.int64)
        self.labels = base.labels[self.indices]

    @property
    def channels(self) -> int:
        return self.base.channels

    @property
    def steps(self) -> int:
        return self.base.steps

    def __len__(self) -> int:
        return len(self.indices)

    def batch(self, indices: np.ndarray) -> np.ndarray:
        return self.base.batch(self.indices[np.asarray(indices)])


def as_source(X, y=None) -> Source:
    """A source from arrays, or a source passed through."""
    if y is None:
        return X
    return ArraySource(X, y)


def validation_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """(train indices, validation indices): a seeded, per-class split; each class gives
    round(fraction x its count) samples (at least one when fraction > 0 and it has two)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must lie in [0, 1), got {fraction}")
    rng = np.random.default_rng([seed, 0x7A1])
    val = []
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        n = int(round(fraction * len(members)))
        if fraction > 0 and len(members) >= 2:
            n = min(max(n, 1), len(members) - 1)
        val.append(rng.permutation(members)[:n])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx)
    return train_idx, val_idx


FINGERPRINT_SAMPLES = 64  # spread over the set; with every label, enough to tell sets apart


def fingerprint(source: Source) -> str:
    """A short hash of what a training run learns from: the shape, every label, and the
    spikes of FINGERPRINT_SAMPLES samples spread evenly over the set (reading them all
    would cost an SHD-size epoch). A run folder records it, so `--resume` on other data
    of the same shape is refused instead of carrying on with it."""
    import hashlib

    n = len(source)
    h = hashlib.sha256(f"{n} {source.channels} {source.steps}".encode())
    h.update(np.ascontiguousarray(source.labels, dtype=np.int64).tobytes())
    picks = np.unique(np.linspace(0, n - 1, min(n, FINGERPRINT_SAMPLES)).astype(np.int64))
    if n:
        h.update(np.ascontiguousarray(source.batch(picks), dtype=np.uint8).tobytes())
    return h.hexdigest()[:16]
