"""A batched, bit-exact emulator of NetX networks as Lava's fixed_pt models run them.

Lava steps every process once per time step; here the network is feed-forward,
so each layer's input spikes are known for all steps before its neurons run.
Per layer:

1. synapse: the synaptic input of every step at once, one matrix product of the
   input spikes with Lava's effective integer weights (`lava_weights`),
   floor-shifted by the weight exponent, then moved later in time by the
   synapse's one-step pipeline plus the neuron's delay;
2. neurons: `cuba_step`, Lava's `PyLifModelBitAcc` arithmetic, stepped through
   time on [batch, neurons] arrays.

Exactness: all values are integers held in float64 (float32 for spikes and
synaptic input where they provably fit), which represents every intermediate
exactly: u * (DECAY_SCALE - decay) stays below 2**36. Layers whose synaptic
input could leave the 24-bit current register within one step are refused, so
Lava's one-time wrap of u is the same as modular wrapping and no 32-bit
intermediate of Lava's can overflow.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from spiketime.errors import UserError
from spiketime.export import loihi2
from spiketime.export.netx import DenseLayer, NetxNetwork, read_netx
from spiketime.sim.backend import RunResult, check_input
from spiketime.sim.lava_weights import lava_weights

_HALF = 1 << (loihi2.STATE_BITS - 1)  # Lava's max_uv_val: u wraps above it, v clips below it
_V_LIMIT = _HALF - 1
_EXACT_FLOAT32 = 1 << 24  # float32 holds every integer up to this exactly


@dataclass(frozen=True)
class Cuba:
    """One layer's CUBA registers in the units Lava's fixed-point model uses."""

    i_decay: int  # effective current decay (netx du = iDecay - 1, plus Lava's ds_offset 1)
    v_decay: int
    vth: float  # vth_mant << VTH_SHIFT
    bias: np.ndarray | float  # bias_mant << BIAS_EXP, per neuron, or 0


@dataclass(frozen=True)
class Layer:
    """A dense layer compiled for the emulator."""

    weight: np.ndarray  # [in, out], Lava's effective integer weights, float32 or float64
    shift: int  # synaptic input = floor(spikes @ weight / 2**shift)
    delay: np.ndarray  # int64 [out], steps after the synapse's one-step pipeline
    neuron: Cuba


def compile_network(net: NetxNetwork) -> tuple[Layer, ...]:
    """Check a network against what the emulator reproduces exactly; compile it."""
    return tuple(_compile_layer(layer, i) for i, layer in enumerate(net.layers))


def _compile_layer(layer: DenseLayer, index: int) -> Layer:
    w, shift = lava_weights(layer.weight, index)
    # Largest synaptic input per step: all excitatory (or all inhibitory) inputs spiking.
    peak = max(np.clip(w, 0, None).sum(axis=1).max(initial=0),
               np.clip(-w, 0, None).sum(axis=1).max(initial=0))
    if (peak >> shift) << loihi2.ACT_SHIFT > 1 << loihi2.STATE_BITS:
        raise UserError(
            f"layer {index}: synaptic input could reach {peak >> shift} in one step, beyond "
            f"the {loihi2.STATE_BITS}-bit current register; the emulator does not model that overflow"
        )
    n = layer.neuron
    bias: np.ndarray | float = 0.0
    if layer.bias is not None and layer.bias.any():
        if layer.bias.min() < loihi2.BIAS_MANT_MIN or layer.bias.max() > loihi2.BIAS_MANT_MAX:
            raise UserError(
                f"layer {index}: bias outside the {loihi2.BIAS_MANT_BITS}-bit bias mantissa range"
            )
        bias = (layer.bias << loihi2.BIAS_EXP).astype(np.float64)
    delay = layer.delay if layer.delay is not None else np.zeros(layer.out_features, np.int64)
    dtype = np.float32 if np.abs(w).sum(axis=1).max(initial=0) < _EXACT_FLOAT32 else np.float64
    return Layer(
        weight=np.ascontiguousarray(w.T, dtype=dtype),
        shift=shift,
        delay=delay,
        neuron=Cuba(n.i_decay, n.v_decay, float(n.vth_mant << loihi2.VTH_SHIFT), bias),
    )


def _decay(x: np.ndarray, decay: int) -> np.ndarray:
    """x * (DECAY_SCALE - decay) / DECAY_SCALE, rounded toward zero (Lava's
    sign-magnitude right shift)."""
    if decay == 0:
        return x
    if decay == loihi2.DECAY_SCALE:
        return np.zeros_like(x)
    return np.trunc(x * ((loihi2.DECAY_SCALE - decay) / loihi2.DECAY_SCALE))


def cuba_step(u: np.ndarray, v: np.ndarray, a: np.ndarray, p: Cuba
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of Lava's PyLifModelBitAcc: (u, v, synaptic input) -> (u, v, spikes)."""
    u = _decay(u, p.i_decay) + a * float(1 << loihi2.ACT_SHIFT)
    u = np.where(u > _HALF, u - 2 * _HALF, np.where(u <= -_HALF, u + 2 * _HALF, u))
    v = np.clip(_decay(v, p.v_decay) + u + p.bias, -_V_LIMIT, _V_LIMIT)
    s = v > p.vth
    return u, np.where(s, 0.0, v), s


