"""Paired statistics for trained-vs-deployed comparisons on the same samples.

Both sides classify the very same samples, so every statistic here is paired:

- `bootstrap_ci`: percentile confidence interval of a per-sample quantity's mean,
  resampling samples with replacement (seeded). Resampling n values from a
  discrete set is the same as drawing a multinomial over its distinct values, so
  the resamples are drawn that way: exact, and cheap for any n.
- `mcnemar`: McNemar's test on paired correctness; an exact two-sided binomial
  test when the discordant pairs are few, the continuity-corrected chi-square
  otherwise. `sign_test` is the same idea for a per-sample signed difference.
- `compare_correctness`: the per-condition verdict fields; `within` is the rule.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

EXACT_BELOW = 25  # discordant pairs below which McNemar uses the exact binomial test


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def within(self, tolerance: float) -> bool:
        """Does [low, high] lie inside [-tolerance, +tolerance]? (tolerance as a fraction)"""
        eps = 1e-12  # a CI bound equal to the tolerance counts as inside
        return -tolerance - eps <= self.low and self.high <= tolerance + eps


def bootstrap_ci(values: np.ndarray, resamples: int = 2000, level: float = 0.95,
                 seed: int = 0) -> Interval:
    """Percentile bootstrap CI of mean(values), resampling the samples with replacement."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if not 0 < level < 1 or resamples < 1:
        raise ValueError(f"need 0 < level < 1 and resamples >= 1, got {level}, {resamples}")
    distinct, counts = np.unique(values, return_counts=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(values.size, counts / values.size, size=resamples)
    means = draws @ distinct / values.size
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Interval(float(low), float(high))


@dataclass(frozen=True)
class PairedTest:
    test: str  # "exact" (binomial), "chi2" (continuity-corrected) or "none" (no discordant pairs)
    p: float
    worse: int  # pairs where the deployed side lost (trained right, deployed wrong; or delta < 0)
    better: int  # pairs where it gained


def _two_sided(worse: int, better: int) -> PairedTest:
    n = worse + better
    if n == 0:
        return PairedTest("none", 1.0, 0, 0)
    if n < EXACT_BELOW:
        return PairedTest("exact", float(stats.binomtest(worse, n, 0.5).pvalue), worse, better)
    chi = (abs(worse - better) - 1) ** 2 / n
    return PairedTest("chi2", float(stats.chi2.sf(chi, df=1)), worse, better)


def mcnemar(trained_correct: np.ndarray, deployed_correct: np.ndarray) -> PairedTest:
    """McNemar's test: do the two sides err on different samples more than chance allows?"""
    t, d = np.asarray(trained_correct, bool), np.asarray(deployed_correct, bool)
    if t.shape != d.shape:
        raise ValueError(f"paired arrays differ in shape: {t.shape} vs {d.shape}")
    return _two_sided(int((t & ~d).sum()), int((~t & d).sum()))


def sign_test(delta: np.ndarray) -> PairedTest:
    """Two-sided sign test of a per-sample difference (zeros dropped)."""
    delta = np.asarray(delta)
    return _two_sided(int((delta < 0).sum()), int((delta > 0).sum()))


@dataclass(frozen=True)
class Comparison:
    """Paired accuracy comparison on n samples: deployed minus trained."""

    samples: int
    trained: float
    deployed: float
    difference: float
    ci: Interval
    test: PairedTest
    agreement: float
    spike_exact_fraction: float

    def within(self, tolerance: float) -> bool:
        return self.ci.within(tolerance)


def compare_correctness(labels: np.ndarray, trained_pred: np.ndarray, deployed_pred: np.ndarray,
                        spike_exact: np.ndarray, resamples: int = 2000, level: float = 0.95,
                        seed: int = 0) -> Comparison:
    t_ok = np.asarray(trained_pred) == labels
    d_ok = np.asarray(deployed_pred) == labels
    delta = d_ok.astype(np.int8) - t_ok.astype(np.int8)
    return Comparison(
        samples=int(len(labels)), trained=float(t_ok.mean()), deployed=float(d_ok.mean()),
        difference=float(delta.mean()), ci=bootstrap_ci(delta, resamples, level, seed),
        test=mcnemar(t_ok, d_ok),
        agreement=float((np.asarray(trained_pred) == deployed_pred).mean()),
        spike_exact_fraction=float(np.asarray(spike_exact, bool).mean()))


@dataclass(frozen=True)
class SensitivityComparison:
    """Reversal sensitivity acc(original) - acc(reversed) per side, and their difference."""

    samples: int
    trained: float
    deployed: float
    difference: float
    ci: Interval
    test: PairedTest

    def within(self, tolerance: float) -> bool:
        return self.ci.within(tolerance)


def compare_sensitivity(labels: np.ndarray, trained_orig: np.ndarray, trained_rev: np.ndarray,
                        deployed_orig: np.ndarray, deployed_rev: np.ndarray,
                        resamples: int = 2000, level: float = 0.95,
                        seed: int = 0) -> SensitivityComparison:
    """Predictions of both sides on the same samples, original and reversed."""
    def ok(pred: np.ndarray) -> np.ndarray:
        return (np.asarray(pred) == labels).astype(np.int8)

    s_t = ok(trained_orig) - ok(trained_rev)  # per-sample sensitivity, in {-1, 0, 1}
    s_d = ok(deployed_orig) - ok(deployed_rev)
    delta = s_d - s_t
    return SensitivityComparison(
        samples=int(len(labels)), trained=float(s_t.mean()), deployed=float(s_d.mean()),
        difference=float(delta.mean()), ci=bootstrap_ci(delta, resamples, level, seed),
        test=sign_test(delta))
