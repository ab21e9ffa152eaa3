"""--channel-shift: each training sample's channels moved by a seeded random whole number,
zero-filled; evaluation and export never see it."""
from __future__ import annotations

import pytest
import torch

from spiketime.errors import UserError
from spiketime.train.config import TrainConfig
from spiketime.train.trainer import shift_channels


def _x() -> torch.Tensor:
    # sample i, channel c, step t holds 100 i + 10 c + t + 1: every entry tells where it was
    i, c, t = torch.meshgrid(torch.arange(4), torch.arange(6), torch.arange(3), indexing="ij")
    return (100 * i + 10 * c + t + 1).float()


def test_each_sample_moves_by_its_own_draw_within_the_bound_zero_filled():
    x = _x()
    torch.manual_seed(0)
    shifts = torch.randint(-2, 3, (4, 1))
    torch.manual_seed(0)
    y = shift_channels(x, 2)
    for i, s in enumerate(shifts[:, 0].tolist()):
        for c in range(6):
            expected = x[i, c - s] if 0 <= c - s < 6 else torch.zeros(3)
            assert torch.equal(y[i, c], expected), (i, c, s)
    assert set(shifts[:, 0].tolist()) - {0}, "the draw moved nothing: the test shows nothing"


def test_a_bound_of_zero_returns_the_input_and_draws_nothing():
    x = _x()
    torch.manual_seed(5)
    assert shift_channels(x, 0) is x
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(1))


def test_a_bound_wider_than_the_input_empties_some_samples_and_never_fails():
    torch.manual_seed(1)
    y = shift_channels(_x(), 50)
    assert y.shape == (4, 6, 3)
    assert (y.flatten(1).sum(1) == 0).any()


def test_a_negative_bound_is_refused():
    with pytest.raises(UserError, match="channel_shift must be 0 or more"):
        TrainConfig(channel_shift=-1)
