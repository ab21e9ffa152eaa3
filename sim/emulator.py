"""A batched, bit-exact emulator of NetX networks as Lava's fixed_pt models run them.

Lava steps every process once per time step; here the network is feed-forward,
so each layer's input spikes are known for all steps before its neurons run.
Per layer:

1. synapse: the summed weighted input spikes of every step at once, [B, T, out], per
   input event where spikes are sparse (`spiketime.event_sums`) or one matrix product
   where they are not, with Lava's effective integer weights (`lava_weights`); with
   per-synapse delays (a `delay` matrix), each delay's synapses summed on their own
   and moved 1 + d steps later, which is Lava's DelayDense: it accumulates each delay
   slot separately and shifts every slot;
   Each neuron's sums arrive 1 + delay steps after the spikes (the synapse's one-step
   pipeline plus the neuron's delay);
2. neurons: `cuba_step`, Lava's `PyLifModelBitAcc` arithmetic, compiled with numba and
   stepped through time a sample per task (`_run_cuba`; tests/test_emulator.py holds it
   to `cuba_step`), the sums floor-shifted by the weight exponent.

A layer's sums and spikes are held time-major per sample, [B, T, n], so the neurons of
a step sit side by side; they are read as [B, n, T] (the layout a run returns) through a
transposed view.

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
from spiketime.event_sums import event_sums, step_event_sums
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
    (state units, already arrived): spikes bool [n, T, B], and u, v int32 [n, T, B]
    when asked. The compiled kernel `emulate` runs, on `cuba_step`'s arithmetic."""
    acc = np.ascontiguousarray(a.transpose(2, 1, 0))
    s, u, v = _neurons(acc, 1.0, 1.0, p, states)
    back = (lambda x: None if x is None else x.transpose(2, 1, 0))  # noqa: E731
    return back(s).astype(bool), back(u), back(v)


def _neurons(acc: np.ndarray, scale: float, act: float, p: Cuba, states: bool
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Spikes uint8 [B, T, n] (and u, v int32 [B, T, n] when asked) of neurons whose input
    at step t is floor(acc[b, t, j] * scale) * act (acc: arrived sums [B, T, n])."""
    shape = acc.shape
    s = np.empty(shape, np.uint8)
    us = np.empty(shape if states else (0, 0, 0), np.int32)
    vs = np.empty(shape if states else (0, 0, 0), np.int32)
    n = shape[2]
    bias = np.zeros(n) if p.bias is None else np.ascontiguousarray(p.bias, np.float64).reshape(n)
    _run_cuba(acc, scale, act, _keep(p.i_decay), _keep(p.v_decay), float(p.vth), bias,
              s, us, vs, states)
    return s, (us if states else None), (vs if states else None)


def _keep(decay: int) -> float:
    """The factor `_decay` multiplies by (exact: a multiple of 2**-12)."""
    return (loihi2.DECAY_SCALE - decay) / loihi2.DECAY_SCALE


@numba.njit(parallel=True, cache=True, nogil=True)
def _run_cuba(acc, scale, act, keep_u, keep_v, vth, bias, s, us, vs,
              states):  # pragma: no cover - compiled
    """`cuba_step` through time for every sample b (a task each), its neurons side by
    side (no branch in the loop over them, so it vectorizes); input as in `_neurons`."""
    batch, steps, n = acc.shape
    for b in numba.prange(batch):
        u = np.zeros(n)
        v = np.zeros(n)
        for t in range(steps):
            for j in range(n):
                uu = np.trunc(u[j] * keep_u) + np.floor(acc[b, t, j] * scale) * act
                uu += 2 * _HALF * ((uu <= -_HALF) * 1.0 - (uu > _HALF) * 1.0)  # wrap
                vv = np.trunc(v[j] * keep_v) + uu + bias[j]
                vv = min(max(vv, -_V_LIMIT), _V_LIMIT)
                fire = vv > vth
                s[b, t, j] = fire
                u[j] = uu
                v[j] = vv * (1.0 - fire)  # reset to 0 on a spike
                if states:
                    us[b, t, j] = np.int32(uu)
                    vs[b, t, j] = np.int32(v[j])


EVENT_DENSITY = 0.15  # below this density of input spikes a layer adds weights per event


def input_sums(weight: np.ndarray, X: np.ndarray, lag: np.ndarray | None = None
               ) -> np.ndarray:
    """A layer's summed weighted spikes [B, T, out] from spikes uint8 [B, in, T] (C-order,
    or a transposed view of time-major [B, T, in]), output o's arriving lag[o] >= 0 steps
    later (none: at once), zero before: per input event (sparse input, as speech and most
    hidden layers are) or one matrix product. The sums are of integers, exact in
    weight's dtype (`_compile_layer` chose it), so equal."""
    batch, _, steps = X.shape
    lag = np.zeros(weight.shape[0], np.int64) if lag is None else lag
    if X.size and np.count_nonzero(X) < EVENT_DENSITY * X.size:
        out = np.empty((batch, steps + int(lag.max(initial=0)), weight.shape[0]), weight.dtype)
        weight_t = np.ascontiguousarray(weight.T)
        if X.transpose(0, 2, 1).flags.c_contiguous:
            step_event_sums(X.transpose(0, 2, 1), weight_t, lag, out)
        else:
            event_sums(np.ascontiguousarray(X), weight_t, lag, out)
        return out[:, :steps]
    sums = np.matmul(X.transpose(0, 2, 1).astype(weight.dtype), weight.T)
    out = np.zeros_like(sums)
    for d in np.unique(lag).tolist():  # usually one or a few distinct lags
        if d < steps:
            cols = lag == d
            out[:, d:, cols] = sums[:, :steps - d, cols]
    return out


