"""Verdicts that cannot mislead: each degenerate case built on purpose.

A zero-weight network (silent), a network that fires every step (saturated), a
one-class predictor, a tiny confirming subset: each must come out INCONCLUSIVE
(exit 3) with its reason, printed and in the report, and `--allow-degenerate`
turns the degenerate ones into warnings.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import call, random_spikes

from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset
from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork, write_netx
from spiketime.parity import verdict
from spiketime.parity.activity import layer_activity, measure
from spiketime.parity.conditions import ORIGINAL, REVERSED
from spiketime.parity.harness import Deployment, Rows, run_grid, summarize
from spiketime.parity.reports import FAILED, INCONCLUSIVE, PASSED, Decision, from_dict
from spiketime.sim.emulator import EmulatorBackend
from spiketime.train.model import ModelConfig, SpikingNet, save_checkpoint
from spiketime.train.trainer import TrainConfig, train

# --- the arithmetic ------------------------------------------------------------------


def test_chance_interval_is_a_binomial_interval_around_the_majority_rate():
    lo, hi = verdict.chance_interval(np.arange(200) % 2, 0.95)
    assert (lo, hi) == pytest.approx((0.43, 0.57), abs=0.006)
    assert verdict.at_chance(0.488, (lo, hi)) and not verdict.at_chance(0.667, (lo, hi))
    lo, hi = verdict.chance_interval(np.array([0] * 90 + [1] * 10), 0.95)
    assert lo < 0.9 < hi  # always answering the majority class is chance
    assert verdict.chance_interval(np.array([0, 1, 1]), 0.95) == (0.0, 1.0)  # 3 samples say nothing


def test_detectable_difference_and_samples_needed():
    assert verdict.detectable_difference(32, 0.95) == pytest.approx(0.0894, abs=1e-4)
    assert verdict.samples_needed(0.01, 0.95) == 299
    assert verdict.detectable_difference(299, 0.95) <= 0.01 < verdict.detectable_difference(298)
    assert verdict.samples_needed(0.0) is None


def test_decide_orders_failed_over_inconclusive_over_passed():
    assert verdict.decide().verdict == PASSED
    d = verdict.decide(["a/original/emulator"], ["too small"], ["silent"])
    assert d.verdict == FAILED and d.reasons == ("a/original/emulator",)
    assert d.warnings == ("too small", "silent")
    assert verdict.decide((), ["too small"], ()).verdict == INCONCLUSIVE
    assert verdict.decide((), (), ["silent"]).verdict == INCONCLUSIVE
    allowed = verdict.decide((), (), ["silent"], allow_degenerate=True)
    assert allowed.verdict == PASSED and allowed.warnings == ("silent",)
    # --allow-degenerate does not let too few samples through
    assert verdict.decide((), ["too small"], ["x"], allow_degenerate=True).verdict == INCONCLUSIVE
    assert [verdict.exit_code(Decision(v)) for v in (PASSED, FAILED, INCONCLUSIVE)] == [0, 1, 3]


def test_activity_names_silent_and_saturated_neurons():
    spikes = np.zeros((4, 3, 20), np.uint8)
    spikes[:, 1, 5:] = 1  # fires every step from step 5 on: saturated
    spikes[:, 2, ::4] = 1  # fires every 4th step: neither
    a = layer_activity("hidden 1", spikes)
    assert a.silent_fraction == pytest.approx(1 / 3)
    assert a.saturated_fraction == pytest.approx(1 / 3)
    assert a.mean == pytest.approx((15 + 5) / 3) and a.p50 == 5
    late = np.zeros((4, 1, 20), np.uint8)
    late[:, 0, -1] = 1  # one spike on the last step is not saturation
    assert layer_activity("output", late).saturated_fraction == 0
    act = measure(late, [spikes])
    assert [lay.layer for lay in act.layers] == ["hidden 1", "output"]
    assert act.no_output_fraction == 0 and act.predicted_classes == 1


# --- networks built degenerate on purpose ----------------------------------------------


def _net(**config) -> SpikingNet:
    torch.manual_seed(0)
    return SpikingNet(ModelConfig(inputs=6, hidden=(8,), outputs=2, seed=0, **config))


def _set(model: SpikingNet, block: int, weight) -> SpikingNet:
    w = model.blocks[block].synapse.weight
    with torch.no_grad():
        w.copy_(torch.as_tensor(weight, dtype=w.dtype).broadcast_to(w.shape[:2]).reshape(w.shape))
    return model


def _evidence(model: SpikingNet, tmp_path, X, y):
    path = write_netx(to_netx(model, {"model": "m"}), tmp_path / "m.net")
    grid = run_grid([Deployment("m", model, path)], X, y, [ORIGINAL, REVERSED],
                    [Rows(EmulatorBackend())])
    return summarize(grid[("m", "emulator")], "emulator").evidence


X = random_spikes(60, 6, 50, 0.1, seed=2)
Y = np.arange(60) % 2


def test_a_zero_weight_network_is_silent_and_degenerate(tmp_path):
    ev = _evidence(_set(_net(), 0, 0.0), tmp_path, X, Y)
    for side in (ev.trained, ev.deployed):
        assert side.no_output_fraction == 1 and side.predicted_classes == 1
        assert side.layers[0].silent_fraction == 1 and side.layers[0].mean == 0
    text = " | ".join(ev.degenerate)
    for side in ("trained", "deployed"):
        assert f"{side}: no output spikes on 100.0% of 60 samples" in text
        assert f"{side}: predicts one class for every sample" in text
        assert f"{side}: hidden 1 is silent" in text
        assert f"{side}: accuracy 50.0% is within the chance interval" in text


def test_a_network_that_fires_every_step_is_saturated(tmp_path):
    model = _set(_set(_net(current_decay=0.0), 0, 3.5), 1, 3.5)  # currents never decay
    ev = _evidence(model, tmp_path, X, Y)
    for side in (ev.trained, ev.deployed):
        assert side.layers[0].saturated_fraction == 1 and side.layers[0].silent_fraction == 0
        assert side.layers[0].p95 > 0.8 * X.shape[-1]
    assert ev.trained == ev.deployed  # the same spikes on both sides, so the same activity
    assert any("hidden 1 is saturated" in r for r in ev.degenerate)


def test_a_one_class_predictor_is_degenerate(tmp_path):
    model = _set(_net(), 0, 3.5)
    out = np.zeros((2, 8))
    out[0] = 3.5  # only output 0 is ever driven
    ev = _evidence(_set(model, 1, out), tmp_path, X, Y)
    assert ev.deployed.predicted_classes == 1 and ev.deployed.no_output_fraction < 0.5
    assert "deployed: predicts one class for every sample" in ev.degenerate
    assert not any("no output spikes" in r for r in ev.degenerate)


# --- through the commands --------------------------------------------------------------


def _dataset(path, n=80, channels=6, steps=50):
    Xd = random_spikes(n, channels, steps, 0.1, seed=3)
    y = np.arange(n) % 2
    meta = DatasetMeta("ccisi", "ratefree", 1.0, ["a", "b"], 0, {})
    save_dataset(Dataset(Split(Xd, y), Split(Xd, y), meta), path)
    return path


def test_compare_on_a_zero_weight_network_is_inconclusive(tmp_path, capsys):
    model = _set(_net(), 0, 0.0)
    ckpt = save_checkpoint(model, tmp_path / "m.pt")
    netx = write_netx(to_netx(model, {"model": "dead"}), tmp_path / "m.net")
    data = _dataset(tmp_path / "d.h5")
    args = ("compare", "--model", ckpt, "--netx", netx, "--data", data, "--backends", "emulator",
            "--jitter", "none", "--neuron-jitter", "none", "--deletion", "none")
    proc = call(capsys, *args, "--out", tmp_path / "c")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "parity INCONCLUSIVE" in proc.stdout
    assert "inconclusive: dead, trained: no output spikes on 100.0% of 80 samples" in proc.stdout
    report = json.loads((tmp_path / "c" / "report.json").read_text())
    assert report["report_version"] == 2
    assert report["parity"]["verdict"] == INCONCLUSIVE and report["parity"]["passed"] is False
    assert report["parity"]["failed"] == []  # nothing failed: every spike agrees
    ev = report["models"][0]["evidence"]
    assert ev["trained"]["layers"][0]["silent_fraction"] == 1
    (sens,) = report["sensitivity"]
    assert sens["verdict"] == "undefined at chance" and not sens["passed"]
    md = (tmp_path / "c" / "report.md").read_text()
    assert "**Parity: INCONCLUSIVE**" in md and "## Evidence" in md
    assert "| dead | 50.0% | 50.0% | undefined at chance |" in md
    assert "*undefined at chance* |" in md
    assert "activity.png" in report["plots"]
    assert (tmp_path / "c" / "activity.png").read_bytes()[:4] == b"\x89PNG"
    assert from_dict(report).parity.decision.verdict == INCONCLUSIVE  # reads back

    proc = call(capsys, *args, "--out", tmp_path / "c2", "--allow-degenerate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "parity PASSED" in proc.stdout and "warning (--allow-degenerate): dead" in proc.stdout
    md = (tmp_path / "c2" / "report.md").read_text()
    assert "Degenerate evidence allowed by --allow-degenerate" in md


def test_a_tiny_statistical_subset_is_inconclusive_and_says_how_many(tmp_path, capsys):
    model = _set(_net(), 0, 3.5)
    ckpt = save_checkpoint(model, tmp_path / "m.pt")
    netx = write_netx(to_netx(model, {"model": "m"}), tmp_path / "m.net")
    data = _dataset(tmp_path / "d.h5")
    proc = call(capsys, "compare", "--model", ckpt, "--netx", netx, "--data", data,
                "--backends", "emulator", "--statistical-only", "--limit", "32",
                "--jitter", "none", "--neuron-jitter", "none", "--deletion", "none",
                "--allow-degenerate", "--out", tmp_path / "c")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "parity INCONCLUSIVE" in proc.stdout
    assert ("inconclusive: 2 rows (m/original/emulator, m/reversed/emulator): 32 samples "
            "detect only 8.9 pp, above the 1 pp tolerance; 299 would") in proc.stdout
    report = json.loads((tmp_path / "c" / "report.json").read_text())
    original = report["conditions"][0]
    assert original["verdict"] == "inconclusive" and original["statistical"]
    assert original["samples_needed"] == 299
    assert original["detectable_difference"] == pytest.approx(0.0894, abs=1e-4)
    # the same samples judged by identical spikes (the default) need no power
    proc = call(capsys, "compare", "--model", ckpt, "--netx", netx, "--data", data,
                "--backends", "emulator", "--limit", "32", "--jitter", "none",
                "--neuron-jitter", "none", "--deletion", "none", "--allow-degenerate",
                "--out", tmp_path / "c2")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_deploy_of_a_saturated_network_is_inconclusive(tmp_path, capsys):
    hidden = DenseLayer(np.full((4, 6), 254), CubaNeuron(i_decay=0, v_decay=0, vth_mant=64))
    out = DenseLayer(np.full((2, 4), 254), CubaNeuron(i_decay=0, v_decay=0, vth_mant=64))
    netx = write_netx(NetxNetwork((hidden, out)), tmp_path / "sat.net")
    data = _dataset(tmp_path / "d.h5")
    args = ("deploy", netx, "--data", data, "--backend", "emulator")
    proc = call(capsys, *args)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "INCONCLUSIVE" in proc.stdout and "deployed: hidden 1 is saturated" in proc.stdout
    assert "deployed: predicts one class for every sample" in proc.stdout
    proc = call(capsys, *args, "--json", "--allow-degenerate")
    assert proc.returncode == 0
    summary = json.loads(proc.stdout)
    assert summary["verdict"] == PASSED and summary["warnings"]
    assert summary["activity"]["layers"][0]["saturated_fraction"] == 1


def test_training_says_when_it_is_going_nowhere(capsys):
    model = _net(threshold=50.0)  # no input can reach this threshold: silent
    history = train(model, X, Y, TrainConfig(epochs=2, batch_size=30, loss="spikemax"))
    assert [h.silent_fraction for h in history] == [1.0, 1.0]
    assert [h.predicted_classes for h in history] == [1, 1]
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "warning" in line]
    assert len(lines) == 2  # the first epoch that goes nowhere, and the last
    assert "epoch 1: no output spikes on 100% of samples" in lines[0]
    assert "threshold 50" in lines[0] and "weight scale" in lines[0] and "50-step" in lines[0]
