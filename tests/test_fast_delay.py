"""The faster DelayDense ProcessModel gives what Lava's own gives, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from support import run_lava

from spiketime import loihi2
from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork, write_netx
from spiketime.sim.emulator import EmulatorBackend
from spiketime.sim.lava_cpu import LavaCpuBackend, default_run_cfg, fast_run_cfg


def test_fast_model_matches_lava_on_a_netx_network(tmp_path) -> None:
    rng = np.random.default_rng(21)
    layers = (
        DenseLayer(weight=2 * rng.integers(-128, 128, (24, 16)), neuron=CubaNeuron(1024, 128, 60),
                   delay=rng.choice([0, 1, 7, 33, loihi2.MAX_DELAY], 24)),
        DenseLayer(weight=2 * rng.integers(-3, 4, (12, 24)), neuron=CubaNeuron(0, 4096, 2),
                   delay=rng.integers(0, loihi2.MAX_DELAY + 1, 12), bias=rng.integers(-20, 21, 12)),
        DenseLayer(weight=2 * rng.integers(-128, 128, (3, 12)), neuron=CubaNeuron(4096, 0, 100)),
    )
    path = write_netx(NetxNetwork(layers), tmp_path / "net.net")
    X = (rng.random((3, 16, 70)) < 0.25).astype(np.uint8)
    X[0] = 1  # saturating
    default = run_lava(path, X, default_run_cfg)
    fast = run_lava(path, X, fast_run_cfg)
    for a, b in zip(default.hidden + default.u + default.v + (default.output,),
                    fast.hidden + fast.u + fast.v + (fast.output,)):
        assert np.array_equal(a, b)
    assert all(h.any() for h in default.hidden) and default.output.any()
    # the backend option, and the emulator, agree with both
    backend = LavaCpuBackend(run_cfg=fast_run_cfg).run(path, X, hidden=True)
    emu = EmulatorBackend().run(path, X, hidden=True)
    assert np.array_equal(backend.output, default.output)
    assert np.array_equal(emu.output, default.output)
    for a, b, c in zip(backend.hidden, emu.hidden, default.hidden):
        assert np.array_equal(a, c) and np.array_equal(b, c)


def _run_delay_dense(run_cfg, weights, delays, data, weight_exp, num_weight_bits) -> np.ndarray:
    """A bare DelayDense driven by a spike source; returns its a_out per step."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc import io
    from lava.proc.dense.process import DelayDense

    source = io.source.RingBuffer(data=data)
    dense = DelayDense(weights=weights, delays=delays, max_delay=loihi2.MAX_DELAY,
                       weight_exp=weight_exp, num_weight_bits=num_weight_bits)
    sink = io.sink.RingBuffer(shape=(weights.shape[0],), buffer=data.shape[1])
    source.s_out.connect(dense.s_in)
    dense.a_out.connect(sink.a_in)
    dense.run(condition=RunSteps(num_steps=data.shape[1]), run_cfg=run_cfg())
    try:
        return sink.data.get()
    finally:
        dense.stop()


@pytest.mark.parametrize("seed,weight_exp,bits,sign", [(0, 0, 8, 0), (1, -3, 6, -1), (2, 2, 7, 1)])
def test_fast_model_per_synapse_delays(seed: int, weight_exp: int, bits: int, sign: int) -> None:
    """Delays that differ within a row (not what netx builds) take the general path."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(-255, 256, (9, 14))
    if sign:
        weights = sign * np.abs(weights)  # excitatory or inhibitory sign mode
    delays = rng.integers(0, loihi2.MAX_DELAY + 1, (9, 14))
    delays[:, :3] = loihi2.MAX_DELAY
    data = (rng.random((14, 100)) < 0.3).astype(np.int32)
    a = _run_delay_dense(default_run_cfg, weights, delays, data, weight_exp, bits)
    b = _run_delay_dense(fast_run_cfg, weights, delays, data, weight_exp, bits)
    assert np.array_equal(a, b)
    assert np.count_nonzero(a) > a.size // 2
