"""Loihi 2 legality and resource check for a NetX network.

Two kinds of finding, both reported as `Violation`s naming layer, parameter,
value and limit:

- register and format limits (weights, weight bits and exponent, delays, decays,
  threshold, refractory delay, bias): what netx would clip, drop or overflow;
- resources (fan-in, fan-out, synaptic memory, neurons per core, cores per
  chip): an estimated packing of each layer onto neuro cores. Several of these
  figures are estimates (see `spiketime.loihi2.LIMITS`), and every finding
  that rests on one says so.

All limits come from `spiketime.loihi2`; none is written here.
"""
from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from spiketime import loihi2
from spiketime.export.netx import DenseLayer, NetxNetwork, stored_values


@dataclass(frozen=True)
class ChipLimits:
    """The resource limits a check applies (defaults: one Loihi 2 chip)."""

    neurons_per_core: int = loihi2.NEURONS_PER_CORE
    synaptic_memory_bits: int = loihi2.SYNAPTIC_MEMORY_BITS_PER_CORE
    fan_in: int = loihi2.FAN_IN_PER_CORE
    fan_out: int = loihi2.FAN_OUT_PER_CORE
    cores_per_chip: int = loihi2.CORES_PER_CHIP
    chips: int = 1

    @property
    def cores(self) -> int:
        return self.cores_per_chip * self.chips


@dataclass(frozen=True)
class Violation:
    layer: int | None  # None: the network as a whole
    parameter: str
    value: int
    limit: str  # e.g. "<= 62", "[0, 4095]"
    message: str
    estimate: bool = False  # the limit is an estimate


@dataclass(frozen=True)
class LayerResources:
    """Estimated mapping of one layer onto neuro cores."""

    layer: int
    neurons: int
    fan_in: int
    weight_bits: int | None  # as netx derives them; None when it cannot
    weight_exponent: int | None
    delay_bits: int
    bits_per_synapse: int
    synaptic_bits_per_neuron: int
    target_cores: int  # cores each neuron's spikes must reach (next layer, or the output adapter)
    neurons_per_core: int  # 0: not even one neuron fits a core
    cores: int
    bound_by: str  # the limit that sets neurons_per_core


@dataclass(frozen=True)
class CheckReport:
    legal: bool
    violations: tuple[Violation, ...]
    layers: tuple[LayerResources, ...]
    cores: int
    cores_available: int
    estimates: tuple[loihi2.Limit, ...] = field(
        default_factory=lambda: tuple(lim for lim in loihi2.LIMITS if lim.estimate))

    def to_dict(self) -> dict:
        return {
            "legal": self.legal,
            "violations": [asdict(v) for v in self.violations],
            "layers": [asdict(lay) for lay in self.layers],
            "cores": self.cores,
            "cores_available": self.cores_available,
            "cores_estimated": True,
            "estimates": [asdict(lim) for lim in self.estimates],
        }


def check_network(net: NetxNetwork, limits: ChipLimits = ChipLimits()) -> CheckReport:
    """Every Loihi 2 limit `net` breaks, and its estimated core usage."""
    violations: list[Violation] = []
    fits = []
    for i, layer in enumerate(net.layers):
        violations += _register_violations(i, layer)
        fits.append(_weight_fit(i, layer, violations))
    layers = _map_layers(net, fits, limits, violations)
    cores = sum(lay.cores for lay in layers)
    if cores > limits.cores:
        worst = max(layers, key=lambda lay: lay.cores)
        chips = "1 chip of" if limits.chips == 1 else f"{limits.chips} chips of"
        holds = "holds" if limits.chips == 1 else "hold"
        violations.append(Violation(
            None, "neuro cores", cores, f"<= {limits.cores}",
            f"the network needs an estimated {cores} neuro cores but {chips} "
            f"{limits.cores_per_chip} cores {holds} {limits.cores} (largest: layer {worst.layer}, "
            f"{worst.cores} cores of {worst.neurons_per_core} neurons, bound by {worst.bound_by})",
            estimate=True))
    violations.sort(key=lambda v: (v.layer is None, v.layer or 0))  # stable: layer order
    return CheckReport(not violations, tuple(violations), tuple(layers), cores, limits.cores)


