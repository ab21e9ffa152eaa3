"""NetX HDF5 files: a plain-dataclass view of the network, and its reader and writer.

The file layout is lava-dl's (`layer/<i>/{type, shape, inFeatures, outFeatures,
weight, delay, neuron/{type, iDecay, vDecay, vThMant, refDelay, gradedSpike}}`),
so `lava.lib.dl.netx.hdf5.Network` loads what we write. Our metadata rides along
as root attributes (`spiketime_format`, `spiketime_format_version`, `metadata`
as JSON), which netx ignores.

Numbers are stored as integers, exactly as the chip holds them: weights are
mantissas at WEIGHT_SCALE (even, in [WEIGHT_MIN, WEIGHT_MAX]), decays are 12-bit
registers, delays whole steps. Axonal delay semantics follow slayer: `delay[j]`
postpones every output spike of neuron j of that layer; netx realises it as a
synaptic delay on all inputs of neuron j, which is the same for a neuron that
starts from rest and has no bias. A per-synapse delay is a matrix of the weight's
shape, `delay[o, i]` steps on the synapse from input i to neuron o of that layer;
netx hands a 2-D `delay` to DelayDense as it is (lava-dl netx/hdf5.py create_dense).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np

from spiketime import guards, loihi2
from spiketime.errors import UserError
from spiketime.fileio import atomic_path, json_attribute, whole_numbers

FORMAT = "spiketime-netx"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CubaNeuron:
    """Loihi CUBA neuron registers, shared by all neurons of a layer."""

    i_decay: int  # current decay, 0..DECAY_SCALE
    v_decay: int  # voltage decay, 0..DECAY_SCALE
    vth_mant: int  # threshold mantissa; the state threshold is vth_mant << VTH_SHIFT
    ref_delay: int = loihi2.REF_DELAY
    graded_spike: bool = False


@dataclass(frozen=True)
class DenseLayer:
    """A fully connected layer of CUBA neurons with optional axonal or per-synapse delays."""

    weight: np.ndarray  # int64 [out, in], weight mantissas at WEIGHT_SCALE
    neuron: CubaNeuron
    delay: np.ndarray | None = None  # int64 steps: [out] axonal, or [out, in] per synapse
    bias: np.ndarray | None = None  # int64 [out], bias mantissas

    def __post_init__(self) -> None:
        w = np.asarray(self.weight)
        if w.ndim != 2:
            raise ValueError(f"weight must be 2-D [out, in], got shape {w.shape}")
        if 0 in w.shape:
            raise ValueError(f"a layer needs at least one neuron and one input, got weight "
                             f"shape {w.shape}")
        object.__setattr__(self, "weight", _as_int(w, "weight"))
        for name in ("delay", "bias"):
            value = getattr(self, name)
            if value is None:
                continue
            arr = np.asarray(value)
            if name == "delay" and arr.ndim == 2:  # per synapse
                if arr.shape != w.shape:
                    raise ValueError(f"a per-synapse delay must have the weight's shape "
                                     f"{w.shape}, got {arr.shape}")
                object.__setattr__(self, name, _as_int(arr, name))
                continue
            arr = _as_int(arr.reshape(-1), name)
            if arr.shape != (w.shape[0],):
                raise ValueError(f"{name} must have shape ({w.shape[0]},), got {arr.shape}")
            object.__setattr__(self, name, arr)

    @property
    def synaptic_delays(self) -> bool:
        """Whether `delay` holds one delay per synapse [out, in] (else one per neuron)."""
        return self.delay is not None and self.delay.ndim == 2

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])


@dataclass(frozen=True)
class NetxNetwork:
    """A feed-forward stack of dense CUBA layers plus spiketime metadata."""

    layers: tuple[DenseLayer, ...]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError("a network needs at least one layer")
        for i, (a, b) in enumerate(zip(self.layers, self.layers[1:])):
            if a.out_features != b.in_features:
                raise ValueError(
                    f"layer {i} has {a.out_features} outputs but layer {i + 1} "
                    f"expects {b.in_features} inputs"
                )

    @property
    def input_size(self) -> int:
        return self.layers[0].in_features

    @property
    def output_size(self) -> int:
        return self.layers[-1].out_features

    @property
    def max_delay(self) -> int:
        delays = [int(lay.delay.max()) for lay in self.layers
                  if lay.delay is not None and lay.delay.size]
        return max(delays, default=0)


def _as_int(arr: np.ndarray, name: str) -> np.ndarray:
    """Integer view of `arr`; refuses non-integral values instead of truncating."""
    return whole_numbers(arr, name)


def stored_values(layer: DenseLayer) -> dict[str, np.ndarray | int | None]:
    """Each parameter of `layer` under its NetX name (the keys of `loihi2.RANGES`)."""
    n = layer.neuron
    return {"iDecay": n.i_decay, "vDecay": n.v_decay, "vThMant": n.vth_mant,
            "delay": layer.delay, "weight": layer.weight, "bias": layer.bias,
            "refDelay": n.ref_delay, "gradedSpike": int(n.graded_spike)}


def _exported(layer: DenseLayer, *, chip: bool = False) -> dict[str, np.ndarray | int]:
    """The values the NetX format bounds (`Range.at_export`; with `chip`, every range), in
    `loihi2.RANGES` order."""
    values = stored_values(layer)
    return {name: values[name] for name, r in loihi2.RANGES.items()
            if (chip or r.at_export) and values[name] is not None}


def range_violations(net: NetxNetwork, *, chip: bool = False) -> list[str]:
    """Values the NetX format (as netx reads it) cannot hold, one sentence each. With
    `chip`, also those netx would load but silently drop (refDelay, gradedSpike): what
    a backend must refuse, since it would not run the network the file describes."""
    problems = []
    for i, layer in enumerate(net.layers):
        for name, values in _exported(layer, chip=chip).items():
            arr = np.asarray(values).reshape(-1)
            r = loihi2.RANGES[name]
            for value in dict.fromkeys((int(arr.min()), int(arr.max())) if arr.size else ()):
                if not r.contains(value):
                    problems.append(f"layer {i} {name} {value} is outside {r.interval} ({r.why})")
    return problems


def clip_to_chip(net: NetxNetwork) -> tuple[NetxNetwork, list[str]]:
    """Clip every value `range_violations` refuses into range; say what changed.

    For an explicit user choice only (export never clips silently): the returned
    network records the same sentences under metadata["clipped"], so the file
    says it, and the caller prints them.
    """
    layers, report = [], []
    for i, layer in enumerate(net.layers):
        v = {name: _clip(values, loihi2.RANGES[name], f"layer {i} {name}", report)
             for name, values in _exported(layer).items()}
        neuron = replace(layer.neuron, i_decay=v["iDecay"], v_decay=v["vDecay"],
                         vth_mant=v["vThMant"])
        layers.append(DenseLayer(weight=v["weight"], neuron=neuron, delay=v.get("delay"),
                                 bias=v.get("bias")))
    metadata = dict(net.metadata)
    if report:
        metadata["clipped"] = list(metadata.get("clipped", [])) + report
    return NetxNetwork(tuple(layers), metadata), report


def _clip(value: np.ndarray | int, r: loihi2.Range, what: str, report: list[str]):
    lo, hi = r.low, r.high
    if np.ndim(value) == 0:
        clipped = min(max(int(value), lo), hi)
        if clipped != value:
            report.append(f"{what} {value} clipped to {clipped} (range {r.interval})")
        return clipped
    clipped = np.clip(value, lo, hi)
    changed = int(np.count_nonzero(clipped != value))
    if changed:
        report.append(f"{what}: {changed} of {value.size} values clipped to {r.interval} "
                      f"(were {int(value.min())}..{int(value.max())})")
    return clipped


def write_netx(net: NetxNetwork, path: str | os.PathLike) -> Path:
    """Write `net` atomically; refuse values netx would clamp or misread."""
    problems = range_violations(net)
    if problems:
        raise UserError("cannot export: " + "; ".join(problems))
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["spiketime_format"] = FORMAT
            f.attrs["spiketime_format_version"] = FORMAT_VERSION
            f.attrs["metadata"] = json.dumps(net.metadata, sort_keys=True)
            for i, layer in enumerate(net.layers):
                _write_layer(f.create_group(f"layer/{i}"), layer)
    return Path(path)


def _write_layer(g: h5py.Group, layer: DenseLayer) -> None:
    g.create_dataset("type", (1,), "S10", [b"dense"])
    g.create_dataset("shape", data=np.array([layer.out_features]))
    g.create_dataset("inFeatures", data=layer.in_features)
    g.create_dataset("outFeatures", data=layer.out_features)
    g.create_dataset("weight", data=layer.weight.astype(np.int32))
    if layer.delay is not None:
        g.create_dataset("delay", data=layer.delay.astype(np.int32))
    if layer.bias is not None:
        g.create_dataset("bias", data=layer.bias.astype(np.int32))
    n = layer.neuron
    g.create_dataset("neuron/type", (1,), "S10", [b"CUBA"])
    g.create_dataset("neuron/iDecay", data=n.i_decay)
    g.create_dataset("neuron/vDecay", data=n.v_decay)
    g.create_dataset("neuron/vThMant", data=n.vth_mant)
    g.create_dataset("neuron/refDelay", data=n.ref_delay)
    g.create_dataset("neuron/gradedSpike", data=n.graded_spike)


def read_netx(path: str | os.PathLike, *, validate: bool = True) -> NetxNetwork:
    """Read a NetX file written by us or by lava-dl (dense CUBA layers only): the one
    reader, so every command refuses the same malformed files with the same sentence.

    With validate=True (every backend's reader) any value a backend would not run
    faithfully is refused (`range_violations(chip=True)`); with validate=False,
    out-of-range values are returned as stored, for a checker that reports them."""
    path = guards.input_file(path, "NetX file")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise UserError(f"{path} is not a readable HDF5 file") from None
    with f:
        version = f.attrs.get("spiketime_format_version")
        if version is not None and int(version) != FORMAT_VERSION:
            raise UserError(
                f"{path} has spiketime NetX format version {int(version)}; "
                f"this spiketime reads version {FORMAT_VERSION}"
            )
        metadata = _metadata(f, path)
        if "layer" not in f or not isinstance(f["layer"], h5py.Group):
            raise UserError(f"{path} is not a NetX file: no 'layer' group")
        keys = sorted(f["layer"].keys(), key=lambda k: int(k) if k.isdigit() else -1)
        if keys != [str(i) for i in range(len(keys))]:  # netx reads layer/0, 1, ... in turn
            raise UserError(f"{path}: its layers are numbered {', '.join(keys) or 'nothing'}; "
                            f"netx reads layer/0 to layer/{len(keys) - 1} in order, so they "
                            f"must be numbered from 0 without gaps")
        try:
            layers = [_read_layer(f["layer"][k], k) for k in keys]
            layers = [lay for lay in layers if lay is not None]
            net = NetxNetwork(tuple(layers), metadata)
        except UserError as exc:  # a refusal of its own (memory), said as it is
            raise UserError(f"{path}: {exc}") from None
        except (KeyError, ValueError, TypeError, OSError) as exc:
            raise UserError(f"{path} is not a valid NetX file: {_message(exc)}") from None
    problems = range_violations(net, chip=True) if validate else []
    if problems:
        raise UserError(f"{path}: " + "; ".join(problems))
    return net


def _metadata(f: h5py.File, path: Path) -> dict:
    """The root `metadata` attribute: a JSON object, or {} when there is none."""
    if "metadata" not in f.attrs:
        return {}
    return json_attribute(f.attrs["metadata"], "metadata", dict, str(path))


def _message(exc: Exception) -> str:
    return str(exc).strip("'\"") or type(exc).__name__


_REQUIRED = ("weight", "neuron/type", "neuron/iDecay", "neuron/vDecay", "neuron/vThMant")


_READ_COPIES = 3  # an array read, its int64 copy and a check's temporary, 8 bytes a value


def _read_layer(g: h5py.Group, key: str) -> DenseLayer | None:
    if "type" not in g:
        raise ValueError(f"layer {key} has no 'type' dataset")
    kind = _read_str(g["type"])
    if kind == "input" and "neuron" not in g:
        return None  # a shape-only input layer carries no computation
    if kind != "dense":
        raise ValueError(f"layer {key} has type '{kind}'; only dense layers are supported")
    missing = [name for name in _REQUIRED if name not in g]
    if missing:
        raise ValueError(f"layer {key} has no '{missing[0]}' dataset")
    n = g["neuron"]
    if _read_str(n["type"]) not in ("CUBA", "LOIHI"):
        raise ValueError(f"layer {key} neuron type '{_read_str(n['type'])}' is not CUBA")
    neuron = CubaNeuron(
        i_decay=_scalar(n["iDecay"]),
        v_decay=_scalar(n["vDecay"]),
        vth_mant=_scalar(n["vThMant"]),
        ref_delay=_scalar(n["refDelay"]) if "refDelay" in n else loihi2.REF_DELAY,
        graded_spike=bool(_scalar(n["gradedSpike"])) if "gradedSpike" in n else False,
    )
    for name in ("weight", "delay", "bias"):  # before a declared size is read whole
        if name in g and isinstance(g[name], h5py.Dataset):
            guards.memory(_READ_COPIES * 8 * float(g[name].size),
                          f"layer {key} {name} of shape {g[name].shape}")
    arrays = {name: np.asarray(g[name][()]) if name in g else None
              for name in ("weight", "delay", "bias")}
    try:
        return DenseLayer(neuron=neuron, **arrays)
    except ValueError as exc:
        raise ValueError(f"layer {key} {exc}") from None


def _read_str(ds: h5py.Dataset) -> str:
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _scalar(ds: h5py.Dataset) -> int:
    value = np.asarray(ds[()]).reshape(-1)
    if not np.issubdtype(value.dtype, np.number) and value.dtype != bool:
        raise ValueError(f"{ds.name} must be a number, got {value.dtype}")
    if value.size != 1:
        raise ValueError(f"{ds.name} must be a scalar (per-neuron values are not supported)")
    if not np.isfinite(value[0]) or value[0] != np.round(value[0]):
        raise ValueError(f"{ds.name} must be a whole number, got {value[0]}")
    return int(value[0])
