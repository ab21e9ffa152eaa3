"""The central test: slayer's forward pass and Lava (fixed_pt) give identical spikes."""
from __future__ import annotations

import numpy as np
import torch
from support import random_spikes

from spiketime.sim.lava_cpu import LavaCpuBackend


def test_training_moved_weights_decays_and_delays(trained_delay_net):
    model, before = trained_delay_net["model"], trained_delay_net["before"]
    after = model.state_dict()
    for key in ("blocks.0.synapse.weight", "blocks.0.neuron.current_decay",
                "blocks.0.neuron.voltage_decay", "blocks.0.delay.delay", "blocks.1.delay.delay"):
        assert not torch.equal(before[key], after[key]), key
    delays = [layer.delay for layer in trained_delay_net["net"].layers if layer.delay is not None]
    assert len(delays) == 2 and all(d.max() > 0 for d in delays)
    decays = {(lay.neuron.i_decay, lay.neuron.v_decay) for lay in trained_delay_net["net"].layers}
    assert decays != {(round(0.25 * 4096), round(0.03 * 4096))}


def test_lava_equals_slayer_hidden_and_output(trained_delay_net):
    model, path = trained_delay_net["model"], trained_delay_net["path"]
    X = random_spikes(6, 12, 60, 0.2, seed=7)
    with torch.no_grad():
        out, hidden = model(torch.as_tensor(X, dtype=torch.float32), hidden=True)
    lava = LavaCpuBackend().run(path, X, hidden=True)
    assert out.sum() > 0 and all(h.sum() > 0 for h in hidden)  # the check has something to check
    np.testing.assert_array_equal(lava.output, out.numpy().astype(np.uint8))
    assert len(lava.hidden) == len(hidden) == 2
    for got, want in zip(lava.hidden, hidden):
        np.testing.assert_array_equal(got, want.numpy().astype(np.uint8))


def test_lava_resets_state_between_samples(trained_delay_net):
    """A sample's output must not depend on the sample run before it."""
    path = trained_delay_net["path"]
    X = random_spikes(3, 12, 60, 0.25, seed=11)
    together = LavaCpuBackend().run(path, X).output
    alone = LavaCpuBackend().run(path, X[2:]).output
    np.testing.assert_array_equal(together[2], alone[0])
