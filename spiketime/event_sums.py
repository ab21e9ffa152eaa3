"""Weighted sums of sparse spike trains, per input event (numba): the one loop the
emulator's event-driven layers and the training kernels' sparse first layer share; and
`count_ones`, the one-pass test both use to see that an input is binary spikes."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True, nogil=True)
def event_sums(x, weight_t, lag, out):  # pragma: no cover - compiled
    """out[n, t + lag[o], o] = the sum of weight_t[c, o] over the nonzero x[n, c, t], for
    x [N, C, T] (a sample per task) and out [N, T + max(lag), O]: output o's sums arrive
    lag[o] >= 0 steps later, zero before (lag all 0: out[n, t] is step t's sums). Each
    sample's events are first sorted by step (a counting sort that keeps channel order),
    so a step's row of sums is built in cache and written once; within a row weights are
    added in channel order, as a plain loop over c would. Integer sums in out's dtype are
    exact, so equal to the matrix product's."""
    n_samples, channels, steps = x.shape
    outputs = weight_t.shape[1]
    one_lag = outputs > 0 and lag.min() == lag.max()
    for n in numba.prange(n_samples):
        xs = x[n]
        start = np.zeros(steps + 1, np.int64)  # events of step t: start[t] .. start[t + 1]
        for c in range(channels):
            for t in range(steps):
                start[t + 1] += xs[c, t] != 0
        for t in range(steps):
            start[t + 1] += start[t]
        fill = start[:-1].copy()
        channel = np.empty(start[steps], np.int32)
        for c in range(channels):
            for t in range(steps):
                if xs[c, t] != 0:
                    channel[fill[t]] = c
                    fill[t] += 1
        row = np.empty(outputs, out.dtype)
        for t in range(steps):
            row[:] = 0
            for e in range(start[t], start[t + 1]):
                c = channel[e]
                for o in range(outputs):
                    row[o] += weight_t[c, o]
            _write_row(row, t, lag, one_lag, out[n])


@numba.njit(parallel=True, cache=True, nogil=True)
def step_event_sums(x, weight_t, lag, out):  # pragma: no cover - compiled
    """`event_sums` for time-major spikes x [N, T, C] (a layer's own output): a step's
    events are already together, so no sort."""
    n_samples, steps, channels = x.shape
    outputs = weight_t.shape[1]
    one_lag = outputs > 0 and lag.min() == lag.max()
    for n in numba.prange(n_samples):
        row = np.empty(outputs, out.dtype)
        for t in range(steps):
            row[:] = 0
            for c in range(channels):
                if x[n, t, c] != 0:
                    for o in range(outputs):
                        row[o] += weight_t[c, o]
            _write_row(row, t, lag, one_lag, out[n])


@numba.njit(cache=True, nogil=True)
def _write_row(row, t, lag, one_lag, out):  # pragma: no cover - compiled
    """Step t's sums into out [T + max(lag), O], each output lag[o] steps later (one_lag:
    all the same, a contiguous row); the rows before an output's lag zeroed at t = 0."""
    if t == 0:
        for o in range(out.shape[1]):
            for k in range(lag[o]):
                out[k, o] = 0
    if one_lag:
        out[t + lag[0], :] = row
    else:
        for o in range(row.shape[0]):
            out[t + lag[o], o] = row[o]


@numba.njit(cache=True, nogil=True)
def count_ones(x):  # pragma: no cover - compiled
    """The number of ones in the flat array x, or -1 if it holds anything but 0 and 1
    (one pass, no temporaries; it stops at the first other value)."""
    ones = 0
    for value in x:
        if value == 1:
            ones += 1
        elif value != 0:
            return -1
    return ones