def synaptic_arrivals(s: np.ndarray, layer: Layer) -> np.ndarray:
    """Input spikes uint8 [B, in, T] (any strides) through per-synapse delays -> each
    neuron's input [B, T, out] in state units: per distinct delay d, Lava's DelayDense
    slot floor(W_d @ s / 2**shift) << ACT_SHIFT (W_d: the synapses of delay d), arriving
    1 + d steps later. When every weight is a multiple of 2**shift (netx's fit makes it
    so unless its sign mode and Lava's disagree) no slot's floor can act, and each spike
    adds its weights directly."""
    batch, _, steps = s.shape
    unit = float(1 << layer.shift)
    acc = np.zeros((batch, steps, layer.weight.shape[0]))  # a sample's block per task
    if not np.fmod(layer.weight, unit).any():
        w_t = np.ascontiguousarray((layer.weight.T / unit) * _ACT, dtype=np.float64)
        _add_delayed_events(s, w_t, np.ascontiguousarray(layer.delay.T, dtype=np.int64), acc)
        return acc
    for d in np.unique(layer.delay[layer.weight != 0]).tolist():
        lag = 1 + d
        if lag >= steps:
            continue
        slot = input_sums(np.where(layer.delay == d, layer.weight, 0), s)
        acc[:, lag:] += np.floor(slot[:, :steps - lag] / unit) * _ACT
    return acc


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
    """Spike trains uint8 [B, C, T] -> per layer (spikes uint8, u, v int32 or None), each
    [B, n, T] (views of time-major [B, T, n] memory, which the next layer reads)."""
    out = []
    s = X
    for layer in layers:
        if layer.delay.ndim == 2:  # per synapse: arrivals already in state units
            spikes, u, v = _neurons(synaptic_arrivals(s, layer), 1.0, 1.0, layer.neuron,
                                    states)
        else:  # arriving after the synapse's one-step pipeline plus the neuron's delay
            sums = input_sums(layer.weight, s, 1 + layer.delay)
            spikes, u, v = _neurons(sums, 1.0 / (1 << layer.shift), _ACT, layer.neuron, states)
        view = (lambda x: None if x is None else x.transpose(0, 2, 1))  # noqa: E731
        out.append((view(spikes), view(u), view(v)))
        s = out[-1][0]
    return out


def _file_key(path: str | os.PathLike) -> tuple | None:
    """What identifies a file's version: its real path, device, inode, size, modification
    and status-change times (an atomic rewrite gets a new inode; an in-place one a new
    ctime, which no tool can set back), or None if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns)


KEPT_FILES = 8  # compiled networks a backend keeps (an SHD-size one is about 1 MB)


class EmulatorBackend:
    name = "emulator"

    def __init__(self, batch_size: int = 256) -> None:
        self.batch_size = batch_size  # samples per chunk: bounds memory, keeps steps in cache
        # file key -> (network, compiled layers), the KEPT_FILES most recently used
        self._networks: dict[tuple, tuple[NetxNetwork, tuple[Layer, ...]]] = {}

    def network(self, netx_file: str | os.PathLike) -> tuple[NetxNetwork, tuple[Layer, ...]]:
        """The file's network, read, validated and compiled; kept for later calls while
        the file is unchanged (`_file_key`), the last KEPT_FILES files, so a harness that
        runs a few models under many conditions reads each once."""
        key = _file_key(netx_file)
        entry = self._networks.pop(key, None) if key is not None else None
        if entry is None:
            net = read_netx(netx_file)  # a missing or bad file is refused here, every time
            entry = (net, compile_network(net))
        if key is not None:
            self._networks[key] = entry  # now the most recent
            while len(self._networks) > KEPT_FILES:
                self._networks.pop(next(iter(self._networks)))
        return entry

    def run(self, netx_file: str | os.PathLike, X: np.ndarray, *, hidden: bool = False,
            states: bool = False) -> RunResult:
        net, layers = self.network(netx_file)
        X = check_input(net, X, "input")
        return self._run(net, layers, X, hidden, states)

    def run_batches(self, netx_file: str | os.PathLike, batches: Iterable[np.ndarray], *,
                    hidden: bool = False, source: str = "input") -> Iterator[RunResult]:
        """`run` over spike trains that come a batch at a time (the caller reads them,
        from an events file say): one RunResult per batch, the network read and
        compiled once. Only one batch and its result are held at a time; each result
        equals `run` on that batch, so concatenated they equal `run` on all of them."""
        net, layers = self.network(netx_file)
        for X in batches:
            yield self._run(net, layers, check_input(net, X, source), hidden, False)

    def _run(self, net: NetxNetwork, layers: tuple[Layer, ...], X: np.ndarray, hidden: bool,
             states: bool) -> RunResult:
        n, _, steps = X.shape
        sizes = [layer.out_features for layer in net.layers]
        kept = range(len(sizes)) if hidden or states else [len(sizes) - 1]  # what is returned
        spikes = [np.zeros((n, k, steps), np.uint8) if i in kept else None
                  for i, k in enumerate(sizes)]
        us = [np.zeros((n, k, steps), np.int32) for k in sizes] if states else []
        vs = [np.zeros((n, k, steps), np.int32) for k in sizes] if states else []
        if steps:
            for start in range(0, n, self.batch_size):
                chunk = slice(start, start + self.batch_size)
                for i, (s, u, v) in enumerate(emulate(layers, X[chunk], states)):
                    if i in kept:
                        spikes[i][chunk] = s
                    if states:
                        us[i][chunk] = u
                        vs[i][chunk] = v
        return RunResult(
            output=spikes[-1],
            hidden=tuple(spikes[:-1]) if hidden else (),
            u=tuple(us),
            v=tuple(vs),
        )
