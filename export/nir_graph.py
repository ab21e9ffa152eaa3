"""NIR graphs (the `nir` package, format 1.x) as spiketime reads them: a chain of layers.

A supported graph is a single chain from one `Input` to one `Output`:

    Input -> (Linear | Affine) -> (CubaLIF | LIF) [-> Delay] -> ... -> Output

Each (weights, neurons, optional delay) triple becomes one `NirLayer`, its
parameters broadcast to one value per neuron and kept in NIR's own continuous-time
units (seconds, NIR weights). Anything else (convolutions, pooling, subgraphs,
recurrent edges, branches) is refused with one sentence naming the node.

The discrete-time reading of NIR's equations lives here too (`NirLayer.discretize`),
once, for the float reference simulator (`sim.nir_reference`) and the quantizer
(`export.nir_in`) alike. With step dt, per neuron, the current first:

    I[t] = (1 - dt/tau_syn) I[t-1] + (dt/tau_syn) w_in (W x[t] + b)
    v[t] = (1 - dt/tau_mem) v[t-1] + (dt/tau_mem) (v_leak + r I[t])

(forward Euler of tau_syn dI/dt = -I + w_in x and tau_mem dv/dt = v_leak - v + r I,
with v using this step's current as snnTorch, Norse and Loihi do). A `LIF` has no
current state: I[t] = W x[t] + b.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from spiketime.errors import UserError

SUPPORTED_MAJOR = "1"  # NIR format versions read: 1.x
CHAIN = "Input -> (Linear | Affine) -> (CubaLIF | LIF) [-> Delay] -> ... -> Output"


@dataclass(frozen=True)
class Discrete:
    """One layer's per-step coefficients at a time step dt (see the module docstring)."""

    current_keep: np.ndarray  # 1 - dt/tau_syn (0 for LIF: no current state)
    current_gain: np.ndarray  # dt/tau_syn * w_in (1 for LIF)
    voltage_keep: np.ndarray  # 1 - dt/tau_mem
    voltage_gain: np.ndarray  # dt/tau_mem * r
    leak: np.ndarray  # dt/tau_mem * v_leak, added to v every step
    delay_steps: np.ndarray  # float, delay / dt
    threshold: np.ndarray  # v_threshold
    reset: np.ndarray  # v_reset


@dataclass(frozen=True)
class NirLayer:
    """Weights into a population of NIR neurons, and the axonal delay on their outputs."""

    names: tuple[str, ...]  # the graph's node names, e.g. ("linear_0", "cuba_0", "delay_0")
    weight: np.ndarray  # float64 [out, in]
    bias: np.ndarray  # float64 [out], Affine's bias (zeros for Linear)
    tau_mem: np.ndarray  # seconds, [out]
    r: np.ndarray
    v_threshold: np.ndarray
    v_leak: np.ndarray
    v_reset: np.ndarray
    tau_syn: np.ndarray | None = None  # seconds, [out]; None for LIF
    w_in: np.ndarray | None = None
    delay: np.ndarray = field(default_factory=lambda: np.zeros(0))  # seconds, [out]

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    def discretize(self, dt: float) -> Discrete:
        n = self.out_features
        if self.tau_syn is None:
            keep, gain = np.zeros(n), np.ones(n)
        else:
            keep, gain = 1 - dt / self.tau_syn, dt / self.tau_syn * self.w_in
        with np.errstate(invalid="ignore"):  # inf / inf stays nan: refused by the user
            return Discrete(current_keep=keep, current_gain=gain,
                            voltage_keep=1 - dt / self.tau_mem,
                            voltage_gain=dt / self.tau_mem * self.r,
                            leak=dt / self.tau_mem * self.v_leak,
                            delay_steps=self.delay / dt, threshold=self.v_threshold,
                            reset=self.v_reset)


@dataclass(frozen=True)
class NirNetwork:
    """A NIR chain as layers, with the graph's time step (seconds) when it records one."""

    layers: tuple[NirLayer, ...]
    dt: float | None
    metadata: dict

    @property
    def input_size(self) -> int:
        return self.layers[0].in_features

    @property
    def output_size(self) -> int:
        return self.layers[-1].out_features


