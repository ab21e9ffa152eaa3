"""Lava's CPU simulator as a backend: netx.hdf5.Network under Loihi2SimCfg(fixed_pt).

Samples stream through one compiled network with state reset between them
(`sim/lava_stream.py`, shared with the Loihi 2 backend).
"""
from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from spiketime.export.netx import read_netx
from spiketime.sim import lava_runtime
from spiketime.sim.backend import RunResult, check_input
from spiketime.sim.lava_stream import LavaParts, run_streamed


def default_run_cfg():
    lava_runtime.load()
    from lava.magma.core.run_configs import Loihi2SimCfg

    return Loihi2SimCfg(select_tag="fixed_pt")  # netx networks run only under fixed_pt


def fast_run_cfg():
    """default_run_cfg with a faster, bit-exact DelayDense model (sim/fast_delay.py)."""
    lava_runtime.load()
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense

    from spiketime.sim.fast_delay import FastDelayDenseModel

    return Loihi2SimCfg(select_tag="fixed_pt",
                        exception_proc_model_map={DelayDense: FastDelayDenseModel})


def cpu_parts(run_cfg: Callable[[], object] = default_run_cfg) -> LavaParts:
    lava_runtime.load()
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc import io

    return LavaParts(network=netx.hdf5.Network, source=io.source.RingBuffer,
                     sink=io.sink.RingBuffer, run_steps=RunSteps, run_cfg=run_cfg)


class LavaCpuBackend:
    name = "lava-cpu"

    def __init__(self, run_cfg: Callable[[], object] = default_run_cfg) -> None:
        self.run_cfg = run_cfg

    def run(self, netx_file: str | os.PathLike, X: np.ndarray, *,
            hidden: bool = False) -> RunResult:
        X = check_input(read_netx(netx_file), X, "input")
        if X.shape[0] == 0 or X.shape[2] == 0:
            raise ValueError("Lava needs at least one sample and one step")
        return run_streamed(cpu_parts(self.run_cfg), netx_file, X, hidden=hidden, desc=self.name)
