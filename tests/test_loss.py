"""The two training losses: slayer's SpikeMax is the count loss at temperature T."""
import pytest
import torch

from spiketime.errors import UserError
from spiketime.train.trainer import TrainConfig, loss_function


def _spikes(seed: int, steps: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(6, 3, steps, generator=g) < 0.05).float()


def test_spikemax_is_count_loss_at_temperature_steps():
    out, labels = _spikes(0, 200), torch.tensor([0, 1, 2, 0, 1, 2])
    spikemax = loss_function(TrainConfig(loss="spikemax"))(out, labels)
    count = loss_function(TrainConfig(loss="count", temperature=200.0))(out, labels)
    assert torch.allclose(spikemax, count, rtol=1e-5)


def test_count_loss_is_cross_entropy_over_counts():
    out = torch.zeros(1, 2, 1000)
    out[0, 1, :3] = 1  # class 1 fires 3 spikes, class 0 none
    loss = loss_function(TrainConfig(loss="count", temperature=1.0))
    # -log(e^3 / (1 + e^3)) for label 1; the rate-based loss barely moves off log 2
    assert loss(out, torch.tensor([1])).item() == pytest.approx(0.04859, abs=1e-5)
    spikemax = loss_function(TrainConfig(loss="spikemax"))(out, torch.tensor([1])).item()
    assert spikemax == pytest.approx(0.6917, abs=1e-4)


@pytest.mark.parametrize("kw", [{"loss": "mse"}, {"temperature": 0.0}])
def test_bad_loss_settings_are_refused(kw):
    with pytest.raises(UserError):
        TrainConfig(**kw)
