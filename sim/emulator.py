"""A batched, bit-exact emulator of NetX networks as Lava's fixed_pt models run them.

Lava steps every process once per time step; here the network is feed-forward,
so each layer's input spikes are known for all steps before its neurons run.
Per layer:

1. synapse: the synaptic input of every step at once, one matrix product of the
   input spikes with Lava's effective integer weights (`lava_weights`),
   floor-shifted by the weight exponent, then moved later in time by the
   synapse's one-step pipeline plus the neuron's delay; with per-synapse delays
   (a `delay` matrix), one product per distinct delay d over the synapses that
   have it, each floor-shifted on its own and moved 1 + d steps, which is Lava's
   DelayDense: it accumulates each delay slot separately and shifts every slot;
2. neurons: `cuba_step`, Lava's `PyLifModelBitAcc` arithmetic, stepped through
   time for the whole batch (`run_neurons` runs the same arithmetic compiled with
   numba, one neuron per task; tests/test_emulator.py holds it to `cuba_step`).

Arrays are neuron-major, [neurons, T, batch]: a layer's matrix product maps
[in, T*B] to [out, T*B] directly, and a neuron's delay shifts one contiguous block.

Exactness: all values are integers held in floating point, which represents every
intermediate exactly (float64 state: u * (DECAY_SCALE - decay) stays below 2**36;
float32 synaptic input only where its sums provably stay below 2**24). Layers whose
synaptic input could leave the 24-bit current register within one step are
refused, so Lava's one-time wrap of u is modular wrapping and no 32-bit
intermediate of Lava's can overflow.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numba
import numpy as np

from spiketime import loihi2
from spiketime.errors import UserError
from spiketime.event_sums import add_events
from spiketime.export.netx import DenseLayer, NetxNetwork, read_netx
from spiketime.sim.backend import RunResult, check_input
from spiketime.sim.lava_weights import lava_weights

_HALF = float(loihi2.STATE_WRAP)  # Lava's max_uv_val: u wraps above it
_V_LIMIT = float(loihi2.STATE_MAX)  # v clips to +-(2**23 - 1)
_ACT = float(1 << loihi2.ACT_SHIFT)  # synaptic input is MSB-aligned by 6 bits
_EXACT_FLOAT32 = 1 << 24  # float32 holds every integer up to this exactly


@dataclass(frozen=True)
class Cuba:
    """One layer's CUBA registers in the units Lava's fixed-point model uses."""

    i_decay: int  # effective current decay (netx du = iDecay - 1, plus Lava's ds_offset 1)
    v_decay: int
    vth: float  # vth_mant << VTH_SHIFT
    bias: np.ndarray | None = None  # bias_mant << BIAS_EXP, [n, 1] (broadcasts over the batch)


@dataclass(frozen=True)
class Layer:
    """A dense layer compiled for the emulator."""

    weight: np.ndarray  # [out, in], Lava's effective integer weights, float32 or float64
    shift: int  # synaptic input = floor(weight @ spikes / 2**shift)
    delay: np.ndarray  # int64 [out] or per synapse [out, in], steps after the one-step pipeline
    neuron: Cuba


def compile_network(net: NetxNetwork) -> tuple[Layer, ...]:
    """Check a network against what the emulator reproduces exactly; compile it."""
    return tuple(_compile_layer(layer, i) for i, layer in enumerate(net.layers))


def _compile_layer(layer: DenseLayer, index: int) -> Layer:
    w, shift = lava_weights(layer.weight, index)
    # Largest synaptic input per step: all excitatory (or all inhibitory) inputs spiking.
    peak = max(np.clip(w, 0, None).sum(axis=1).max(initial=0),
               np.clip(-w, 0, None).sum(axis=1).max(initial=0))
    peak = -(-int(peak) >> shift)  # rounded up, as floor() rounds negative sums
    if peak << loihi2.ACT_SHIFT > 1 << loihi2.STATE_BITS:
        raise UserError(
            f"layer {index}: synaptic input could reach {peak} in one step, beyond the "
            f"{loihi2.STATE_BITS}-bit current register; the emulator does not model that overflow"
        )
    n = layer.neuron
    # vThMant in range <=> vth fits v's register (0 <= vth <= 2**23 - 1)
    limit = loihi2.RANGES["vThMant"]
    if not limit.contains(n.vth_mant):
        raise UserError(f"layer {index}: vThMant {n.vth_mant} is outside {limit.interval} "
                        f"({limit.why})")
    vth = n.vth_mant << loihi2.VTH_SHIFT
    bias = None
    if layer.bias is not None and layer.bias.any():
        limit = loihi2.RANGES["bias"]
        if not (limit.contains(int(layer.bias.min())) and limit.contains(int(layer.bias.max()))):
            raise UserError(f"layer {index}: bias outside {limit.interval} ({limit.why})")
        bias = (layer.bias << loihi2.BIAS_EXP).astype(np.float64)[:, None]
    delay = layer.delay if layer.delay is not None else np.zeros(layer.out_features, np.int64)
    dtype = np.float32 if np.abs(w).sum(axis=1).max(initial=0) < _EXACT_FLOAT32 else np.float64
    return Layer(weight=w.astype(dtype), shift=shift, delay=delay,
                 neuron=Cuba(n.i_decay, n.v_decay, float(vth), bias))


def _decay(x: np.ndarray, decay: int) -> np.ndarray:
    """x * (DECAY_SCALE - decay) / DECAY_SCALE rounded toward zero: Lava's
    sign-magnitude right shift. Returns x itself when decay is 0."""
    if decay == 0:
        return x
    if decay == loihi2.DECAY_SCALE:
        return np.zeros_like(x)
    y = x * ((loihi2.DECAY_SCALE - decay) / loihi2.DECAY_SCALE)
    return np.trunc(y, out=y)


def cuba_step(u: np.ndarray, v: np.ndarray, a: np.ndarray, p: Cuba
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of Lava's PyLifModelBitAcc: (u, v, synaptic input << ACT_SHIFT) ->
    (u, v, spikes). Returns new arrays; u and v are not modified."""
    u = _decay(u, p.i_decay) + a  # a new array: the in-place fixes below touch only it
    if u.max(initial=0) > _HALF or u.min(initial=0) <= -_HALF:  # rare: wrap into (-2**23, 2**23]
        u[u > _HALF] -= 2 * _HALF
        u[u <= -_HALF] += 2 * _HALF
    v = _decay(v, p.v_decay) + u
    if p.bias is not None:
        v += p.bias
    np.clip(v, -_V_LIMIT, _V_LIMIT, out=v)
    s = v > p.vth
    v[s] = 0.0
    return u, v, s