def _out_of(layer: int, values: np.ndarray | int, r: loihi2.Range) -> list[Violation]:
    """One violation per side of the parameter's range that `values` crosses."""
    arr = np.asarray(values).reshape(-1)
    name, found = r.parameter, []
    if arr.size and int(arr.min()) < r.low:
        low = int(arr.min())
        found.append(Violation(layer, name, low, f">= {r.low}",
                               f"layer {layer} {name} {low} is below {r.low} ({r.why})"))
    if arr.size and int(arr.max()) > r.high:
        high = int(arr.max())
        found.append(Violation(layer, name, high, f"<= {r.high}",
                               f"layer {layer} {name} {high} is above {r.high} ({r.why})"))
    return found


def _register_violations(i: int, layer: DenseLayer) -> list[Violation]:
    """Every value outside its `loihi2.RANGES` entry, then the decay registers."""
    found = []
    for name, values in stored_values(layer).items():
        if values is not None:
            found += _out_of(i, values, loihi2.RANGES[name])
    # Registers as netx programs them: du = iDecay - 1, dv = vDecay, 12 bits each.
    n, reg = layer.neuron, loihi2.DECAY_REGISTER_MAX
    bits = loihi2.DECAY_BITS
    decay = loihi2.RANGES["iDecay"]
    if decay.contains(n.i_decay) and not 0 <= n.i_decay - 1 <= reg:
        found.append(Violation(i, "iDecay", n.i_decay, f"[1, {reg + 1}]",
                               f"layer {i} iDecay {n.i_decay}: netx programs du = iDecay - 1 = "
                               f"{n.i_decay - 1}, outside the {bits}-bit register [0, {reg}]"))
    if decay.contains(n.v_decay) and not 0 <= n.v_decay <= reg:
        found.append(Violation(i, "vDecay", n.v_decay, f"[0, {reg}]",
                               f"layer {i} vDecay {n.v_decay}: netx programs dv = vDecay = "
                               f"{n.v_decay}, outside the {bits}-bit register [0, {reg}]"))
    return found


@dataclass(frozen=True)
class _WeightFit:
    bits: int | None
    exponent: int | None


def _weight_fit(i: int, layer: DenseLayer, violations: list[Violation]) -> _WeightFit:
    """Weight bits and exponent as netx derives them (lava-dl optimize_weight_bits)."""
    w = layer.weight
    if not np.any(w):
        violations.append(Violation(
            i, "weight", 0, "not all zero",
            f"layer {i} weights are all zero: netx cannot derive a weight exponent for them"))
        return _WeightFit(None, None)
    from lava.lib.dl.netx.utils import optimize_weight_bits

    # It prints a note when it clips; the range check above already reports that.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, bits, exponent, _ = optimize_weight_bits(w)
    r = loihi2.RANGES["weight"]
    if not (r.contains(int(w.min())) and r.contains(int(w.max()))):
        # netx would clip these (the range violation says so), and its bit count would
        # describe the clipped weights: give the bits the stored values need instead.
        bits = _mantissa_bits(w)
    elif bits > loihi2.WEIGHT_MANTISSA_BITS:
        violations.append(Violation(
            i, "weight bits", bits, f"<= {loihi2.WEIGHT_MANTISSA_BITS}",
            f"layer {i} weights need {bits} bits of mantissa, above the chip's "
            f"{loihi2.WEIGHT_MANTISSA_BITS} (odd values at full range lose their last bit)"))
    if not loihi2.WEIGHT_EXP_MIN <= exponent <= loihi2.WEIGHT_EXP_MAX:
        violations.append(Violation(
            i, "weight exponent", exponent, f"[{loihi2.WEIGHT_EXP_MIN}, {loihi2.WEIGHT_EXP_MAX}]",
            f"layer {i} weight exponent {exponent} is outside [{loihi2.WEIGHT_EXP_MIN}, "
            f"{loihi2.WEIGHT_EXP_MAX}] (estimate)", estimate=True))
    return _WeightFit(bits, exponent)


