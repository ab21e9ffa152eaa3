"""Shortcut audits: rate and position codes found where they exist, chance where they do not."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from spiketime.data.audit import (
    SHORTCUT_MARGIN,
    AuditedData,
    AuditResult,
    PositionAudit,
    RateAudit,
    count_features,
    open_shortcuts,
    position_audit,
    position_features,
    rate_audit,
    shortcut_audit,
)
from spiketime.data.dataset import Dataset, DatasetMeta, Split
from spiketime.data.synthetic import generate
from spiketime.errors import UserError

SMALL = {"isi": dict(steps=400, interval_range=(1, 100), rate_range=(1.0, 8.0)),
         "ccisi": dict(steps=400, interval_range=(1, 100), rate_range=(1.0, 8.0)),
         "coincidence": dict(steps=200)}


def _planted(rate_gap: float, n: int = 120, seed: int = 0) -> Dataset:
    """Class 1 fires more on channel 0 when rate_gap > 0; otherwise classes are identical."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2).astype(np.int64)
    p = np.full((n, 4, 1), 0.1)
    p[y == 1, 0] += rate_gap
    X = (rng.random((n, 4, 50)) < p).astype(np.uint8)
    meta = DatasetMeta(task="planted", variant="x", dt_ms=1.0, class_names=["a", "b"],
                       seed=seed, params={})
    return Dataset(train=Split(X[::2], y[::2]), test=Split(X[1::2], y[1::2]), meta=meta)


def test_audit_finds_a_planted_rate_code_and_not_a_missing_one():
    found = rate_audit(_planted(0.2))
    assert found.rate_accuracy > 0.9 and found.p_value < 1e-6
    none = rate_audit(_planted(0.0))
    assert abs(none.rate_accuracy - none.chance) < 0.12 and none.p_value > 0.01


def test_result_fields():
    r = rate_audit(_planted(0.2), folds=4, seed=3)
    assert r.folds == 4 and r.chance == 0.5 and r.data.n_samples == 120
    assert r.data.n_classes == 2 and r.data.channels == 4 and r.data.task == "planted"
    assert 0 <= r.rate_accuracy_std < 0.2


def test_counts_are_summed_over_time_for_both_splits():
    ds = _planted(0.2)
    feats, y = count_features(ds)
    assert feats.shape == (120, 4) and len(y) == 120
    np.testing.assert_array_equal(feats[:60], ds.train.X.sum(axis=2))


@pytest.mark.parametrize("task", ["isi", "ccisi", "coincidence"])
def test_rate_free_sits_at_chance_and_standard_does_not(task):
    free = rate_audit(generate(task, "ratefree", seed=0, n_per_class=150, **SMALL[task]))
    std = rate_audit(generate(task, "standard", seed=0, n_per_class=150, **SMALL[task]))
    assert abs(free.rate_accuracy - free.chance) < 0.08
    assert std.rate_accuracy > std.chance + 0.15


def test_folds_shrink_to_the_smallest_class_and_must_be_two_or_more():
    ds = _planted(0.2, n=6)
    assert rate_audit(ds, folds=10).folds == 3
    tiny = Dataset(train=Split(ds.train.X[:2], np.array([0, 1])),
                   test=Split(ds.test.X[:2], np.array([1, 0])), meta=ds.meta)
    assert rate_audit(tiny).folds == 2
    with pytest.raises(UserError, match="folds must be"):
        rate_audit(ds, folds=1)


# The built-in demo's CCISI: 8 events per channel in 100 steps, intervals 16-40.
DEMO_CCISI = dict(steps=100, n_pairs=10, interval_range=(16, 40), rate_range=(80.0, 80.0))


def test_position_audit_finds_the_in_window_cue_and_not_the_circular_one():
    cued = shortcut_audit(generate("ccisi", "ratefree", seed=0, n_per_class=150, **DEMO_CCISI))
    free = shortcut_audit(generate("ccisi", "ratefree", seed=0, n_per_class=150,
                                   circular=True, **DEMO_CCISI))
    # counts are identical in every sample of both: the rate audit is blind to both
    assert cued.rate.rate_accuracy == free.rate.rate_accuracy == 0.5
    assert cued.position.position_accuracy > 0.9 and cued.shortcuts == ("position",)
    assert abs(free.position.position_accuracy - free.chance) <= SHORTCUT_MARGIN
    assert free.shortcuts == () and free.verdict.startswith("no rate or position")
    assert cued.verdict.startswith("shortcut open: position")


