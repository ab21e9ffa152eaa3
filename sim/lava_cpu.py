"""Lava's CPU simulator as a backend: netx.hdf5.Network under Loihi2SimCfg(fixed_pt).

All samples stream through one compiled network: the input is one long spike
train, the network runs T steps per sample, and between samples every stateful
variable (neuron u and v, each synapse's activation buffer, including the
delay line of a DelayDense) is set back to zero, so each sample starts from rest
exactly as in slayer and the emulator. Nothing is recompiled per sample.
"""
from __future__ import annotations

import contextlib
import io as _io
import os
from collections.abc import Callable

import numpy as np

from spiketime.export.netx import read_netx
from spiketime.sim import lava_runtime
from spiketime.sim.backend import RunResult, check_input
from spiketime.sim.progress import progress


def default_run_cfg():
    lava_runtime.load()
    from lava.magma.core.run_configs import Loihi2SimCfg

    return Loihi2SimCfg(select_tag="fixed_pt")  # netx networks run only under fixed_pt


def fast_run_cfg():
    """default_run_cfg with a faster, bit-exact DelayDense model (sim/fast_delay.py)."""
    from spiketime.sim.fast_delay import fast_run_cfg as cfg

    return cfg()


class LavaCpuBackend:
    name = "lava-cpu"

    def __init__(self, run_cfg: Callable[[], object] = default_run_cfg) -> None:
        self.run_cfg = run_cfg

    def run(self, netx_file: str | os.PathLike, X: np.ndarray, *, hidden: bool = False) -> RunResult:
        lava_runtime.load()
        from lava.lib.dl import netx
        from lava.magma.core.run_conditions import RunSteps
        from lava.proc import io

        X = check_input(read_netx(netx_file), X, "input")
        n, _, steps = X.shape
        if n == 0 or steps == 0:
            raise ValueError("Lava needs at least one sample and one step")
        with contextlib.redirect_stdout(_io.StringIO()):  # netx prints weight-fitting notes
            net = netx.hdf5.Network(net_config=str(netx_file))
        source = io.source.RingBuffer(data=np.concatenate(list(X), axis=1).astype(np.int32))
        source.s_out.connect(net.inp)
        watched = list(net.layers[:-1]) + [net.layers[-1]] if hidden else [net.layers[-1]]
        sinks = []
        for layer in watched:
            sink = io.sink.RingBuffer(shape=layer.out.shape, buffer=n * steps)
            layer.out.connect(sink.a_in)
            sinks.append(sink)
        state = [var for layer in net.layers
                 for var in (layer.neuron.u, layer.neuron.v, layer.synapse.a_buff)]
        run_cfg = self.run_cfg()
        try:
            for _ in progress(range(n), desc="lava-cpu", total=n):
                net.run(condition=RunSteps(num_steps=steps), run_cfg=run_cfg)
                for var in state:  # back to rest before the next sample
                    var.set(np.zeros(var.shape, dtype=np.int32))
            spikes = [s.data.get() for s in sinks]
        finally:
            net.stop()
        arrays = [a.reshape(a.shape[0], n, steps).transpose(1, 0, 2).astype(np.uint8) for a in spikes]
        return RunResult(output=arrays[-1], hidden=tuple(arrays[:-1]))