def read_graph(path: str | os.PathLike):
    """The `nir.NIRGraph` in `path`, after checking it is a NIR 1.x HDF5 file."""
    import nir

    path = Path(path)
    if not path.is_file():
        raise UserError(f"NIR file not found: {path}")
    if not h5py.is_hdf5(path):
        raise UserError(f"{path} is not an HDF5 file (expected a NIR graph)")
    with h5py.File(path, "r") as f:
        if "node" not in f or "version" not in f:
            raise UserError(f"{path} is not a NIR graph: no 'node' group or 'version'")
        version = f["version"][()]
    version = version.decode() if isinstance(version, bytes) else str(version)
    if version.split(".")[0] != SUPPORTED_MAJOR:
        raise UserError(f"{path} has NIR version {version}; spiketime reads NIR "
                        f"{SUPPORTED_MAJOR}.x")
    try:
        return nir.read(path, type_check=False)  # shapes are checked by `chain`, by name
    except Exception as exc:  # nir raises ValueError, KeyError, AssertionError, ...
        raise UserError(f"{path} is not a readable NIR graph: {_first_line(exc)}") from None


def read_nir(path: str | os.PathLike) -> NirNetwork:
    """Read and check a NIR file: the chain of layers spiketime can run and deploy."""
    graph = read_graph(path)
    try:
        return chain(graph)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def chain(graph) -> NirNetwork:
    """A NIRGraph -> NirNetwork; one sentence naming the node for anything unsupported."""
    import nir

    order = _walk(graph.nodes, graph.edges)
    nodes = [(name, graph.nodes[name]) for name in order]
    known = (nir.Linear, nir.Affine, nir.CubaLIF, nir.LIF, nir.Delay)
    for name, node in nodes[1:-1]:
        if not isinstance(node, known):
            raise _unsupported(name, node, "Linear, Affine, CubaLIF, LIF or Delay")
    (first, inp), (last, _) = nodes[0], nodes[-1]
    size = _size(inp.input_type.get("input"), first)
    layers, i, body = [], 0, nodes[1:-1]
    while i < len(body):
        group = body[i:i + 3]
        name, syn = group[0]
        if not isinstance(syn, (nir.Linear, nir.Affine)):
            raise _unsupported(name, syn, "a weight node (Linear or Affine)")
        if len(group) < 2:
            raise UserError(f"node '{name}' ({type(syn).__name__}) is not followed by a "
                            f"neuron node; expected {CHAIN}")
        neuron_name, neuron = group[1]
        if not isinstance(neuron, (nir.CubaLIF, nir.LIF)):
            raise _unsupported(neuron_name, neuron, "a neuron node (CubaLIF or LIF)")
        delay = None
        if len(group) == 3 and isinstance(group[2][1], nir.Delay):
            delay = group[2]
        layer = _layer(name, syn, neuron_name, neuron, delay, size)
        layers.append(layer)
        size = layer.out_features
        i += 3 if delay else 2
    if not layers:
        raise UserError(f"graph has no layers; expected {CHAIN}")
    out_size = graph.nodes[last].output_type.get("output")
    if out_size is not None and np.size(out_size) and _size(out_size, last) != size:
        raise UserError(f"shapes do not chain: Output '{last}' expects {_size(out_size, last)} "
                        f"values but the last layer gives {size}")
    metadata = dict(graph.metadata or {})
    dt = metadata.get("dt")
    return NirNetwork(tuple(layers), float(dt) if dt is not None else None, metadata)


