"""Compiled CPU kernels for the trained network's hot loops (numba).

slayer runs its CUBA dynamics and its per-neuron axonal delay as Python loops on the
CPU (over time steps and over channels: it compiles them only for CUDA), so a CPU
training step costs several times the matrix products it contains. This module
replaces, on CPU tensors only, a slayer `cuba.Dense` block's forward with two steps:

- the synapse as one plain matrix product on time-major (N, T, C) memory, or for a
  sparse binary input (the data, below 15% density) the weights added per input event:
  binary spikes times weights on the 2/64 grid sum exactly in float32 in any order;
- one fused kernel for the rest: the neuron's current u and voltage v with the chip's
  24-bit registers of `train/registers.py` (u wraps, v saturates), the spike, the
  step delay and the learnable axonal delay (a shift by floor(d) + 1 per channel).
  Its backward is slayer's, fused the same way: the surrogate (slayer's exponential
  or the fast sigmoid), the reverse-time recursions of slayer's leaky integrator (reset
  ignored, decay gradients against slayer's unbounded states), the reverse shift, and
  the delay's finite-difference gradient.

Blocks hand each other (N, C, T) views of time-major memory, so no layer transposes
its input: slayer's NCT contract holds for everything outside.

Why the forward pass is exact: every quantity is slayer's integer arithmetic redone
in int64 (the input's truncation `int64(float32(s_scale * z))`, the decay's
sign-magnitude shift, the threshold compared in float32 as torch promotes it), and the
outputs are written as float32(y) / s_scale as slayer writes them. tests/test_kernels.py
checks spikes, u and v against slayer's own blocks (decays trained, delays 0..62,
states at the register limits) and the gradients within float tolerance.

`SPIKETIME_KERNELS=slayer` in the environment, read when a model is built, keeps
slayer's own path (with the chip's registers); CUDA tensors always take slayer's path.
numba was chosen over a torch C++ extension: it installs from the registry as a wheel
(no compiler, no build step in `make setup`), caches its machine code beside this file,
and its `prange` spreads rows (sample x neuron) over the cores (docs/train.md).
"""
from __future__ import annotations

import functools
import os

import numba
import numpy as np
import torch

from spiketime import loihi2
from spiketime.errors import UserError
from spiketime.event_sums import count_ones, event_sums

ENV = "SPIKETIME_KERNELS"
MODES = ("compiled", "slayer")

_SHIFT = loihi2.DECAY_BITS
_FULL = loihi2.DECAY_SCALE
_WRAP = loihi2.STATE_WRAP
_VMAX = loihi2.STATE_MAX
_VMIN = loihi2.STATE_MIN


def kernel_mode(environ: os._Environ | dict | None = None) -> str:
    """'compiled' (the default) or 'slayer', from SPIKETIME_KERNELS."""
    value = (os.environ if environ is None else environ).get(ENV, "compiled") or "compiled"
    if value not in MODES:
        raise UserError(f"{ENV}={value!r} is not a kernel mode; choose from {', '.join(MODES)}")
    return value


# --- the fused block kernels (time-major: arrays [N, T, C]) -------------------------------

@numba.njit(inline="always")
def _decay(y: np.int64, keep: np.int64) -> np.int64:
    p = y * keep
    return (p >> _SHIFT) if p > 0 else -((-p) >> _SHIFT)


@numba.njit(parallel=True, cache=True, nogil=True)
def _block_forward(z, c_keep, v_keep, scale, thr, spikes, cur, volt):  # pragma: no cover
    """The chip's CUBA dynamics per sample: z [N, T, C] float32 in slayer units,
    c_keep/v_keep [C] = 4096 - decay; writes u, v (float32, slayer units) and the
    spikes (unshifted); returns whether any state left the 24-bit range (then slayer's
    own states differ: `_slayer_states`). The integers are held in float64, exact below
    2**53: u * keep < 2**37, and truncating u * keep / 4096 is the sign-magnitude
    shift; so the loop over channels vectorises."""
    n_samples, steps, channels = z.shape
    left = np.zeros(n_samples, np.bool_)
    fscale = np.float32(scale)
    inv = 1.0 / scale
    ck = c_keep.astype(np.float64) / 4096.0  # exact: keep / 2**12
    vk = v_keep.astype(np.float64) / 4096.0
    wrap, vmax, vmin, thr64 = float(_WRAP), float(_VMAX), float(_VMIN), float(thr)
    for n in numba.prange(n_samples):
        u = np.zeros(channels, np.float64)
        v = np.zeros(channels, np.float64)
        edge = 0
        for t in range(steps):
            for c in range(channels):
                uc = np.trunc(u[c] * ck[c]) + np.trunc(fscale * z[n, t, c])
                high = uc > wrap
                low = uc <= -wrap
                uc = uc - 2 * wrap * high + 2 * wrap * low
                vc = np.trunc(v[c] * vk[c]) + uc
                edge |= high | low | (vc > vmax) | (vc < vmin)
                vc = min(max(vc, vmin), vmax)
                cur[n, t, c] = np.float32(uc * inv)
                volt[n, t, c] = np.float32(vc * inv)
                fire = vc >= thr64  # v is exact in float32 (24 bits): slayer's f32 compare
                spikes[n, t, c] = np.float32(fire)
                u[c] = uc
                v[c] = 0.0 if fire else vc
        left[n] = edge != 0
    return left.any()


