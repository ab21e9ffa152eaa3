"""Weighted sums of sparse spike trains, per input event (numba): the one loop the
emulator's first layer and the training kernels' sparse first layer share."""
from __future__ import annotations

import numba


@numba.njit(parallel=True, cache=True, nogil=True)
def add_events(x, weight_t, acc):  # pragma: no cover - compiled
    """acc[n, t, :] += weight_t[c, :] for every nonzero x[n, c, t] (a sample per task).
    Integer sums in acc's dtype are exact, so equal to the matrix product's."""
    n_samples, channels, steps = x.shape
    outputs = weight_t.shape[1]
    for n in numba.prange(n_samples):
        for c in range(channels):
            for t in range(steps):
                if x[n, c, t] != 0:
                    for o in range(outputs):
                        acc[n, t, o] += weight_t[c, o]
