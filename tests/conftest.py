"""Shared fixtures: small trained networks with delays, and their NetX files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spiketime.sim import lava_runtime
from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import write_netx
from spiketime.train.model import ModelConfig, SpikingNet
from spiketime.train.trainer import TrainConfig, train


lava_runtime.load()  # tests import Lava directly, after scikit-learn may have fixed the start method


def random_spikes(n: int, channels: int, steps: int, p: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, channels, steps)) < p).astype(np.uint8)


@pytest.fixture(scope="session")
def trained_delay_net(tmp_path_factory):
    """A 12-16-10-3 net with delays, trained until weights, decays and delays all moved."""
    torch.set_num_threads(1)
    cfg = ModelConfig(inputs=12, hidden=(16, 10), outputs=3, delays=True, delay_init_max=20,
                      weight_scale=4.0, seed=3)
    model = SpikingNet(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X = random_spikes(48, 12, 60, 0.15, seed=1)
    y = np.arange(48) % 3
    train(model, X, y, TrainConfig(epochs=3, batch_size=16, lr=0.01, delay_lr=2.0, decay_lr=20.0))
    path = tmp_path_factory.mktemp("net") / "trained.net"
    net = to_netx(model, {"task": "test"})
    write_netx(net, path)
    return {"model": model, "before": before, "path": path, "net": net}
