"""One way to run many samples through Lava: stream them through one compiled network.

The input is one long spike train; the network runs each sample's T steps (plus
`io_latency` silent steps, for a path whose IO adds latency), then every neuron's
u and v and every synapse buffer (including a DelayDense delay line) is set back
to zero, so each sample starts from rest exactly as in slayer and the emulator.
Nothing is recompiled per sample. The Lava CPU backend and the Loihi 2 backend
differ only in their `LavaParts`.
"""
from __future__ import annotations

import contextlib
import io as _io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spiketime.progress import progress
from spiketime.sim.backend import RunResult


@dataclass(frozen=True)
class LavaParts:
    """The Lava pieces a run uses (tests swap the chip-only ones out)."""

    network: Callable[..., Any]  # lava.lib.dl.netx.hdf5.Network
    source: Callable[..., Any]  # lava.proc.io.source.RingBuffer
    sink: Callable[..., Any]  # lava.proc.io.sink.RingBuffer
    run_steps: Callable[..., Any]  # lava.magma.core.run_conditions.RunSteps
    run_cfg: Callable[[], Any]  # e.g. Loihi2SimCfg(select_tag="fixed_pt") or Loihi2HwCfg
    in_adapter: Callable[..., Any] | None = None  # embedded_io.spike.PyToNxAdapter on a chip
    out_adapter: Callable[..., Any] | None = None  # embedded_io.spike.NxToPyAdapter on a chip


def run_streamed(parts: LavaParts, netx_file: str | os.PathLike, X: np.ndarray, *,
                 hidden: bool, io_latency: int = 0, desc: str = "lava") -> RunResult:
    """Run every sample of X (uint8 [N, C, T], already checked) through one compiled network."""
    n, channels, steps = X.shape
    period = steps + io_latency
    stream = np.zeros((channels, n * period), dtype=np.int32)
    for k in range(n):
        stream[:, k * period:k * period + steps] = X[k]
    with contextlib.redirect_stdout(_io.StringIO()):  # netx prints weight-fitting notes
        net = parts.network(net_config=str(netx_file))
    source = parts.source(data=stream)
    _link(source.s_out, net.inp, parts.in_adapter, net.inp.shape)
    watched = list(net.layers) if hidden else [net.layers[-1]]
    sinks = []
    for layer in watched:
        sink = parts.sink(shape=layer.out.shape, buffer=n * period)
        _link(layer.out, sink.a_in, parts.out_adapter, layer.out.shape)
        sinks.append(sink)
    state = [var for layer in net.layers
             for var in (layer.neuron.u, layer.neuron.v, layer.synapse.a_buff)]
    run_cfg = parts.run_cfg()
    try:
        for _ in progress(range(n), desc=desc, total=n):
            net.run(condition=parts.run_steps(num_steps=period), run_cfg=run_cfg)
            for var in state:  # back to rest before the next sample
                var.set(np.zeros(var.shape, dtype=np.int32))
        recorded = [np.asarray(s.data.get()) for s in sinks]
    finally:
        net.stop()
    arrays = [sample_windows(a, n, steps, io_latency) for a in recorded]
    return RunResult(output=arrays[-1], hidden=tuple(arrays[:-1]))


def sample_windows(recorded: np.ndarray, n: int, steps: int, io_latency: int) -> np.ndarray:
    """[neurons, n * (steps + io_latency)] recording -> uint8 [n, neurons, steps]."""
    period = steps + io_latency
    index = np.arange(n)[:, None] * period + io_latency + np.arange(steps)[None, :]
    return (recorded[:, index] != 0).astype(np.uint8).transpose(1, 0, 2)


def _link(out_port: Any, in_port: Any, adapter: Callable[..., Any] | None, shape: tuple) -> None:
    """out_port -> [adapter ->] in_port."""
    if adapter is None:
        out_port.connect(in_port)
        return
    a = adapter(shape=shape)
    out_port.connect(a.inp)
    a.out.connect(in_port)
