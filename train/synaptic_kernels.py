"""Compiled CPU sums for per-synapse delays (numba): each synapse's weight spread over a
short window of whole-step delays, summed per input spike.

A layer's synaptic input, for taps [I, O, W] and first delays lo [I, O] (int64),

    z[n, o, t] = sum_i sum_j taps[i, o, j] * x[n, t - lo[i, o] - j, i],

is what `train/synaptic_delay.py`'s conv1d computes with a 63-tap kernel that is zero
outside each synapse's window; here only the window's W taps are visited, and only at
the input's nonzero steps (spikes: a few percent of the input, one tap once annealed).
The backward pass gives the taps' gradient the same way, per input spike, and the
input's gradient (needed between hidden layers) densely over the window. Binary spikes
times whole-step taps on slayer's 2/64 weight grid sum exactly in float32 in any order,
so in the exact mode (W = 1, taps = weights) the sums equal Lava's DelayDense; while the
window is a Gaussian they equal the conv1d's within float rounding (tests/test_synaptic_delays.py).
"""
from __future__ import annotations

import numba
import numpy as np
import torch


@numba.njit(parallel=True, cache=True, nogil=True)
def _forward(x, taps, lag, z):  # pragma: no cover - compiled
    """z[n, o, s + lag[i, o] + j] += x[n, s, i] * taps[i, o, j] for every nonzero x (a
    sample per task): x [N, T, I] time-major, taps [I, O, W], z [N, O, T + span] zeroed,
    wide enough that no index leaves it (lag >= 0 is lo plus the caller's offset)."""
    n_samples, steps, inputs = x.shape
    outputs, width = taps.shape[1], taps.shape[2]
    for n in numba.prange(n_samples):
        for s in range(steps):
            for i in range(inputs):
                v = x[n, s, i]
                if v == 0:
                    continue
                if width == 1:  # whole-step delays: one tap, no window to loop over
                    for o in range(outputs):
                        z[n, o, s + lag[i, o]] += v * taps[i, o, 0]
                    continue
                for o in range(outputs):
                    b = s + lag[i, o]
                    out, tap = z[n, o, b:b + width], taps[i, o]  # views: the loop vectorizes
                    for j in range(width):
                        out[j] += v * tap[j]


@numba.njit(parallel=True, cache=True, nogil=True)
def _taps_grad(x, g, lag, g_taps):  # pragma: no cover - compiled
    """g_taps[i, o, j] = sum over nonzero x[n, s, i] of x * g[n, o, s + lag[i, o] + j]
    (an input channel per task); g [N, O, T + span], zero past the input's steps."""
    n_samples, steps, inputs = x.shape
    outputs, width = g_taps.shape[1], g_taps.shape[2]
    for i in numba.prange(inputs):
        for n in range(n_samples):
            for s in range(steps):
                v = x[n, s, i]
                if v == 0:
                    continue
                if width == 1:
                    for o in range(outputs):
                        g_taps[i, o, 0] += v * g[n, o, s + lag[i, o]]
                    continue
                for o in range(outputs):
                    b = s + lag[i, o]
                    acc, src = g_taps[i, o], g[n, o, b:b + width]  # views: the loop vectorizes
                    for j in range(width):
                        acc[j] += v * src[j]


@numba.njit(parallel=True, cache=True, nogil=True)
def _input_grad(taps, lag, g, g_x):  # pragma: no cover - compiled
    """g_x[n, i, s] = sum_o sum_j taps[i, o, j] * g[n, o, s + lag[i, o] + j] (a sample per
    task; the inner loop runs over s, contiguous in g and g_x); g_x [N, I, T] zeroed."""
    n_samples, inputs, steps = g_x.shape
    outputs, width = taps.shape[1], taps.shape[2]
    for n in numba.prange(n_samples):
        for i in range(inputs):
            row = g_x[n, i]
            for o in range(outputs):
                for j in range(width):
                    w = taps[i, o, j]
                    if w == 0:
                        continue
                    src = g[n, o, lag[i, o] + j:lag[i, o] + j + steps]
                    for s in range(steps):
                        row[s] += w * src[s]


class WindowedDelaySum(torch.autograd.Function):
    """x [N, T, I] time-major float32, taps [O, I, W], lo [O, I] int64 -> z [N, T, O]
    time-major float32: z[n, t, o] = sum_i sum_j taps[o, i, j] x[n, t - lo[o, i] - j, i],
    what lands past the input's last step dropped. A tap at a negative delay (lo + j < 0)
    is summed like any other, earlier: `window` gives those taps no weight."""

    @staticmethod
    def forward(ctx, x, taps, lo):
        xn = x.detach().contiguous().numpy()
        n, steps = xn.shape[0], xn.shape[1]
        taps_t = taps.detach().transpose(0, 1).contiguous().numpy()  # [I, O, W]
        offset = max(0, -int(lo.min())) if lo.numel() else 0  # lo + offset >= 0
        lag = (lo.t() + offset).contiguous().numpy()
        # room for every s + lag + j, and for the slice below whatever lo is
        span = offset + (int(lag.max()) if lag.size else 0) + taps_t.shape[2]
        z = np.zeros((n, taps_t.shape[1], steps + span), np.float32)
        _forward(xn, taps_t, lag, z)
        # the contiguous copy made above, kept for the backward pass (not made again)
        ctx.xn, ctx.taps_t, ctx.lag, ctx.offset, ctx.span = xn, taps_t, lag, offset, span
        return torch.from_numpy(z[:, :, offset:offset + steps]).transpose(1, 2).contiguous()

    @staticmethod
    def backward(ctx, g):
        xn = ctx.xn
        n, steps, channels = g.shape
        gp = np.zeros((n, channels, steps + ctx.span), np.float32)  # g at z's padded steps
        gp[:, :, ctx.offset:ctx.offset + steps] = g.transpose(1, 2).numpy()
        g_taps = None
        if ctx.needs_input_grad[1]:
            g_taps = np.zeros_like(ctx.taps_t)
            _taps_grad(xn, gp, ctx.lag, g_taps)
            g_taps = torch.from_numpy(g_taps).transpose(0, 1)
        g_x = None
        if ctx.needs_input_grad[0]:
            g_x = np.zeros((n, xn.shape[2], steps), np.float32)
            _input_grad(ctx.taps_t, ctx.lag, gp, g_x)
            g_x = torch.from_numpy(g_x).transpose(1, 2)
        return g_x, g_taps, None