def _walk(nodes: dict, edges: list) -> list[str]:
    """Node names from the Input to the Output; refuses cycles, branches and strays."""
    import nir

    for name, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise UserError(f"node '{name}' is a subgraph (how NIR writes recurrent layers); "
                            f"spiketime imports feed-forward chains only: {CHAIN}")
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        a, b = str(a), str(b)
        if a not in nodes or b not in nodes:
            raise UserError(f"edge {a} -> {b} names a node that is not in the graph")
        succ[a].append(b)
        pred[b].append(a)
    _refuse_cycles(succ)
    inputs = [n for n, node in nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise UserError(f"graph has {len(inputs)} Input and {len(outputs)} Output nodes; "
                        f"spiketime imports one of each")
    for n in nodes:
        if len(succ[n]) > 1 or len(pred[n]) > 1:
            many = succ[n] if len(succ[n]) > 1 else pred[n]
            raise UserError(f"node '{n}' connects to {len(many)} nodes ({', '.join(many)}); "
                            f"spiketime imports single chains only: {CHAIN}")
    order = [inputs[0]]
    while succ[order[-1]]:
        order.append(succ[order[-1]][0])
    if order[-1] != outputs[0]:
        raise UserError(f"the chain from Input '{inputs[0]}' ends at '{order[-1]}', not at the "
                        f"Output '{outputs[0]}'")
    stray = sorted(set(nodes) - set(order))
    if stray:
        raise UserError(f"node '{stray[0]}' is not on the chain from Input to Output")
    return order


def _refuse_cycles(succ: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in succ:
        stack = [(start, iter(succ[start]))]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                raise UserError(f"graph has a cycle through '{child}' (a recurrent edge); "
                                f"spiketime imports feed-forward chains only")
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(succ[child])))


def _unsupported(name: str, node, expected: str) -> UserError:
    import nir

    kind = type(node).__name__
    if isinstance(node, (nir.Linear, nir.Affine, nir.CubaLIF, nir.LIF, nir.Delay)):
        return UserError(f"node '{name}' ({kind}) is out of place: expected {expected} there; "
                         f"supported: {CHAIN}")
    return UserError(f"node '{name}' is a {kind}, which spiketime does not import "
                     f"(supported: {CHAIN})")


def _size(shape, name: str) -> int:
    """The population size a node's shape gives; a leading [1, n] (Rockpool's) is [n]."""
    arr = np.asarray(shape).reshape(-1)
    if arr.size > 1 and np.count_nonzero(arr != 1) <= 1:
        arr = arr[arr != 1] if np.any(arr != 1) else arr[:1]
    if arr.size != 1:
        raise UserError(f"node '{name}' has shape {tuple(arr)}; spiketime imports 1-D "
                        f"populations only")
    return int(arr[0])


def _per_neuron(value, n: int, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 1:
        return np.full(n, float(arr.reshape(-1)[0]))
    if arr.reshape(-1).shape != (n,):
        raise UserError(f"shapes do not chain: {what} has shape {arr.shape}, expected ({n},)")
    return arr.reshape(-1)


def _layer(name: str, syn, neuron_name: str, neuron, delay: tuple | None,
           size: int) -> NirLayer:
    import nir

    w = np.asarray(syn.weight, dtype=np.float64)
    if w.ndim != 2:
        raise UserError(f"node '{name}' has a {w.ndim}-D weight {w.shape}; expected [out, in]")
    out, inp = w.shape
    bad = int(np.count_nonzero(~np.isfinite(w)))
    if bad:  # never rounded or clipped: NaN would become the int64 minimum, then -256
        raise UserError(f"node '{name}': the weight holds {bad} NaN or infinite "
                        f"value{'s' if bad > 1 else ''}; this is not a network")
    if inp != size:
        raise UserError(f"shapes do not chain: node '{name}' expects {inp} inputs but "
                        f"receives {size}")
    bias = (_per_neuron(syn.bias, out, f"'{name}' bias") if isinstance(syn, nir.Affine)
            else np.zeros(out))

    def p(attr: str) -> np.ndarray:
        return _per_neuron(getattr(neuron, attr), out, f"'{neuron_name}' {attr}")

    names = (name, neuron_name) + ((delay[0],) if delay else ())
    common = dict(names=names, weight=w, bias=bias, r=p("r"), v_threshold=p("v_threshold"),
                  v_leak=p("v_leak"), v_reset=p("v_reset"),
                  delay=(_per_neuron(delay[1].delay, out, f"'{delay[0]}' delay") if delay
                         else np.zeros(out)))
    if isinstance(neuron, nir.CubaLIF):
        return NirLayer(tau_mem=p("tau_mem"), tau_syn=p("tau_syn"), w_in=p("w_in"), **common)
    return NirLayer(tau_mem=p("tau"), **common)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