def _mantissa_bits(w: np.ndarray) -> int:
    """Signed mantissa bits that hold every weight exactly at WEIGHT_SCALE: even weights
    are stored halved (the chip's 8 bits hold [-256, 254]), odd ones need one bit more."""
    odd = bool(np.any(w % loihi2.WEIGHT_STEP))
    m = w if odd else w // loihi2.WEIGHT_STEP
    lo, hi = int(m.min()), int(m.max())
    bits = max((~lo).bit_length() if lo < 0 else lo.bit_length(),
               (~hi).bit_length() if hi < 0 else hi.bit_length()) + 1
    return bits + int(odd)


def _delay_bits(layer: DenseLayer) -> int:
    """Bits of the per-synapse delay field netx's DelayDense needs (0: plain Dense): the same
    for axonal delays (netx copies delay[j] to every synapse of neuron j) and per-synapse
    ones; `loihi2.DELAY_BITS_PER_SYNAPSE` (an estimate) in range."""
    if layer.delay is None:
        return 0
    return max(1, int(max(int(layer.delay.max(initial=0)), 0)).bit_length())


def _map_layers(net: NetxNetwork, fits: list[_WeightFit], limits: ChipLimits,
                violations: list[Violation]) -> list[LayerResources]:
    """Pack each layer onto cores, last layer first (a layer's fan-out is the next one's cores)."""
    mapped: list[LayerResources] = []
    targets = 1  # the output layer's spikes go to one output adapter
    for i in reversed(range(len(net.layers))):
        layer, fit = net.layers[i], fits[i]
        w_bits = fit.bits if fit.bits is not None else loihi2.WEIGHT_MANTISSA_BITS
        d_bits = _delay_bits(layer)
        per_synapse = w_bits + d_bits
        per_neuron = layer.in_features * per_synapse
        if layer.in_features > limits.fan_in:
            violations.append(Violation(
                i, "fan-in", layer.in_features, f"<= {limits.fan_in}",
                f"layer {i} fan-in {layer.in_features}: every core holding its neurons needs one "
                f"input axon per input, a core has {limits.fan_in} (estimate)", estimate=True))
        if per_neuron > limits.synaptic_memory_bits:
            violations.append(Violation(
                i, "synaptic memory", per_neuron, f"<= {limits.synaptic_memory_bits}",
                f"layer {i} synaptic memory: one neuron needs {per_neuron} bits "
                f"({layer.in_features} inputs x {per_synapse} bits) but a core holds "
                f"{limits.synaptic_memory_bits} bits "
                f"(estimate)", estimate=True))
        if targets > limits.fan_out:
            violations.append(Violation(
                i, "fan-out", targets, f"<= {limits.fan_out}",
                f"layer {i} fan-out: each neuron's spikes must reach {targets} cores but a core "
                f"has {limits.fan_out} output axons (estimate)", estimate=True))
        caps = {
            "neurons per core": limits.neurons_per_core,
            "synaptic memory per core": limits.synaptic_memory_bits // max(per_neuron, 1),
            "output axons per core": limits.fan_out // targets,
        }
        bound_by = min(caps, key=caps.__getitem__)
        per_core = caps[bound_by]
        cores = math.ceil(layer.out_features / max(per_core, 1))
        mapped.append(LayerResources(
            layer=i, neurons=layer.out_features, fan_in=layer.in_features,
            weight_bits=fit.bits, weight_exponent=fit.exponent, delay_bits=d_bits,
            bits_per_synapse=per_synapse, synaptic_bits_per_neuron=per_neuron,
            target_cores=targets, neurons_per_core=per_core, cores=cores, bound_by=bound_by))
        targets = cores
    return mapped[::-1]
