"""The perturbation sweep: which conditions a comparison runs, each with a fixed seed.

A condition is perturbed once (its seed derives from the sweep seed and the
condition's name and level, not from its position), and that one array is fed to
every model and every backend, trained and deployed alike.
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from spiketime.data.perturb import PERTURBATIONS
from spiketime.parity.conditions import ORIGINAL, REVERSED, Condition

# compare's default sweep and every family a sweep knows, from the one table
# (data.perturb.PERTURBATIONS); timing randomization is swept only when asked.
DEFAULT_LEVELS: Mapping[str, tuple[float, ...]] = MappingProxyType({
    p.name: p.default_levels for p in PERTURBATIONS.values() if p.default_levels})
FAMILIES = tuple(PERTURBATIONS)


def derive_seed(seed: int, *parts: object) -> int:
    """A seed for one named piece of work: stable across runs and independent of order."""
    key = zlib.crc32("|".join(map(str, parts)).encode())
    return int(np.random.SeedSequence([seed, key]).generate_state(1)[0])


def _perturbation(family: str, level: float, seed: int):
    fn = PERTURBATIONS[family].apply
    return lambda X: fn(X, level, seed)


def sweep_conditions(levels: Mapping[str, tuple[float, ...]], seed: int) -> list[Condition]:
    """Original, reversed, then each family at each level (in the order given)."""
    unknown = sorted(set(levels) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown perturbation {unknown[0]!r}; known: {', '.join(FAMILIES)}")
    conds = [ORIGINAL, REVERSED]
    for family, values in levels.items():
        for level in values:
            s = derive_seed(seed, family, float(level))
            conds.append(Condition(family, _perturbation(family, float(level), s), float(level)))
    return conds