@numba.njit(parallel=True, cache=True, nogil=True)
def _shift(x, shifts, out):  # pragma: no cover - compiled
    """out[n, t, c] = x[n, t - shifts[c], c], 0 outside [0, T) (a negative shift reads
    ahead)."""
    n_samples, steps, channels = x.shape
    for n in numba.prange(n_samples):
        for t in range(steps):
            for c in range(channels):
                src = t - shifts[c]
                out[n, t, c] = x[n, src, c] if 0 <= src < steps else np.float32(0)


@numba.njit(parallel=True, cache=True, nogil=True)
def _slayer_states(z, c_keep, v_keep, scale, thr, cur, volt):  # pragma: no cover
    """slayer's own states where the chip's left the range, as registers.py builds
    them: u unbounded from z, v unbounded (with reset) from the chip's u; slayer's
    backward multiplies the decay gradients by these."""
    n_samples, steps, channels = z.shape
    fscale = np.float32(scale)
    for n in numba.prange(n_samples):
        u = np.zeros(channels, np.int64)
        uw = np.zeros(channels, np.int64)
        v = np.zeros(channels, np.int64)
        for t in range(steps):
            for c in range(channels):
                x = np.int64(fscale * z[n, t, c])
                u[c] = _decay(u[c], c_keep[c]) + x
                w = _decay(uw[c], c_keep[c]) + x
                if w > _WRAP:
                    w -= 2 * _WRAP
                elif w <= -_WRAP:
                    w += 2 * _WRAP
                uw[c] = w
                vc = _decay(v[c], v_keep[c]) + w
                cur[n, t, c] = np.float32(u[c]) / fscale
                volt[n, t, c] = np.float32(vc) / fscale
                v[c] = 0 if np.float32(vc) >= thr else vc


@numba.njit(parallel=True, cache=True, nogil=True)
def _block_backward(g_spk, out, surr, divide, cur_s, volt_s, c_fac, v_fac, has_delay, g_out,
                    g_z, g_c, g_v, g_d):  # pragma: no cover - compiled
    """slayer's backward through the block, per sample: dL/dv = surr * dL/dspike
    (slayer's exponential) or dL/dspike / surr (the fast sigmoid, surr its denominator);
    dL/du and dL/dz by the reverse recursions with factor 1 - decay/4096 (reset
    ignored); decay gradients sum(grad[t+1] * state[t]); the delay gradient
    sum(dL/dout[t] * (out[t-1] - out[t])). Per-sample sums [N, C] for the caller."""
    n_samples, steps, channels = g_spk.shape
    for n in numba.prange(n_samples):
        gu = np.zeros(channels, np.float32)  # dL/du and dL/dz, one step later
        gz = np.zeros(channels, np.float32)
        acc_c = np.zeros(channels, np.float64)
        acc_v = np.zeros(channels, np.float64)
        acc_d = np.zeros(channels, np.float64)
        for t in range(steps - 1, -1, -1):
            last = t == steps - 1
            for c in range(channels):
                gv = g_spk[n, t, c] / surr[n, t, c] if divide else surr[n, t, c] * g_spk[n, t, c]
                if not last:
                    acc_v[c] += gu[c] * volt_s[n, t, c]
                    acc_c[c] += gz[c] * cur_s[n, t, c]
                    gu[c] = v_fac[c] * gu[c] + gv
                    gz[c] = c_fac[c] * gz[c] + gu[c]
                else:
                    gu[c] = gv
                    gz[c] = gv
                g_z[n, t, c] = gz[c]
            if has_delay:
                for c in range(channels):
                    before = out[n, t - 1, c] if t > 0 else np.float32(0)
                    acc_d[c] += g_out[n, t, c] * (before - out[n, t, c])
        g_c[n] = acc_c
        g_v[n] = acc_v
        g_d[n] = acc_d