def test_position_features_are_first_and_last_steps_with_silence_outside():
    X = np.zeros((2, 2, 10), np.uint8)
    X[0, 0, [2, 5, 7]] = 1
    X[1, 1, 9] = 1
    meta = DatasetMeta(task="t", variant="x", dt_ms=1.0, class_names=["a", "b"], seed=0,
                       params={})
    ds = Dataset(train=Split(X, np.array([0, 1])), test=Split(X[::-1], np.array([1, 0])),
                 meta=meta)
    feats, y = position_features(ds)
    # [first c0, first c1, last c0, last c1]; silent: first = T = 10, last = -1
    expected = [[2, 10, 7, -1], [10, 9, -1, 9]]
    assert feats.tolist() == expected + expected[::-1] and y.tolist() == [0, 1, 1, 0]


def test_position_audit_ignores_rate_and_rate_audit_ignores_position():
    ds = _planted(0.3)  # a pure rate code on channel 0, uniform positions
    assert rate_audit(ds).rate_accuracy > 0.8
    assert position_audit(ds).position_accuracy < rate_audit(ds).rate_accuracy


def test_a_shortcut_needs_both_the_margin_and_significance():
    data = AuditedData(n_samples=100, n_classes=2, channels=4, steps=50, task="t",
                       variant="x")

    def audits(rate=(0.5, 0.5), position=(0.5, 0.5)):
        return (RateAudit(rate[0], 0.0, 0.5, rate[1], 5, data),
                PositionAudit(position[0], 0.0, 0.5, position[1], 5, data))

    # 5 points above chance but with a p-value any small sample could give: not open
    assert open_shortcuts(*audits(position=(0.55, 0.2))) == []
    # significant but within the margin: not open either
    assert open_shortcuts(*audits(position=(0.52, 0.001))) == []
    assert open_shortcuts(*audits((0.6, 1e-6), (0.7, 1e-9))) == ["rate", "position"]
    on_speech = replace(data, task="shd")
    rate, position = audits((0.6, 1e-6), (0.7, 1e-9))
    assert open_shortcuts(replace(rate, data=on_speech), position) == ["rate"]


def test_on_speech_first_and_last_spike_times_are_a_timing_baseline_not_a_shortcut():
    # both classes fire once on every channel (counts identical), class 1 later
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 60)
    X = np.zeros((120, 3, 40), np.uint8)
    for i, label in enumerate(y):
        X[i, np.arange(3), rng.integers(0, 20, 3) + 20 * label] = 1
    results = {}
    for task in ("shd", "planted"):
        meta = DatasetMeta(task=task, variant="norm", dt_ms=1.0, class_names=["a", "b"],
                           params={})
        results[task] = shortcut_audit(Dataset(train=Split(X[::2], y[::2]),
                                               test=Split(X[1::2], y[1::2]), meta=meta))
    speech, synthetic = results["shd"], results["planted"]
    assert speech.position.position_accuracy == synthetic.position.position_accuracy > 0.9
    assert speech.rate.rate_accuracy == 0.5
    assert synthetic.shortcuts == ("position",) and speech.shortcuts == ()
    assert speech.verdict.startswith("no rate shortcut found")
    assert "linear timing baseline" in speech.verdict


# the keys, in order, `data audit --json` and the grid's cached audits have always held
AUDIT_KEYS = ["rate_accuracy", "rate_accuracy_std", "chance", "p_value", "folds", "n_samples",
              "n_classes", "channels", "steps", "task", "variant", "position_accuracy",
              "position_accuracy_std", "position_p_value", "reference", "shortcuts",
              "best_audit_accuracy", "verdict"]


def test_the_audit_record_keeps_the_json_it_always_had_and_reads_it_back():
    from spiketime.data.reference import ReferenceConfig

    ds = _planted(0.2, n=40)
    without = shortcut_audit(ds, folds=2)
    assert list(without.to_dict()) == [k for k in AUDIT_KEYS if k != "reference"]
    result = shortcut_audit(ds, folds=2, reference=ReferenceConfig(epochs=1, hidden=4))
    d = json.loads(json.dumps(result.to_dict()))
    assert list(d) == AUDIT_KEYS and d["shortcuts"] == ["rate"]
    assert d["reference"]["hidden"] == 4 and d["best_audit_accuracy"] == d["rate_accuracy"]
    assert AuditResult.from_dict(d) == result
    assert AuditResult.from_dict({**d, "file": "x.h5"}) == result  # `--json`'s extra key
