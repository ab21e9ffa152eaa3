"""NetX network -> NIR graph: the chip's integers as NIR's continuous-time parameters.

Per dense CUBA layer, with step dt (seconds) and the integers the chip holds:

    Linear   weight   = weight mantissa / WEIGHT_SCALE   (slayer's float weight)
    CubaLIF  tau_syn  = dt * DECAY_SCALE / iDecay,   w_in = tau_syn / dt
             tau_mem  = dt * DECAY_SCALE / vDecay,   r    = tau_mem / dt
             v_threshold = vThMant / THRESHOLD_SCALE, v_reset = 0
             v_leak   = (bias / THRESHOLD_SCALE) * tau_mem / dt
    Delay    delay    = delay steps * dt   (only where a layer has a non-zero delay; per-
                                          synapse delays only when constant per neuron)

so that the discretization `export.nir_graph` states gives back exactly the
chip's per-step update: current kept (1 - iDecay/4096) and each spike adding the
weight, voltage kept (1 - vDecay/4096) plus the current and the bias. A decay of 0
(a state that never leaks) has no finite time constant in NIR and is refused.
The time step goes in the graph's metadata (`dt`, seconds) with the NetX metadata
as JSON, so `spiketime import` can restore both.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from spiketime import loihi2
from spiketime.errors import UserError
from spiketime.export.netx import DenseLayer, NetxNetwork
from spiketime.fileio import atomic_path


def to_nir(net: NetxNetwork, dt_ms: float):
    """The NIRGraph of `net` at a time step of `dt_ms` milliseconds."""
    import nir

    if not (np.isfinite(dt_ms) and dt_ms > 0):
        raise UserError(f"--dt must be a positive number of milliseconds, got {dt_ms:g}")
    dt = dt_ms / 1000.0
    nodes = {"input": nir.Input(input_type=np.array([net.input_size]))}
    for i, layer in enumerate(net.layers):
        nodes[f"linear_{i}"] = nir.Linear(
            weight=layer.weight.astype(np.float64) / loihi2.WEIGHT_SCALE)
        nodes[f"cuba_{i}"] = _cuba(layer, i, dt)
        delay = _per_neuron_delay(layer, i)
        if delay is not None and delay.any():
            nodes[f"delay_{i}"] = nir.Delay(delay=delay.astype(np.float64) * dt)
    nodes["output"] = nir.Output(output_type=np.array([net.output_size]))
    names = list(nodes)
    metadata = {"dt": dt, "time_unit": "s", "source": "spiketime",
                "netx_metadata": json.dumps(net.metadata, sort_keys=True)}
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])), metadata=metadata)


def _per_neuron_delay(layer: DenseLayer, index: int) -> np.ndarray | None:
    """The layer's delay as one per neuron [out], the form a chain's Delay node holds: a
    per-synapse matrix whose rows are constant is one; any other is refused."""
    if not layer.synaptic_delays:
        return layer.delay
    rows = layer.delay[:, :1]
    if np.array_equal(layer.delay, np.broadcast_to(rows, layer.delay.shape)):
        return rows[:, 0]
    distinct = max(len(np.unique(row)) for row in layer.delay)
    raise UserError(f"layer {index} has per-synapse delays (up to {distinct} different delays "
                    f"into one neuron); NIR's Delay node delays whole channels, so a chain "
                    f"holds one delay per neuron and cannot hold these")


def _cuba(layer: DenseLayer, index: int, dt: float):
    import nir

    n, cell = layer.out_features, layer.neuron
    for what, decay in (("iDecay", cell.i_decay), ("vDecay", cell.v_decay)):
        if decay <= 0:
            raise UserError(f"layer {index} {what} is {decay}: a state that never decays has "
                            f"no finite time constant in NIR's CubaLIF")
    tau_syn = dt * loihi2.DECAY_SCALE / cell.i_decay
    tau_mem = dt * loihi2.DECAY_SCALE / cell.v_decay
    bias = layer.bias if layer.bias is not None else np.zeros(n, np.int64)
    full = np.ones(n)
    return nir.CubaLIF(
        tau_syn=full * tau_syn, tau_mem=full * tau_mem,
        r=full * (loihi2.DECAY_SCALE / cell.v_decay),
        w_in=full * (loihi2.DECAY_SCALE / cell.i_decay),
        v_threshold=full * (cell.vth_mant / loihi2.THRESHOLD_SCALE),
        v_leak=bias.astype(np.float64) / loihi2.THRESHOLD_SCALE
        * (loihi2.DECAY_SCALE / cell.v_decay),
        v_reset=np.zeros(n))


def write_nir(graph, path: str | os.PathLike) -> Path:
    """Write a NIRGraph to `path` atomically (nothing is left behind on failure)."""
    import nir

    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return Path(path)


def dt_of(metadata: dict, given_ms: float | None) -> float:
    """The time step in ms: the one given, else the one the NetX metadata records."""
    if given_ms is not None:
        return float(given_ms)
    if "dt_ms" in metadata:
        return float(metadata["dt_ms"])
    raise UserError("the network does not record its time step; give --dt MS")
