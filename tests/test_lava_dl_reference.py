"""The emulator on the reference data that ships with lava-dl's own netx tests.

lava-dl 0.6.0's wheel installs `tests/lava/lib/dl/netx/` (networks and ground
truth in `gts/`). Covered here, where the networks use what the emulator runs
(dense layers, CUBA neurons, axonal delays, bias):

- test_blocks.py TestLIFBlocks.test_dense (`gts/dense`): reproduced exactly,
  spikes and current.
- test_hdf5.py test_axonal_delay_ntidigits (`gts/ntidigits`, three dense layers
  with delays up to 62; the trailing `average` layer is dropped, as that test does
  with num_layers=5): Lava today, and the emulator, give the reference output one
  step earlier (the test itself compares a single column); reproduced with that
  offset over all 3,000 steps, and the emulator equals Lava directly.
- `gts/pilotnet_lif` (used by test_hdf5_nx.py, which needs a chip): its dense tail
  fed with the recorded conv-4 spikes; the first dense layer's current u equals
  the recording exactly, and the spikes of all four layers equal Lava's. v and
  spikes differ from the recording from a neuron's first spike on, for Lava as
  for the emulator (at that step the recording has v = bias where Lava's LIF
  resets v to 0), so they are not compared with it.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from spiketime import loihi2
from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork, write_netx
from spiketime.sim.emulator import EmulatorBackend
from spiketime.sim.lava_cpu import LavaCpuBackend, fast_run_cfg


def _root() -> Path:
    import lava.lib.dl.netx as netx

    root = Path(netx.__file__).parents[4] / "tests" / "lava" / "lib" / "dl" / "netx"
    if not (root / "gts").is_dir():
        pytest.skip("lava-dl's netx test data is not installed")
    return root


def dense_layers(path: Path, keys: list[str]) -> NetxNetwork:
    """The named dense layers of a lava-dl NetX file, as our data model."""
    layers = []
    with h5py.File(path, "r") as f:
        for key in keys:
            g = f["layer"][key]
            n = g["neuron"]
            weight = g["weight"][()]
            layers.append(DenseLayer(
                weight=weight.reshape(int(np.prod(g["shape"][()])), -1),
                neuron=CubaNeuron(int(n["iDecay"][()]), int(n["vDecay"][()]),
                                  int(n["vThMant"][()])),
                delay=g["delay"][()] if "delay" in g else None,
                bias=g["bias"][()] if "bias" in g else None,
            ))
    return NetxNetwork(tuple(layers))


def test_lif_dense_block(tmp_path) -> None:
    """test_blocks.py TestLIFBlocks.test_dense: du=4095, dv=415, vth=6, 2,000 steps."""
    gts = _root() / "gts" / "dense"
    neuron = CubaNeuron(i_decay=4096, v_decay=415, vth_mant=6)  # iDecay = du + 1
    net = NetxNetwork((DenseLayer(weight=np.load(gts / "weight.npy"), neuron=neuron),))
    X = np.load(gts / "in.npy").astype(np.uint8)[None]
    res = EmulatorBackend().run(write_netx(net, tmp_path / "dense.net"), X, states=True)
    assert np.array_equal(res.output[0], np.load(gts / "out.npy"))
    current = np.load(gts / "current.npy").astype(np.int64) << loihi2.ACT_SHIFT
    assert np.array_equal(res.u[0][0], current)
    assert res.output.sum() > 1000


@pytest.fixture(scope="module")
def ntidigits(tmp_path_factory):
    gts = _root() / "gts" / "ntidigits"
    net = dense_layers(gts / "ntidigits.net", ["2", "3", "4"])
    assert [lay.delay is not None for lay in net.layers] == [True, True, False]
    assert max(int(lay.delay.max()) for lay in net.layers[:2]) == loihi2.MAX_DELAY
    path = write_netx(net, tmp_path_factory.mktemp("ntidigits") / "ntidigits.net")
    X = np.load(gts / "input.npy").astype(np.uint8)[None]
    return path, X, np.load(gts / "output.npy").astype(np.uint8)


def test_ntidigits_reference_output(ntidigits) -> None:
    path, X, reference = ntidigits
    out = EmulatorBackend().run(path, X).output[0]
    assert not reference[:, 0].any()
    assert np.array_equal(out[:, :-1], reference[:, 1:])  # one step earlier, all 3,000 steps
    assert reference.sum() > 20000


def test_ntidigits_emulator_equals_lava(ntidigits) -> None:
    """Lava itself on the same network (first 200 steps; the model is causal)."""
    path, X, _ = ntidigits
    X = X[..., :200]
    lava = LavaCpuBackend(run_cfg=fast_run_cfg).run(path, X, hidden=True)
    emu = EmulatorBackend().run(path, X, hidden=True)
    assert np.array_equal(emu.output, lava.output)
    for a, b in zip(emu.hidden, lava.hidden):
        assert np.array_equal(a, b)
    assert lava.output.any()


def test_pilotnet_dense_tail_current(tmp_path) -> None:
    gts = _root() / "gts" / "pilotnet_lif"
    net = dense_layers(gts / "network.net", ["7", "8", "9", "10"])
    assert net.layers[0].bias is not None and net.layers[0].bias.any()
    conv4 = np.load(gts / "conv-4.npy")  # [x, y, channel, T]; netx flattens in (c, y, x) order
    X = conv4.transpose(2, 1, 0, 3).reshape(-1, conv4.shape[-1]).astype(np.uint8)[None]
    path = write_netx(net, tmp_path / "tail.net")
    res = EmulatorBackend().run(path, X, hidden=True, states=True)
    assert np.array_equal(res.u[0][0], np.load(gts / "fc-0-u.npy"))
    lava = LavaCpuBackend().run(path, X, hidden=True)  # spikes: Lava's, not the recording's
    assert np.array_equal(res.output, lava.output)
    for a, b in zip(res.hidden, lava.hidden):
        assert np.array_equal(a, b)
    assert res.hidden[0].any()
