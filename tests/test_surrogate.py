"""The paper's surrogate changes gradients only: spikes stay slayer's (and so Lava's)."""
from __future__ import annotations

import numpy as np
import torch
from support import random_spikes

from spiketime.train.model import ModelConfig, SpikingNet
from spiketime.train.surrogate import FastSigmoidSpike


def test_backward_is_the_fast_sigmoid_derivative():
    v = torch.tensor([0.5, 0.99, 1.0, 1.02, 2.0], requires_grad=True)
    s = FastSigmoidSpike.apply(v, 1.0, 100.0)
    assert s.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    s.sum().backward()
    expected = [1 / 51 ** 2, 1 / 2 ** 2, 1.0, 1 / 3 ** 2, 1 / 101 ** 2]
    np.testing.assert_allclose(v.grad.numpy(), expected, rtol=1e-5)


def test_same_spikes_as_slayer_different_gradients():
    X = torch.as_tensor(random_spikes(4, 10, 50, 0.2, seed=2), dtype=torch.float32)
    nets = {s: SpikingNet(ModelConfig(10, (12,), 3, delays=True, weight_scale=4.0, seed=1,
                                      surrogate=s)) for s in ("slayer", "fast-sigmoid")}
    outs, grads = {}, {}
    for name, net in nets.items():
        out = net(X)
        out.sum().backward()
        outs[name] = out.detach()
        grads[name] = net.blocks[0].synapse.weight.grad.clone()
    assert outs["slayer"].sum() > 0
    assert torch.equal(outs["slayer"], outs["fast-sigmoid"])
    assert not torch.allclose(grads["slayer"], grads["fast-sigmoid"])