class _CubaBlock(torch.autograd.Function):
    """CUBA neuron, spike and delays of one block on time-major input z [N, T, C]."""

    @staticmethod
    def forward(ctx, z, current_decay, voltage_decay, delay, spec):
        z = z.detach().contiguous()
        channels = z.shape[-1]
        c_keep = _per_channel(_FULL - current_decay.detach().to(torch.int64), channels)
        v_keep = _per_channel(_FULL - voltage_decay.detach().to(torch.int64), channels)
        shifts = 1 + (np.zeros(channels, np.int64) if delay is None  # slayer: int(d)
                      else delay.detach().to(torch.int64).numpy().reshape(channels))
        zn = z.numpy()
        spikes, out, cur, volt = (np.empty_like(zn) for _ in range(4))
        left = _block_forward(zn, c_keep, v_keep, spec.scale, spec.thr, spikes, cur, volt)
        _shift(spikes, shifts, out)
        cur_s, volt_s = cur, volt
        if left:
            cur_s, volt_s = np.empty_like(zn), np.empty_like(zn)
            _slayer_states(zn, c_keep, v_keep, spec.scale, spec.thr, cur_s, volt_s)
        out_t = torch.from_numpy(out)
        ctx.save_for_backward(out_t, torch.from_numpy(volt), torch.from_numpy(cur_s),
                              torch.from_numpy(volt_s), current_decay, voltage_decay)
        ctx.shifts, ctx.spec, ctx.has_delay = shifts, spec, delay is not None
        return out_t

    @staticmethod
    def backward(ctx, g_out):
        out, volt, cur_s, volt_s, current_decay, voltage_decay = ctx.saved_tensors
        spec, (n_samples, _, channels) = ctx.spec, out.shape
        c_fac = _per_channel(1 - current_decay.detach() / _FULL, channels)  # slayer: float32
        v_fac = _per_channel(1 - voltage_decay.detach() / _FULL, channels)
        g_out = g_out.contiguous().numpy()
        g_spk = np.empty_like(g_out)
        _shift(g_out, -ctx.shifts, g_spk)
        g_z = np.empty(out.shape, np.float32)
        g_c, g_v, g_d = (np.empty((n_samples, channels), np.float64) for _ in range(3))
        _block_backward(g_spk, out.numpy(), spec.surrogate(volt).numpy(), spec.kind == 1,
                        cur_s.numpy(), volt_s.numpy(), c_fac, v_fac, ctx.has_delay, g_out,
                        g_z, g_c, g_v, g_d)
        g_delay = torch.from_numpy(g_d.sum(axis=0).astype(np.float32)) if ctx.has_delay else None
        return (torch.from_numpy(g_z), _reduce(g_c, current_decay), _reduce(g_v, voltage_decay),
                g_delay, None)


def _per_channel(value: torch.Tensor, channels: int) -> np.ndarray:
    """A shared (1-element) or per-neuron parameter as one contiguous value per channel."""
    array = value.numpy().reshape(-1)
    return np.ascontiguousarray(np.broadcast_to(array, (channels,)))


