"""Spike-pair placement: the redraw loop that re-checks only redrawn rows draws exactly
what redrawing by a mask over every event drew, and hopeless rates are refused by
arithmetic before any redraw."""
from __future__ import annotations

import numpy as np
import pytest

from spiketime.data import synthetic
from spiketime.data.synthetic import _event_keys, _place_events
from spiketime.errors import UserError


def _reference_starts(rng, counts, d, steps, pairs_in_channel, circular):
    """The spike starts as the earlier loop drew them: every event checked every round."""
    n, e = counts.shape
    row = np.repeat(np.arange(n * e), counts.ravel())
    dd = d[row // e]
    span = np.full_like(dd, steps) if circular else steps - dd
    start = rng.integers(0, span)
    while True:
        keys = _event_keys(row, start, dd, steps, pairs_in_channel)
        order = np.sort(keys)
        dup = order[1:][order[1:] == order[:-1]]
        if dup.size == 0:
            return row, dd, start
        redo = np.isin(row, np.unique(dup // steps))
        start[redo] = rng.integers(0, span[redo])


@pytest.mark.parametrize("pairs_in_channel, circular", [(True, False), (False, False),
                                                        (True, True), (False, True)])
def test_redraws_match_the_full_check(pairs_in_channel, circular) -> None:
    rng = np.random.default_rng(0)
    steps, n, e = 120, 40, 3
    counts = rng.integers(4, 13, size=(n, e))  # crowded: many rows clash and are redrawn
    d = rng.integers(1, 30, size=n)
    X = _place_events(np.random.default_rng(7), counts, d, steps,
                      pairs_in_channel=pairs_in_channel, circular=circular)
    row, dd, start = _reference_starts(np.random.default_rng(7), counts, d, steps,
                                       pairs_in_channel, circular)
    channels = e if pairs_in_channel else 2 * e
    ref = np.zeros((n, channels, steps), np.uint8)
    sample, ev = row // e, row % e
    first = ev if pairs_in_channel else 2 * ev
    second = ev if pairs_in_channel else 2 * ev + 1
    ref[sample, first, start] = 1
    ref[sample, second, (start + dd) % steps] = 1
    assert np.array_equal(X, ref)
    assert X.sum() == 2 * counts.sum()  # no spike lost to a clash


def test_counts_that_cannot_fit_are_refused_by_arithmetic() -> None:
    counts = np.array([[3, 60]])
    with pytest.raises(UserError, match="cannot fit in the window: a channel needs 120 spikes"):
        synthetic._check_placement(counts, np.array([10]), 100, pairs_in_channel=True,
                                   circular=False)
    with pytest.raises(UserError, match="too high to place without overlap"):
        synthetic._check_placement(np.array([[40]]), np.array([10]), 100,
                                   pairs_in_channel=False, circular=False)
    synthetic._check_placement(np.array([[3]]), np.array([10]), 100, pairs_in_channel=True,
                               circular=False)  # sparse: accepted
