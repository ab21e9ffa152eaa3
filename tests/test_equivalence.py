"""FAILED needs evidence of a difference (issue #24): the interval rule is an equivalence
test, checked at its boundaries; and `compare --nir --nir-reference chip` judges an exact
NetX -> NIR -> NetX round trip by spike identity, through the real CLI."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from support import call

from spiketime.data.dataset import save_dataset
from spiketime.data.synthetic import generate
from spiketime.parity import verdict
from spiketime.parity.experiment import BUILTIN_CCISI
from spiketime.parity.reports import FAILED, INCONCLUSIVE, PASSED
from spiketime.train.model import ModelConfig, SpikingNet, save_checkpoint

TOL = 0.01


@pytest.mark.parametrize("low, high, side", [
    (-0.01, 0.01, "inside"),          # bounds on the tolerance count as inside
    (0.0, 0.0, "inside"),
    (-0.005, 0.0101, "straddles"),    # just past +t
    (-0.0101, 0.0, "straddles"),      # just past -t
    (0.01, 0.02, "straddles"),        # low on +t: not wholly outside
    (-0.025, 0.025, "straddles"),     # wider than the tolerance on both sides
    (0.0101, 0.02, "outside"),
    (-0.03, -0.0101, "outside"),
])
def test_equivalence_at_the_boundaries(low, high, side):
    assert verdict.equivalence(low, high, TOL) == side


def _row(diff, low, high, samples=200, statistical=True, rule=True):
    return verdict.resolution(samples, TOL, 0.95, statistical=statistical, rule_passed=rule,
                              interval=(diff, low, high))


def test_a_straddling_interval_is_inconclusive_with_the_samples_that_would_decide_it():
    # the demo: +0.0 points [-2.5, +2.5] on 200 samples against 1 point
    res = _row(0.0, -0.025, 0.025)
    assert res.verdict == "inconclusive"
    assert res.samples_needed == 1250  # 200 * (2.5 / 1)^2
    assert "straddles" in res.note and "1250" in res.note
    assert verdict.decide(unresolved=[res.note]).verdict == INCONCLUSIVE


def test_only_an_interval_wholly_beyond_the_tolerance_fails():
    assert _row(0.02, 0.0101, 0.03).verdict == "fail"
    assert _row(-0.02, -0.03, -0.0101).verdict == "fail"
    assert _row(0.011, 0.005, 0.02).verdict == "inconclusive"  # a difference, not shown
    assert _row(0.0, -0.01, 0.01, samples=400).verdict == "pass"
    assert _row(0.0, 0.0, 0.0, rule=False).verdict == "fail"  # a spike differs (exact mode)


def test_a_difference_on_the_tolerance_cannot_be_decided_by_more_samples():
    assert verdict.samples_to_decide(200, 0.01, 0.0, 0.02, TOL) is None
    res = _row(0.01, 0.0, 0.02)
    assert res.verdict == "inconclusive" and res.samples_needed is None
    assert "no number of samples" in res.note


def test_samples_to_decide_shrinks_the_interval_past_the_gap():
    n = verdict.samples_to_decide(100, 0.02, 0.005, 0.035, TOL)  # half 0.015, gap 0.01
    assert n == 225
    assert 0.015 * (100 / n) ** 0.5 <= 0.01 + 1e-12


# --- compare --nir with the chip's arithmetic -----------------------------------------------

@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    d = tmp_path_factory.mktemp("roundtrip")
    save_dataset(generate(seed=0, n_per_class=30, **dict(BUILTIN_CCISI.generator, steps=40)),
                 d / "data.h5")
    torch.manual_seed(0)
    save_checkpoint(SpikingNet(ModelConfig(inputs=20, hidden=(8,), outputs=2)), d / "m.pt")
    return d


def _run(capsys, *args):
    proc = call(capsys, *args)
    assert "Traceback" not in proc.stderr
    return proc


def test_an_exact_round_trip_passes_by_spike_identity(capsys, round_trip, tmp_path):
    d = round_trip
    for args in (("export", d / "m.pt", "--out", tmp_path / "m.net"),
                 ("export", tmp_path / "m.net", "--format", "nir", "--dt", "1",
                  "--out", tmp_path / "m.nir"),
                 ("import", tmp_path / "m.nir", "--out", tmp_path / "back.net")):
        assert _run(capsys, *args).returncode == 0
    compare = ("compare", "--nir", tmp_path / "m.nir", "--netx", tmp_path / "back.net",
               "--data", d / "data.h5", "--allow-degenerate")  # an untrained network
    chip = _run(capsys, *compare, "--nir-reference", "chip", "--out", tmp_path / "chip")
    assert chip.returncode == 0 and f"parity {PASSED}" in chip.stdout, chip.stdout
    report = json.loads((tmp_path / "chip" / "report.json").read_text())
    assert report["conditions"] and all(
        c["spike_exact_fraction"] == 1.0 and c["verdict"] == "pass" for c in report["conditions"])
    assert "chip reference" in report["models"][0]["checkpoint"]
    # the float reference on 16 samples cannot show equivalence: never FAILED for that
    flt = _run(capsys, *compare, "--out", tmp_path / "float")
    assert flt.returncode == 3 and f"parity {INCONCLUSIVE}" in flt.stdout, flt.stdout

    # a deployment that is not the graph: its spikes differ, which is evidence
    with h5py.File(tmp_path / "back.net", "r+") as f:
        w = f["layer/1/weight"][()]
        del f["layer/1/weight"]
        f["layer/1/weight"] = np.zeros_like(w)
    broken = _run(capsys, *compare, "--nir-reference", "chip", "--out", tmp_path / "broken")
    assert broken.returncode == 1 and f"parity {FAILED}" in broken.stdout, broken.stdout