def _reduce(per_sample: np.ndarray, decay: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel sums reduced to the decay's shape (shared or per neuron)."""
    per_channel = per_sample.sum(axis=0)
    total = per_channel.sum(keepdims=True) if decay.numel() == 1 else per_channel
    return torch.from_numpy(total.astype(np.float32)).reshape(decay.shape)


class BlockSpec:
    """A block's fixed numbers, in the float32 precision slayer computes them in."""

    def __init__(self, neuron: torch.nn.Module, surrogate: str, alpha: float) -> None:
        from lava.lib.dl.slayer.neuron.cuba import SCALE_RHO_MULT, TAU_RHO_MULT

        threshold = neuron.threshold + neuron.threshold_eps
        self.scale = int(neuron.s_scale)
        self.thr = np.float32(threshold * self.scale)  # torch compares int with float in f32
        self.theta = np.float32(threshold)
        self.kind = 1 if surrogate == "fast-sigmoid" else 0
        self.alpha = alpha
        self.tau = neuron.tau_rho * TAU_RHO_MULT
        self.scale_rho = neuron.scale_rho * SCALE_RHO_MULT

    def surrogate(self, voltage: torch.Tensor) -> torch.Tensor:
        """The spike's derivative as slayer's (or train/surrogate.py's) torch code computes
        it: slayer's factor, or the fast sigmoid's denominator (the kernel divides)."""
        x = voltage - torch.tensor(self.theta)
        if self.kind == 1:
            return (self.alpha * x.abs() + 1) ** 2
        tau, scale = torch.tensor(self.tau), torch.tensor(self.scale_rho)
        return scale / 2 / tau * torch.exp(-torch.abs(x) / tau)


EVENT_DENSITY = 0.15  # below this share of nonzero inputs, a binary input is summed per event


def _time_major_linear(synapse: torch.nn.Module, x_nct: torch.Tensor) -> torch.Tensor:
    """slayer's dense synapse (a 1x1x1 conv3d) as plain sums, time-major out
    [N, T, C_out]: one matrix product, or, for a sparse binary input that needs no
    gradient (the data), the weights added per input event. Either way the same sums:
    binary spikes times weights on the 2/64 grid are exact in float32 in any order."""
    weight = synapse.weight if synapse._pre_hook_fx is None \
        else synapse._pre_hook_fx(synapse.weight)
    weight = weight.reshape(weight.shape[0], -1)
    if not x_nct.requires_grad and synapse.bias is None and _sparse_binary(x_nct):
        return _EventLinear.apply(x_nct, weight)
    return torch.nn.functional.linear(x_nct.transpose(1, 2), weight, synapse.bias)


def _sparse_binary(x: torch.Tensor) -> bool:
    """Whether x holds only 0 and 1, fewer than EVENT_DENSITY of them 1 (one pass)."""
    if x.dtype != torch.float32 or x.dim() != 3 or x.numel() == 0:
        return False
    ones = count_ones(x.detach().contiguous().numpy().reshape(-1))
    return 0 <= ones < EVENT_DENSITY * x.numel()


@numba.njit(parallel=True, cache=True, nogil=True)
def _events_weight_grad(x, g, g_weight_t):  # pragma: no cover - compiled
    """g_weight_t[c, :] = sum of g[n, t, :] over the spikes x[n, c, t] (a channel per task)."""
    n_samples, channels, steps = x.shape
    outputs = g.shape[2]
    for c in numba.prange(channels):
        for n in range(n_samples):
            for t in range(steps):
                if x[n, c, t] != 0:
                    for o in range(outputs):
                        g_weight_t[c, o] += g[n, t, o]


class _EventLinear(torch.autograd.Function):
    """A binary input [N, C, T] (no gradient of its own) times weight [O, C], per event."""

    @staticmethod
    def forward(ctx, x, weight):
        xn = x.detach().contiguous().numpy()
        z = np.empty((xn.shape[0], xn.shape[2], weight.shape[0]), np.float32)
        event_sums(xn, weight.detach().t().contiguous().numpy(),
                   np.zeros(weight.shape[0], np.int64), z)
        ctx.save_for_backward(x)
        return torch.from_numpy(z)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        g_weight_t = np.zeros((x.shape[1], g.shape[2]), np.float32)
        _events_weight_grad(x.detach().contiguous().numpy(), g.contiguous().numpy(), g_weight_t)
        return None, torch.from_numpy(g_weight_t).t()


def _compiled_forward(block: torch.nn.Module, spec: BlockSpec, slayer_forward,
                      x: torch.Tensor) -> torch.Tensor:
    """A cuba.Dense block's forward: spikes [N, C, T] (a view of time-major memory)."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() != 3 \
            or (block.delay is not None and not block.delay.init):
        return slayer_forward(x)
    z = _time_major_linear(block.synapse, x)
    delay = None
    if block.delay is not None:
        block.delay.clamp()
        delay = block.delay.delay
    return compiled_neuron(block.neuron, spec, z, delay).transpose(1, 2)


def compiled_neuron(neuron: torch.nn.Module, spec: BlockSpec, z: torch.Tensor,
                    delay: torch.Tensor | None = None) -> torch.Tensor:
    """A block's CUBA neuron, spike, step delay and axonal `delay` (slayer's per-neuron
    parameter, or None) on time-major synaptic input z [N, T, C]: spikes [N, T, C]."""
    if neuron.shape is None:  # what slayer's dynamics records on its first call
        neuron.shape = torch.Size([z.shape[-1]])
        neuron.num_neurons = z.shape[-1]
    if neuron.requires_grad:
        neuron.clamp()
    from lava.lib.dl.slayer.utils import quantize

    return _CubaBlock.apply(z, quantize(neuron.current_decay), quantize(neuron.voltage_decay),
                            delay, spec)


def use_kernels(block: torch.nn.Module, mode: str, surrogate: str = "slayer",
                alpha: float = 100.0) -> None:
    """Give one slayer cuba.Dense block (stateless binary neurons without norm or
    dropout, step delay on) the compiled forward; mode 'slayer' leaves it as it is.
    `surrogate`/`alpha` as the model's (train/surrogate.py for the fast sigmoid)."""
    if mode == "slayer":
        return
    neuron = block.neuron
    if neuron.persistent_state or neuron.norm is not None or neuron.graded_spike \
            or neuron.drop is not None or not block.delay_shift or block.mask is not None \
            or block.count_log or block.synapse.groups != 1 \
            or (block.delay is not None
                and (block.delay.grad_scale != 1 or block.delay.sampling_time != 1)):
        raise ValueError("compiled kernels support stateless binary CUBA blocks with a step "
                         "delay, no norm, dropout, mask or count log, unit delay steps")
    block.forward = functools.partial(_compiled_forward, block, BlockSpec(neuron, surrogate, alpha),
                                      block.forward)
