"""The comparison's statistics and sweep conditions, with expected values written inline."""
from __future__ import annotations

import numpy as np
import pytest

from spiketime.parity.conditions import label
from spiketime.parity.stats import (
    Interval,
    bootstrap_ci,
    compare_correctness,
    compare_sensitivity,
    mcnemar,
    sign_test,
)
from spiketime.parity.sweep import DEFAULT_LEVELS, derive_seed, sweep_conditions


def test_bootstrap_of_identical_sides_is_a_point():
    assert bootstrap_ci(np.zeros(50)) == Interval(0.0, 0.0)


def test_bootstrap_is_seeded_and_matches_resampling_indices():
    values = np.r_[np.ones(12), -np.ones(4), np.zeros(184)]  # mean 0.04 over 200 samples
    a, b = bootstrap_ci(values, seed=7), bootstrap_ci(values, seed=7)
    assert a == b and a != bootstrap_ci(values, seed=8)
    # The textbook bootstrap: resample sample indices with replacement.
    rng = np.random.default_rng(0)
    means = values[rng.integers(0, 200, size=(20000, 200))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    c = bootstrap_ci(values, resamples=20000, seed=1)
    assert abs(c.low - lo) <= 0.006 and abs(c.high - hi) <= 0.006
    # Normal approximation: 0.04 +/- 1.96 * sd / sqrt(200), sd = 0.2821
    assert abs(c.low - (0.04 - 0.0391)) < 0.01 and abs(c.high - (0.04 + 0.0391)) < 0.01


def test_one_differing_sample_in_200_is_not_within_one_point():
    # mean 0.5 pp; the 97.5% quantile of a Poisson(1) count of that sample is 3 -> 1.5 pp
    ci = bootstrap_ci(np.r_[1.0, np.zeros(199)], seed=0)
    assert ci.low == 0.0 and ci.high == pytest.approx(0.015)
    assert not ci.within(0.01) and ci.within(0.015)


def test_interval_within_is_inclusive_and_two_sided():
    assert Interval(-0.01, 0.01).within(0.01)
    assert not Interval(-0.011, 0.0).within(0.01)
    assert not Interval(0.0, 0.0101).within(0.01)
    assert Interval(0.0, 0.0).within(0.0)


def test_mcnemar_exact_and_chi_square():
    t = np.r_[np.ones(5, bool), np.ones(10, bool)]
    d = np.r_[np.zeros(5, bool), np.ones(10, bool)]  # 5 lost, 0 gained
    r = mcnemar(t, d)
    assert (r.test, r.worse, r.better) == ("exact", 5, 0)
    assert r.p == pytest.approx(2 * 0.5 ** 5)  # 0.0625
    r = mcnemar(d, t)
    assert (r.worse, r.better, r.p) == (0, 5, pytest.approx(0.0625))
    # 30 lost, 10 gained: chi2 = (|30 - 10| - 1)^2 / 40 = 9.025, p = 0.002663
    t = np.r_[np.ones(30, bool), np.zeros(10, bool), np.ones(60, bool)]
    d = np.r_[np.zeros(30, bool), np.ones(10, bool), np.ones(60, bool)]
    r = mcnemar(t, d)
    assert r.test == "chi2" and r.p == pytest.approx(0.002663, abs=2e-6)
    assert mcnemar(t, t).test == "none" and mcnemar(t, t).p == 1.0
    with pytest.raises(ValueError):
        mcnemar(t, t[:-1])


def test_sign_test_counts_signs_only():
    r = sign_test(np.array([2, 1, 0, 0, -1, 1, 1]))
    assert (r.worse, r.better, r.test) == (1, 4, "exact")
    assert r.p == pytest.approx(0.375)  # P(X <= 1 or X >= 4), X ~ Bin(5, 1/2) = 12/32


def test_compare_correctness_fields():
    y = np.array([0, 1, 1, 0, 1, 0])
    trained = np.array([0, 1, 1, 1, 0, 0])  # 4/6 right
    deployed = np.array([0, 1, 0, 1, 1, 0])  # 4/6 right: loses sample 2, gains sample 4
    exact = np.array([1, 1, 0, 1, 0, 1], bool)
    c = compare_correctness(y, trained, deployed, exact, resamples=500, seed=0)
    assert (c.samples, c.trained, c.deployed, c.difference) == (6, 4 / 6, 4 / 6, 0.0)
    assert (c.test.worse, c.test.better) == (1, 1) and c.test.p == 1.0
    assert c.agreement == pytest.approx(4 / 6) and c.spike_exact_fraction == pytest.approx(4 / 6)
    assert c.ci.low < 0 < c.ci.high and not c.within(0.01)


def test_compare_sensitivity_is_deployed_minus_trained():
    y = np.array([0, 0, 0, 0])
    t_orig, t_rev = np.array([0, 0, 0, 0]), np.array([1, 1, 0, 0])  # sensitivity 0.5
    d_orig, d_rev = np.array([0, 0, 0, 1]), np.array([1, 1, 1, 1])  # 0.75 - 0 = 0.75
    s = compare_sensitivity(y, t_orig, t_rev, d_orig, d_rev, resamples=500, seed=0)
    assert (s.trained, s.deployed, s.difference) == (0.5, 0.75, 0.25)
    assert (s.test.worse, s.test.better) == (0, 1)  # sample 2 +1, sample 3 0
    same = compare_sensitivity(y, t_orig, t_rev, t_orig, t_rev)
    assert same.difference == 0 and same.ci == Interval(0.0, 0.0) and same.within(0.0)


def test_sweep_conditions_are_seeded_by_name_and_level_not_position():
    X = (np.random.default_rng(3).random((8, 6, 40)) < 0.2).astype(np.uint8)
    full = sweep_conditions(DEFAULT_LEVELS, seed=5)
    assert [(c.name, c.level) for c in full[:3]] == [("original", None), ("reversed", None),
                                                     ("jitter", 1.0)]
    assert len(full) == 2 + sum(len(v) for v in DEFAULT_LEVELS.values())
    only = sweep_conditions({"deletion": (0.2,)}, seed=5)
    same = [c for c in full if (c.name, c.level) == ("deletion", 0.2)][0]
    np.testing.assert_array_equal(only[2].transform(X), same.transform(X))
    np.testing.assert_array_equal(same.transform(X), same.transform(X))  # fixed, not fresh, seed
    other_seed = sweep_conditions({"deletion": (0.2,)}, 6)[2]
    assert not np.array_equal(only[2].transform(X), other_seed.transform(X))
    assert derive_seed(0, "a", 1.0) == derive_seed(0, "a", 1.0) != derive_seed(0, "a", 2.0)
    with pytest.raises(ValueError, match="unknown perturbation"):
        sweep_conditions({"shuffle": (1.0,)}, 0)


def test_sweep_families_are_the_perturbations():
    from spiketime.data.perturb import PERTURBATIONS
    from spiketime.parity.sweep import FAMILIES

    assert set(FAMILIES) == set(PERTURBATIONS)
    assert set(DEFAULT_LEVELS) == set(PERTURBATIONS) - {"timing"}  # asked for explicitly


def test_labels():
    assert label("original", None) == "original"
    assert label("jitter", 2.0) == "jitter sigma=2"
    assert label("deletion", 0.1) == "deletion p=0.1"
