"""NIR graph -> NetX network: NIR's continuous-time parameters quantized to Loihi 2 integers.

Per layer, at time step dt (`export.nir_graph` states the discretization):

- decays: iDecay = round(DECAY_SCALE * dt / tau_syn) (DECAY_SCALE for a LIF, whose
  current lasts one step), vDecay = round(DECAY_SCALE * dt / tau_mem). NetX holds one
  value per layer, so time constants that differ between neurons are refused.
- weights and threshold: below threshold a neuron is linear in its input, so each
  neuron's row of weights can be scaled by any positive factor together with its
  threshold and bias without changing when it fires. The per-step input gains
  (dt/tau_syn * w_in * dt/tau_mem * r) and the per-neuron thresholds are folded into
  the weights that way, leaving one threshold for the layer. What is left to choose
  is the threshold mantissa V: weights become even mantissas round(V * w / theta) in
  [WEIGHT_MIN, WEIGHT_MAX] and the bias round(V * leak / theta). Every V up to the
  largest that keeps the weights, bias and threshold in range is a candidate (512
  spread over the upper half, plus the chip's native scale V = theta * THRESHOLD_SCALE);
  the one with the least RMS error of weight/threshold (and bias/threshold) wins,
  ties going to the native scale, so a graph spiketime exported comes back unchanged.
- delays: round(delay / dt) steps (a rounding is reported).

Values the chip cannot hold (delays over MAX_DELAY, decays outside the 12-bit range,
a weight beyond WEIGHT_MAX times the threshold) are refused with one sentence, or
with `clip=True` clipped by `export.netx.clip_to_chip`, which reports each clip. The
limits are `spiketime.loihi2.RANGES`; none is written here again.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spiketime import loihi2
from spiketime.errors import UserError
from spiketime.export.netx import (
    CubaNeuron,
    DenseLayer,
    NetxNetwork,
    clip_to_chip,
    range_violations,
)
from spiketime.export.nir_graph import NirLayer, NirNetwork

CANDIDATES = 512  # threshold mantissas tried per layer
_TIE = 1e-9  # errors closer than this are equal (the native scale wins)
_SLACK = 1e-9  # relative: float noise in the largest threshold mantissa that fits


@dataclass(frozen=True)
class Choice:
    """What the quantizer chose for one layer, and the error it leaves."""

    layer: int
    vth_mant: int
    scale: float  # weight mantissas per unit of NIR weight (median over neurons)
    weight_range: tuple[int, int]
    weight_error: float  # RMS error of weight/threshold over RMS of weight/threshold
    i_decay: int
    v_decay: int
    delays: tuple[int, int]
    native: bool  # the chip's native scale (vThMant = threshold * THRESHOLD_SCALE)

    def describe(self) -> str:
        lo, hi = self.weight_range
        return (f"layer {self.layer}: threshold mantissa {self.vth_mant}"
                f"{' (native scale)' if self.native else ''}, weight scale "
                f"{self.scale:.4g} mantissas per NIR unit, weights {lo}..{hi}, RMS weight error "
                f"{100 * self.weight_error:.3f}%; iDecay {self.i_decay}, vDecay {self.v_decay}; "
                f"delays {self.delays[0]}..{self.delays[1]} steps")


def quantize(net: NirNetwork, dt_ms: float, *, clip: bool = False,
             metadata: dict | None = None) -> tuple[NetxNetwork, list[Choice], list[str]]:
    """(NetX network, per-layer choices, notes: roundings and clips) for `net` at `dt_ms`."""
    if not (np.isfinite(dt_ms) and dt_ms > 0):
        raise UserError(f"--dt must be a positive number of milliseconds, got {dt_ms:g}")
    dt = dt_ms / 1000.0
    layers, choices, notes = [], [], []
    for i, layer in enumerate(net.layers):
        dense, choice = _layer(layer, i, dt, notes)
        layers.append(dense)
        choices.append(choice)
    meta = dict(metadata or {})
    meta.update({"dt_ms": dt_ms, "nir_import": [c.describe() for c in choices]})
    out = NetxNetwork(tuple(layers), meta)
    if clip:
        out, clipped = clip_to_chip(out)
        notes += [f"clipped: {line}" for line in clipped]
    else:
        problems = range_violations(out)
        if problems:
            raise UserError("cannot import: " + "; ".join(problems)
                            + " (--clip clips them into range)")
    return out, choices, notes


def _layer(layer: NirLayer, i: int, dt: float, notes: list[str]) -> tuple[DenseLayer, Choice]:
    name = layer.names[1]
    d = layer.discretize(dt)
    if layer.bias.any():
        raise UserError(f"layer {i} ('{layer.names[0]}'): an Affine bias is a constant input "
                        f"current, which Loihi 2's CUBA neuron does not have (its bias adds to "
                        f"the voltage); use Linear, or a LIF/CubaLIF v_leak")
    if layer.v_reset.any():
        raise UserError(f"layer {i} ('{name}'): v_reset must be 0 (Loihi 2 resets the voltage "
                        f"to 0), got {_span(layer.v_reset)}")
    if not np.all(layer.v_threshold > 0):
        raise UserError(f"layer {i} ('{name}'): v_threshold must be positive, got "
                        f"{_span(layer.v_threshold)}")
    i_decay = _decay((1 - d.current_keep) * loihi2.DECAY_SCALE, i, name, "tau_syn")
    v_decay = _decay((1 - d.voltage_keep) * loihi2.DECAY_SCALE, i, name, "tau_mem")
    gain = d.current_gain * d.voltage_gain
    if not np.all(np.isfinite(gain)) or not np.all(np.isfinite(d.leak)):
        raise UserError(f"layer {i} ('{name}'): the input gain dt*w_in/tau_syn * dt*r/tau_mem "
                        f"or the leak dt*v_leak/tau_mem is not finite")
    theta = float(layer.v_threshold.max())
    rows = theta / layer.v_threshold  # each neuron at the layer's threshold
    w = layer.weight * (gain * rows)[:, None]
    leak = d.leak * rows
    delay = _delays(d.delay_steps, i, notes)
    if leak.any() and delay.any():
        raise UserError(f"layer {i} ('{name}'): a v_leak with a delay: netx delays a neuron's "
                        f"inputs, which equals NIR's delayed output only without a bias")
    uniform = bool(np.all(layer.v_threshold == theta))
    vth, error, native = _choose_threshold(w, leak, theta, uniform)
    weight = _round_even(w * (vth / theta))
    bias = np.round(leak * (vth / theta)).astype(np.int64) if leak.any() else None
    dense = DenseLayer(weight=weight, neuron=CubaNeuron(i_decay=i_decay, v_decay=v_decay,
                                                        vth_mant=vth),
                       delay=delay if delay.any() else None, bias=bias)
    choice = Choice(layer=i, vth_mant=vth, scale=vth / theta * float(np.median(gain * rows)),
                    weight_range=(int(weight.min()), int(weight.max())), weight_error=error,
                    i_decay=i_decay, v_decay=v_decay,
                    delays=(int(delay.min()), int(delay.max())), native=native)
    return dense, choice


def _decay(value: np.ndarray, i: int, name: str, what: str) -> int:
    if not np.all(np.isfinite(value)):
        raise UserError(f"layer {i} ('{name}'): {what} gives no finite decay")
    steps = np.round(value).astype(np.int64)
    if steps.min() != steps.max():
        raise UserError(f"layer {i} ('{name}'): {what} differs between neurons (decays "
                        f"{steps.min()}..{steps.max()} of {loihi2.DECAY_SCALE}); NetX holds one "
                        f"per layer")
    return int(steps[0])


def _delays(steps: np.ndarray, i: int, notes: list[str]) -> np.ndarray:
    if not np.all(np.isfinite(steps)):
        raise UserError(f"layer {i}: delays are not finite")
    whole = np.round(steps).astype(np.int64)
    off = float(np.abs(steps - whole).max(initial=0))
    if off > 1e-6:
        notes.append(f"layer {i}: delays rounded to whole steps (up to {off:.3g} steps moved)")
    return whole


def _round_even(x: np.ndarray) -> np.ndarray:
    """Nearest multiple of WEIGHT_STEP (slayer's 8-bit weights are even mantissas)."""
    peak = float(np.abs(x).max(initial=0))
    if peak >= 2.0**62:  # int64 would wrap (1e30 read as -9223372036854775808)
        raise UserError(f"a weight scales to {peak:.3g} mantissas even at the smallest "
                        f"threshold, beyond any integer the chip holds "
                        f"({loihi2.RANGES['weight'].interval})")
    return (np.round(x / loihi2.WEIGHT_STEP) * loihi2.WEIGHT_STEP).astype(np.int64)


def _largest_threshold(w: np.ndarray, leak: np.ndarray, theta: float) -> int:
    """Largest threshold mantissa that keeps weights, bias and threshold in range."""
    limits = [float(loihi2.RANGES["vThMant"].high)]
    weight, bias = loihi2.RANGES["weight"], loihi2.RANGES["bias"]
    if w.max(initial=0) > 0:
        limits.append(weight.high * theta / w.max())
    if w.min(initial=0) < 0:
        limits.append(weight.low * theta / w.min())
    if leak.max(initial=0) > 0:
        limits.append(bias.high * theta / leak.max())
    if leak.min(initial=0) < 0:
        limits.append(bias.low * theta / leak.min())
    # a value at a range's end, read back through floats, may land an ulp beyond it
    return int(np.floor(min(limits) * (1 + _SLACK)))


def _choose_threshold(w: np.ndarray, leak: np.ndarray, theta: float,
                      uniform: bool) -> tuple[int, float, bool]:
    """(threshold mantissa, its relative RMS error, native?) with the least error."""
    top = max(_largest_threshold(w, leak, theta), 1)  # below 1: nothing fits; clip or refuse
    candidates = set(np.unique(np.linspace(max(top // 2, 1), top, CANDIDATES).astype(np.int64)))
    native = theta * loihi2.THRESHOLD_SCALE
    native_ok = uniform and native == round(native) and 1 <= native <= top
    if native_ok:
        candidates.add(int(round(native)))
    target = np.concatenate([w.reshape(-1), leak]) / theta
    norm = float(np.sqrt(np.mean(target ** 2))) or 1.0

    def error(v: int) -> float:
        q = np.concatenate([_round_even(w.reshape(-1) * (v / theta)), np.round(leak * v / theta)])
        return float(np.sqrt(np.mean((q / v - target) ** 2))) / norm

    scored = sorted((error(int(v)), -int(v), int(v)) for v in candidates)
    best_error, _, best = scored[0]
    if native_ok and error(int(round(native))) <= best_error + _TIE:
        return int(round(native)), error(int(round(native))), True
    return best, best_error, False


def _span(values: np.ndarray) -> str:
    lo, hi = float(values.min()), float(values.max())
    return f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g}"
