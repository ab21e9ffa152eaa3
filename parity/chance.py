"""The chance rule, its one home: what accuracy a no-information predictor reaches on these
samples, and when an accuracy (or a reversal sensitivity) counts as at chance.

`parity.verdict` decides with it, `parity.reports.Evidence` answers with it and
`parity.render` labels rows with it; none of them writes the rule again.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

UNDEFINED_AT_CHANCE = "undefined at chance"  # a sensitivity row's verdict when the rule holds
_EPS = 1e-12  # accuracies are ratios of counts: a bound reached exactly is at chance


def chance_interval(labels: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Accuracy interval of always answering the majority class on these samples."""
    labels = np.asarray(labels)
    n = len(labels)
    if n == 0:
        return (0.0, 1.0)
    majority = np.unique(labels, return_counts=True)[1].max() / n
    low, high = stats.binom.interval(confidence, n, majority)
    return (float(low) / n, float(high) / n)


def at_chance(accuracy: float, chance: tuple[float, float]) -> bool:
    return chance[0] - _EPS <= accuracy <= chance[1] + _EPS


def sensitivity_at_chance(chance: tuple[float, float], *accuracy_pairs: tuple[float, float]
                          ) -> bool:
    """Is a reversal sensitivity undefined: some side's original and reversed accuracies
    both within the chance interval?"""
    return any(at_chance(a, chance) and at_chance(r, chance) for a, r in accuracy_pairs)
