"""The pipeline's harness: a confirming backend that disagrees fails parity."""
from __future__ import annotations

import numpy as np

from conftest import random_spikes
from spiketime.deploy.harness import ORIGINAL, REVERSED, exact_parity, run_condition, summarize
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


def _summary(net, confirm, size):
    X = random_spikes(8, 12, 60, 0.2, seed=5)
    y = np.arange(8) % 3
    results = [run_condition(net["model"], net["path"], X, y, c, EmulatorBackend(), confirm, size)
               for c in (ORIGINAL, REVERSED)]
    return summarize(results, "emulator")


def test_exact_deployment_with_agreeing_confirmation_passes(trained_delay_net):
    s = _summary(trained_delay_net, EmulatorBackend(), 8)
    assert s["spike_exact_fraction"] == 1.0 and s["prediction_agreement"] == 1.0
    assert [c["identical"] for c in s["confirm"]] == [True, True]
    assert exact_parity(s)


def test_confirming_backend_disagreement_fails_parity(trained_delay_net):
    s = _summary(trained_delay_net, FlipOneSpike(), 8)
    assert s["spike_exact_fraction"] == 1.0  # the primary backend still matches slayer
    assert [c["mismatched_samples"] for c in s["confirm"]] == [[1], [1]]
    assert not exact_parity(s)
