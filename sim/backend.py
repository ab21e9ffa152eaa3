"""The backend interface: run a NetX file on a batch of spike trains.

Every backend (Lava CPU, the emulator, Loihi 2) takes spike trains in SLAYER's
NCT order, uint8 [N, C, T], starts every sample from rest, and returns output
spikes [N, classes, T] aligned with slayer's forward pass (zero time offset).
Backends given the same file and input return the same arrays, bit for bit.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from spiketime.errors import UserError
from spiketime.event_sums import count_ones
from spiketime.export.netx import NetxNetwork


@dataclass(frozen=True)
class RunResult:
    output: np.ndarray  # uint8 [N, classes, T]
    hidden: tuple[np.ndarray, ...] = ()  # uint8 [N, n_i, T] per hidden layer, when asked
    u: tuple[np.ndarray, ...] = ()  # int32 [N, n_i, T] per layer, when asked (emulator)
    v: tuple[np.ndarray, ...] = ()


class Backend(Protocol):
    name: str

    def run(self, netx_file: str | os.PathLike, X: np.ndarray, *,
            hidden: bool = False) -> RunResult:
        ...


def check_input(net: NetxNetwork, X: np.ndarray, source: str = "input") -> np.ndarray:
    """Validate spike trains against a network; return them as uint8 [N, C, T]."""
    X = np.asarray(X)
    if X.ndim != 3:
        raise UserError(f"{source} must be spike trains [samples, channels, steps], "
                        f"got shape {X.shape}")
    if X.shape[1] != net.input_size:
        raise UserError(
            f"{source} has {X.shape[1]} channels but the network expects {net.input_size} inputs"
        )
    if X.size and not _binary(X):
        raise UserError(f"{source} must be binary spike trains (0/1)")
    return X.astype(np.uint8, copy=False)


def _binary(X: np.ndarray) -> bool:
    """All values 0 or 1: true of any bool array, a max for unsigned integers, a min and
    a max for signed ones, one compiled pass without temporaries for contiguous native
    float32/float64, numpy's comparison for anything else."""
    kind = X.dtype.kind
    if kind == "b":
        return True
    if kind in "iu":
        return bool(X.max() <= 1 and (kind == "u" or X.min() >= 0))
    if X.dtype in (np.float32, np.float64) and X.dtype.isnative and X.flags.c_contiguous:
        return count_ones(X.reshape(-1)) >= 0
    return bool(((X == 0) | (X == 1)).all())
