"""NetX export: every number round-trips through a real file, and netx loads it."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from spiketime import loihi2
from spiketime.errors import UserError
from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork, read_netx, write_netx


def test_exported_numbers_are_the_models_quantized_numbers(trained_delay_net):
    model, net = trained_delay_net["model"], trained_delay_net["net"]
    for block, layer in zip(model.blocks, net.layers):
        w = block.synapse.weight.detach().reshape(layer.weight.shape)
        expected = torch.clamp(torch.round(w * loihi2.WEIGHT_SCALE / loihi2.WEIGHT_STEP)
                               * loihi2.WEIGHT_STEP, loihi2.WEIGHT_MIN, loihi2.WEIGHT_MAX)
        np.testing.assert_array_equal(layer.weight, expected.numpy().astype(np.int64))
        assert np.all(layer.weight % 2 == 0)
        assert layer.neuron.i_decay == round(float(block.neuron.current_decay.detach()))
        assert layer.neuron.v_decay == round(float(block.neuron.voltage_decay.detach()))
        assert layer.neuron.vth_mant == int(model.config.threshold * loihi2.THRESHOLD_SCALE)
        if block.delay is not None:
            np.testing.assert_array_equal(
                layer.delay, np.floor(block.delay.delay.detach().numpy()).astype(np.int64))
        else:
            assert layer.delay is None


def test_file_round_trip_is_exact(trained_delay_net, tmp_path):
    net, path = trained_delay_net["net"], trained_delay_net["path"]
    back = read_netx(path)
    assert back.metadata == net.metadata
    assert len(back.layers) == len(net.layers)
    for a, b in zip(net.layers, back.layers):
        np.testing.assert_array_equal(a.weight, b.weight)
        assert a.neuron == b.neuron
        assert (a.delay is None) == (b.delay is None)
        if a.delay is not None:
            np.testing.assert_array_equal(a.delay, b.delay)
    # and writing what we read gives the same file content
    write_netx(back, tmp_path / "again.net")
    with h5py.File(path) as f, h5py.File(tmp_path / "again.net") as g:
        for i in range(len(net.layers)):
            for key in ("weight", "neuron/iDecay", "neuron/vDecay", "neuron/vThMant"):
                np.testing.assert_array_equal(f[f"layer/{i}/{key}"][()], g[f"layer/{i}/{key}"][()])


def test_netx_loads_the_file_with_our_numbers(trained_delay_net):
    from lava.lib.dl import netx

    net, path = trained_delay_net["net"], trained_delay_net["path"]
    lava_net = netx.hdf5.Network(net_config=str(path))
    assert len(lava_net.layers) == len(net.layers)
    for ours, theirs in zip(net.layers, lava_net.layers):
        assert theirs.neuron.vth.init == ours.neuron.vth_mant
        assert int(np.asarray(theirs.neuron.dv.init)) == ours.neuron.v_decay
        # netx stores du = iDecay - 1 (Lava adds the 1 back as ds_offset)
        assert int(np.asarray(theirs.neuron.du.init)) == ours.neuron.i_decay - 1
        if ours.delay is not None:
            delays = np.asarray(theirs.synapse.delays.init)
            want = np.repeat(ours.delay[:, None], ours.in_features, 1)
            np.testing.assert_array_equal(delays, want)


def _net(delay=None, **neuron):
    n = dict(i_decay=100, v_decay=200, vth_mant=64) | neuron
    return NetxNetwork((DenseLayer(np.full((3, 2), 4), CubaNeuron(**n), delay=delay),))


@pytest.mark.parametrize("bad, message", [
    (dict(delay=np.array([0, 5, loihi2.MAX_DELAY + 1])), "delay 63 is outside [0, 62]"),
    (dict(delay=np.array([-1, 0, 0])), "delay -1 is outside [0, 62]"),
    (dict(i_decay=loihi2.MAX_DECAY + 1), "iDecay 4097 is outside [0, 4096]"),
])
def test_out_of_range_values_are_refused_not_clipped(tmp_path, bad, message):
    target = tmp_path / "bad.net"
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        write_netx(_net(**bad), target)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_fractional_weights_are_refused():
    with pytest.raises(ValueError, match="whole numbers"):
        DenseLayer(np.full((2, 2), 0.5), CubaNeuron(1, 1, 1))


def test_unknown_format_version_is_refused(tmp_path):
    path = write_netx(_net(), tmp_path / "v.net")
    with h5py.File(path, "a") as f:
        f.attrs["spiketime_format_version"] = 99
    with pytest.raises(UserError, match="format version 99"):
        read_netx(path)
