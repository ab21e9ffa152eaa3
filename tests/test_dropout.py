"""--dropout: hidden spikes dropped in training only; evaluation, export and the chip see
the network as it is."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from spiketime.errors import UserError
from spiketime.train.config import ModelConfig
from spiketime.train.model import SpikingNet

CONFIG = ModelConfig(inputs=12, hidden=(16, 16), outputs=3, weight_scale=4.0, seed=1)


def _net(dropout: float) -> SpikingNet:
    return SpikingNet(replace(CONFIG, dropout=dropout))


def _x() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(8, 12, 40, generator=g) < 0.3).float()


def test_evaluation_ignores_dropout_and_training_applies_it():
    plain, dropped = _net(0.0), _net(0.5)  # the same seed: the same weights
    x = _x()
    with torch.no_grad():
        out_eval, hid_eval = dropped.eval()(x, hidden=True)
        assert torch.equal(out_eval, plain.eval()(x))
        plain.train(), dropped.train()
        assert torch.equal(plain(x), out_eval)  # no dropout: training's forward is the same
        torch.manual_seed(3)
        out_a, hid_a = dropped(x, hidden=True)
        torch.manual_seed(4)
        out_b = dropped(x)
    assert torch.equal(hid_a[0], hid_eval[0])  # the first layer's own spikes are untouched
    assert hid_a[0].sum() > 0 and not torch.equal(out_a, out_eval)
    assert not torch.equal(out_a, out_b)  # another draw drops other spikes


@pytest.mark.parametrize("rate", [-0.1, 1.0, float("nan")])
def test_a_rate_outside_0_to_1_is_refused(rate):
    with pytest.raises(UserError, match="dropout must lie in"):
        replace(CONFIG, dropout=rate)
