"""Conditions: named transforms of a test set that both sides of a comparison see.

Light on purpose (numpy and `data.perturb`, no torch), so the CLI can list the
sweep's defaults without importing the model. Results are found by a condition's
`label` (name and level), never by their position in a list.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from spiketime.data.perturb import PERTURBATIONS, reverse

LEVEL_NAMES = MappingProxyType({p.name: p.level for p in PERTURBATIONS.values()})


def label(name: str, level: float | None) -> str:
    """Human-readable condition name, e.g. 'jitter sigma=2'."""
    if level is None:
        return name
    return f"{name} {LEVEL_NAMES.get(name, 'level')}={level:g}"


@dataclass(frozen=True)
class Condition:
    name: str  # e.g. "original", "reversed", "jitter"
    transform: Callable[[np.ndarray], np.ndarray]
    level: float | None = None  # perturbation strength, where it has one

    @property
    def label(self) -> str:
        return label(self.name, self.level)


def _unchanged(X: np.ndarray) -> np.ndarray:
    return X


ORIGINAL = Condition("original", _unchanged)
REVERSED = Condition("reversed", reverse)