def run_neurons(a: np.ndarray, p: Cuba, states: bool = False
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Step a layer of CUBA neurons from rest through synaptic input a [T, B, n]:
    spikes bool [T, B, n], and u, v int32 [T, B, n] when asked."""
    u = np.zeros(a.shape[1:])
    v = np.zeros(a.shape[1:])
    s = np.empty(a.shape, dtype=bool)
    us = np.empty(a.shape, dtype=np.int32) if states else None
    vs = np.empty(a.shape, dtype=np.int32) if states else None
    for t in range(a.shape[0]):
        u, v, s[t] = cuba_step(u, v, a[t], p)
        if states:
            us[t], vs[t] = u, v
    return s, us, vs


def synaptic_input(s: np.ndarray, layer: Layer) -> np.ndarray:
    """Input spikes [T, B, in] -> the synaptic input each neuron receives at each
    step [T, B, out]: the spikes of step t - 1 - delay."""
    steps, batch, _ = s.shape
    acc = s.reshape(steps * batch, -1).astype(layer.weight.dtype, copy=False) @ layer.weight
    if layer.shift:
        acc = np.floor(acc * (1.0 / (1 << layer.shift)))
    acc = acc.reshape(steps, batch, -1)
    a = np.zeros_like(acc)
    for d in np.unique(layer.delay):
        lag = 1 + int(d)
        if lag < steps:
            cols = np.flatnonzero(layer.delay == d)
            a[lag:, :, cols] = acc[:steps - lag, :, cols]
    return a


def emulate(layers: tuple[Layer, ...], X: np.ndarray, states: bool = False) -> list[tuple]:
    """Spike trains uint8 [B, C, T] -> per layer (spikes, u, v), each [T, B, n]."""
    s = np.ascontiguousarray(X.transpose(2, 0, 1))
    out = []
    for layer in layers:
        res = run_neurons(synaptic_input(s, layer), layer.neuron, states)
        out.append(res)
        s = res[0]
    return out


class EmulatorBackend:
    name = "emulator"

    def __init__(self, batch_size: int = 256) -> None:
        self.batch_size = batch_size  # samples per chunk: bounds memory, keeps steps in cache

    def run(self, netx_file: str | os.PathLike, X: np.ndarray, *, hidden: bool = False,
            states: bool = False) -> RunResult:
        net = read_netx(netx_file)
        X = check_input(net, X, "input")
        layers = compile_network(net)
        n, _, steps = X.shape
        sizes = [layer.out_features for layer in net.layers]
        spikes = [np.zeros((n, k, steps), np.uint8) for k in sizes]
        us = [np.zeros((n, k, steps), np.int32) for k in sizes] if states else []
        vs = [np.zeros((n, k, steps), np.int32) for k in sizes] if states else []
        for start in range(0, n, self.batch_size):
            chunk = slice(start, start + self.batch_size)
            for i, (s, u, v) in enumerate(emulate(layers, X[chunk], states)):
                spikes[i][chunk] = s.transpose(1, 2, 0)
                if states:
                    us[i][chunk] = u.transpose(1, 2, 0)
                    vs[i][chunk] = v.transpose(1, 2, 0)
        return RunResult(
            output=spikes[-1],
            hidden=tuple(spikes[:-1]) if hidden else (),
            u=tuple(us),
            v=tuple(vs),
        )