def run_neurons(a: np.ndarray, p: Cuba, states: bool = False
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Step a layer of CUBA neurons from rest through synaptic input a [n, T, B]
    (state units): spikes bool [n, T, B], and u, v int32 [n, T, B] when asked."""
    n = a.shape[0]
    s = np.empty(a.shape, dtype=bool)
    us = np.empty(a.shape if states else (0, 0, 0), dtype=np.int32)
    vs = np.empty(a.shape if states else (0, 0, 0), dtype=np.int32)
    bias = np.zeros(n) if p.bias is None else np.ascontiguousarray(p.bias, np.float64).reshape(n)
    _run_cuba(np.ascontiguousarray(a), _keep(p.i_decay), _keep(p.v_decay), float(p.vth), bias,
              s, us, vs, states)
    return s, (us if states else None), (vs if states else None)


def _keep(decay: int) -> float:
    """The factor `_decay` multiplies by (exact: a multiple of 2**-12)."""
    return (loihi2.DECAY_SCALE - decay) / loihi2.DECAY_SCALE


@numba.njit(parallel=True, cache=True, nogil=True)
def _run_cuba(a, keep_u, keep_v, vth, bias, s, us, vs, states):  # pragma: no cover - compiled
    """`cuba_step` through time for every neuron j (a task each) and sample b."""
    n, steps, batch = a.shape
    for j in numba.prange(n):
        u = np.zeros(batch)
        v = np.zeros(batch)
        for t in range(steps):
            for b in range(batch):
                uu = np.trunc(u[b] * keep_u) + a[j, t, b]
                if uu > _HALF:
                    uu -= 2 * _HALF
                elif uu <= -_HALF:
                    uu += 2 * _HALF
                vv = np.trunc(v[b] * keep_v) + uu + bias[j]
                vv = min(max(vv, -_V_LIMIT), _V_LIMIT)
                fire = vv > vth
                if fire:
                    vv = 0.0
                s[j, t, b] = fire
                u[b] = uu
                v[b] = vv
                if states:
                    us[j, t, b] = np.int32(uu)
                    vs[j, t, b] = np.int32(vv)


def _to_state_units(acc: np.ndarray, layer: Layer) -> np.ndarray:
    """floor(acc / 2**shift) << ACT_SHIFT, in place."""
    if layer.shift:
        acc *= 1.0 / (1 << layer.shift)
        np.floor(acc, out=acc)
    acc *= _ACT
    return acc


def arrivals(acc: np.ndarray, layer: Layer) -> np.ndarray:
    """Summed weighted spikes [out, T, B] of each step -> the input each neuron
    receives at each step, in state units: floor(acc / 2**shift) << ACT_SHIFT,
    arriving 1 + delay steps later (Lava's synapse pipeline plus the delay)."""
    acc = _to_state_units(acc, layer)
    steps = acc.shape[1]
    a = np.zeros_like(acc)
    for j, d in enumerate(layer.delay):
        lag = 1 + int(d)
        if lag < steps:
            a[j, lag:] = acc[j, :steps - lag]
    return a


def synaptic_arrivals(s: np.ndarray, layer: Layer) -> np.ndarray:
    """Input spikes [in, T, B] through per-synapse delays -> each neuron's input [out, T, B]
    in state units: per distinct delay d, Lava's DelayDense slot floor(W_d @ s / 2**shift)
    << ACT_SHIFT (W_d: the synapses of delay d), arriving 1 + d steps later. When every
    weight is a multiple of 2**shift (netx's fit makes it so unless its sign mode and
    Lava's disagree) no slot's floor can act, and each spike adds its weights directly."""
    n_in, steps, batch = s.shape
    unit = float(1 << layer.shift)
    if not np.fmod(layer.weight, unit).any():
        acc = np.zeros((batch, steps, layer.weight.shape[0]))  # a sample's block per task
        w_t = np.ascontiguousarray((layer.weight.T / unit) * _ACT, dtype=np.float64)
        _add_delayed_events(np.ascontiguousarray(s.transpose(2, 0, 1), dtype=np.uint8), w_t,
                            np.ascontiguousarray(layer.delay.T, dtype=np.int64), acc)
        return np.ascontiguousarray(acc.transpose(2, 1, 0))
    flat = s.reshape(n_in, -1).astype(layer.weight.dtype)
    a = np.zeros((layer.weight.shape[0], steps, batch), layer.weight.dtype)
    for d in np.unique(layer.delay[layer.weight != 0]).tolist():
        lag = 1 + d
        if lag >= steps:
            continue
        w = np.where(layer.delay == d, layer.weight, 0)
        acc = _to_state_units((w @ flat).reshape(-1, steps, batch), layer)
        a[:, lag:] += acc[:, :steps - lag]
    return a


EVENT_DENSITY = 0.15  # below this input density the first layer adds weights per event


def input_sums(weight: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The first layer's summed weighted spikes [out, T, B] from X uint8 [B, in, T]:
    per input event (sparse input, as speech is) or one matrix product. The sums are
    of integers, exact in weight's dtype (`_compile_layer` chose it), so equal."""
    if X.size and np.count_nonzero(X) < EVENT_DENSITY * X.size:
        acc = np.zeros((X.shape[0], X.shape[2], weight.shape[0]), weight.dtype)
        add_events(np.ascontiguousarray(X), np.ascontiguousarray(weight.T), acc)
        out = np.empty((weight.shape[0], X.shape[2], X.shape[0]), weight.dtype)
        _neuron_major(acc, out)
        return out
    # [out, in] @ [B, in, T] -> [B, out, T]: the input's large channel axis stays put
    return np.matmul(weight, X.astype(weight.dtype)).transpose(1, 2, 0).copy()


@numba.njit(parallel=True, cache=True, nogil=True)
def _neuron_major(acc, out):  # pragma: no cover - compiled
    """out[o, t, b] = acc[b, t, o], a step per task (numpy's strided copy is slower)."""
    batch, steps, neurons = acc.shape
    for t in numba.prange(steps):
        for o in range(neurons):
            for b in range(batch):
                out[o, t, b] = acc[b, t, o]


@numba.njit(parallel=True, cache=True, nogil=True)
def _add_delayed_events(s, weight_t, delay_t, acc):  # pragma: no cover - compiled
    """acc[b, t + 1 + delay_t[i, o], o] += weight_t[i, o] for every spike s[b, i, t] (a
    sample per task; sums of integers in float64, exact)."""
    batch, n_in, steps = s.shape
    n_out = weight_t.shape[1]
    for b in numba.prange(batch):
        for i in range(n_in):
            for t in range(steps):
                if s[b, i, t]:
                    for o in range(n_out):
                        arrive = t + 1 + delay_t[i, o]
                        if arrive < steps:
                            acc[b, arrive, o] += weight_t[i, o]


def emulate(layers: tuple[Layer, ...], X: np.ndarray, states: bool = False) -> list[tuple]:
    """Spike trains uint8 [B, C, T] -> per layer (spikes, u, v), each [n, T, B]."""
    batch, _, steps = X.shape
    out = []
    for i, layer in enumerate(layers):
        if layer.delay.ndim == 2:  # per synapse
            s = X.transpose(1, 2, 0) if i == 0 else out[-1][0]
            a = synaptic_arrivals(s, layer)
        elif i == 0:
            a = arrivals(input_sums(layer.weight, X), layer)
        else:
            s = out[-1][0]
            acc = layer.weight @ s.reshape(s.shape[0], -1).astype(layer.weight.dtype)
            a = arrivals(acc.reshape(-1, steps, batch), layer)
        out.append(run_neurons(a, layer.neuron, states))
    return out


class EmulatorBackend:
    name = "emulator"

    def __init__(self, batch_size: int = 256) -> None:
        self.batch_size = batch_size  # samples per chunk: bounds memory, keeps steps in cache

    def run(self, netx_file: str | os.PathLike, X: np.ndarray, *, hidden: bool = False,
            states: bool = False) -> RunResult:
        net = read_netx(netx_file)
        X = check_input(net, X, "input")
        return self._run(net, compile_network(net), X, hidden, states)

    def run_batches(self, netx_file: str | os.PathLike, batches: Iterable[np.ndarray], *,
                    hidden: bool = False, source: str = "input") -> Iterator[RunResult]:
        """`run` over spike trains that come a batch at a time (the caller reads them,
        from an events file say): one RunResult per batch, the network read and
        compiled once. Only one batch and its result are held at a time; each result
        equals `run` on that batch, so concatenated they equal `run` on all of them."""
        net = read_netx(netx_file)
        layers = compile_network(net)
        for X in batches:
            yield self._run(net, layers, check_input(net, X, source), hidden, False)

    def _run(self, net: NetxNetwork, layers: tuple[Layer, ...], X: np.ndarray, hidden: bool,
             states: bool) -> RunResult:
        n, _, steps = X.shape
        sizes = [layer.out_features for layer in net.layers]
        spikes = [np.zeros((n, k, steps), np.uint8) for k in sizes]
        us = [np.zeros((n, k, steps), np.int32) for k in sizes] if states else []
        vs = [np.zeros((n, k, steps), np.int32) for k in sizes] if states else []
        if steps:
            for start in range(0, n, self.batch_size):
                chunk = slice(start, start + self.batch_size)
                for i, (s, u, v) in enumerate(emulate(layers, X[chunk], states)):
                    spikes[i][chunk] = s.transpose(2, 0, 1)
                    if states:
                        us[i][chunk] = u.transpose(2, 0, 1)
                        vs[i][chunk] = v.transpose(2, 0, 1)
        return RunResult(
            output=spikes[-1],
            hidden=tuple(spikes[:-1]) if hidden else (),
            u=tuple(us),
            v=tuple(vs),
        )
