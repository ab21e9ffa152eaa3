"""The one parity loop (`run_grid`): a confirming backend that disagrees fails parity,
and results are found by condition label, not by position."""
from __future__ import annotations

import numpy as np
import pytest
from support import random_spikes

from spiketime.parity.conditions import ORIGINAL, REVERSED
from spiketime.parity.harness import (
    Deployment,
    Rows,
    confirm_subset,
    exact_parity,
    find,
    run_grid,
    summarize,
)
from spiketime.sim.backend import RunResult
from spiketime.sim.emulator import EmulatorBackend


class FlipOneSpike:
    """A backend that differs from the emulator in one spike of sample 1."""

    name = "flipped"

    def run(self, netx_file, X, *, hidden=False):
        out = EmulatorBackend().run(netx_file, X).output.copy()
        if len(out) > 1:
            out[1, 0, -1] ^= 1
        return RunResult(output=out)


def _grid(net, confirm, size, conditions=(ORIGINAL, REVERSED)):
    X = random_spikes(8, 12, 60, 0.2, seed=5)
    y = np.arange(8) % 3
    dep = Deployment("net", net["model"], net["path"])
    return run_grid([dep], X, y, conditions, [Rows(EmulatorBackend())],
                    confirm=Rows(confirm, confirm_subset(8, size, 0)))[("net", "emulator")]


def test_exact_deployment_with_agreeing_confirmation_passes(trained_delay_net):
    s = summarize(_grid(trained_delay_net, EmulatorBackend(), 8), "emulator")
    assert s.spike_exact_fraction == 1.0 and s.prediction_agreement == 1.0
    assert [c.identical for c in s.confirm] == [True, True]
    assert exact_parity(s)


def test_confirming_backend_disagreement_fails_parity(trained_delay_net):
    s = summarize(_grid(trained_delay_net, FlipOneSpike(), 8), "emulator")
    assert s.spike_exact_fraction == 1.0  # the primary backend still matches slayer
    assert [c.mismatched_samples for c in s.confirm] == [(1,), (1,)]
    assert not exact_parity(s)


def test_results_are_found_by_label_whatever_their_order(trained_delay_net):
    results = _grid(trained_delay_net, EmulatorBackend(), 2, conditions=(REVERSED, ORIGINAL))
    assert find(results, "reversed") is results[0] and find(results, "original") is results[1]
    forward = summarize(_grid(trained_delay_net, EmulatorBackend(), 2), "emulator")
    assert summarize(results, "emulator") == forward
    with pytest.raises(KeyError, match="jitter"):
        find(results, "jitter sigma=1")


def test_a_confirming_backend_needs_every_sample_on_the_primary(trained_delay_net):
    dep = Deployment("net", trained_delay_net["model"], trained_delay_net["path"])
    X = random_spikes(4, 12, 20, 0.2, seed=1)
    with pytest.raises(ValueError, match="every sample"):
        run_grid([dep], X, np.zeros(4, np.int64), [ORIGINAL],
                 [Rows(EmulatorBackend(), np.arange(2))],
                 confirm=Rows(EmulatorBackend(), np.arange(1)))
