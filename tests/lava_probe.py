"""Test helper: run a NetX file on Lava (fixed_pt) and record every layer's spikes, u and v.

Same streaming scheme as `LavaCpuBackend` (one compiled network, all samples back
to back, state reset between samples), plus Monitors that read u and v of
every layer after each step. Lava's start-up (~2 s) dominates small runs: batch
what you can into one call.
"""
from __future__ import annotations

import contextlib
import io as _io
import os
from collections.abc import Callable

import numpy as np

from spiketime.sim.backend import RunResult
from spiketime.sim.lava_cpu import default_run_cfg


def run_lava(netx_file: str | os.PathLike, X: np.ndarray,
             run_cfg: Callable[[], object] = default_run_cfg) -> RunResult:
    """Output, hidden spikes and u, v (int32 [N, n, T] per layer), as Lava computes them."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc import io
    from lava.proc.monitor.process import Monitor

    n, _, steps = X.shape
    with contextlib.redirect_stdout(_io.StringIO()):
        net = netx.hdf5.Network(net_config=str(netx_file))
    source = io.source.RingBuffer(data=np.concatenate(list(X), axis=1).astype(np.int32))
    source.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sink = io.sink.RingBuffer(shape=layer.out.shape, buffer=n * steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    monitors = []  # one per Var: a Monitor's model has a single RefPort
    for layer in net.layers:
        for var in (layer.neuron.u, layer.neuron.v):
            monitors.append(Monitor())
            monitors[-1].probe(var, n * steps)
    state = [var for layer in net.layers
             for var in (layer.neuron.u, layer.neuron.v, layer.synapse.a_buff)]
    cfg = run_cfg()
    try:
        for _ in range(n):
            net.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
            for var in state:
                var.set(np.zeros(var.shape, dtype=np.int32))
        spikes = [s.data.get() for s in sinks]
        probed = [m.var_read_0.get() for m in monitors]
    finally:
        net.stop()

    def per_sample(a: np.ndarray, dtype) -> np.ndarray:  # [n_i, N*T] -> [N, n_i, T]
        return a.reshape(a.shape[0], n, steps).transpose(1, 0, 2).astype(dtype)

    spikes = [per_sample(s, np.uint8) for s in spikes]
    states = [per_sample(p.T, np.int32) for p in probed]  # the monitor stores [N*T, n_i]
    return RunResult(output=spikes[-1], hidden=tuple(spikes[:-1]),
                     u=tuple(states[0::2]), v=tuple(states[1::2]))
