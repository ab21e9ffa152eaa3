"""Perturbations of spike batches X uint8 [N, C, T]; each returns a new array, X is untouched.

- reverse: each sample's active window [first spike, last spike] (over all channels)
  is mirrored in time, t -> first + last - t. Applying it twice is the identity.
- jitter_spikes: every spike moves by its own rint(Normal(0, sigma)) steps.
  Edges: a step outside [0, T) is reflected back inside (-1 -> 1, T -> T - 2,
  repeatedly for large shifts). Collisions: where several spikes of one channel land
  on one step, the one that came earliest in time stays and each other spike moves to
  the nearest step of its channel that is still free, trying +k then -k (in a random
  order per spike) for k = 1, 2, ... So counts per channel are kept exactly.
- jitter_neurons: one rint(Normal(0, sigma)) shift per (sample, channel), applied to
  all the channel's spikes, then clipped so the channel's first and last spikes stay in
  [0, T): no reflection and no collision, so every within-channel interval is kept.
- delete_spikes: every spike is dropped independently with probability p.
- randomize_timing: round(f x count) of each channel's spikes, chosen at random, move
  to random steps the channel leaves empty; counts per channel are kept exactly. At
  f = 1 only counts remain: a network that reads timing falls to its rate-only level.

All are vectorised over the batch and deterministic for a seed. PERTURBATIONS is the one
table of the graded ones: each entry names its function (a uniform (X, level, seed)
signature), its level, its range, its plot title, its help and compare's default levels,
and the sweep, the plots, the grid and compare's options all read it. A new perturbation
is one function here and one entry there.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from spiketime.data.dataset import DatasetError

_RANDOMIZE_ROWS = 4096  # (sample, channel) rows per block: bounds memory to rows x T


def _check(X: np.ndarray) -> np.ndarray:
    if not isinstance(X, np.ndarray) or X.ndim != 3 or X.dtype != np.uint8:
        shape = f"{X.dtype} {tuple(X.shape)}" if isinstance(X, np.ndarray) else type(X).__name__
        raise DatasetError(f"perturbations take a uint8 batch shaped [N, C, T], got {shape}")
    if X.size and X.max() > 1:
        raise DatasetError("perturbations take binary spike arrays (0/1)")
    return X


def _spikes(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row (= sample * C + channel) and step of every spike, sorted by row then step."""
    flat = np.flatnonzero(X)
    return flat // X.shape[2], flat % X.shape[2]


def _from_spikes(shape: tuple[int, ...], row: np.ndarray, t: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, dtype=np.uint8)
    out.reshape(-1)[row * shape[2] + t] = 1
    return out


def reverse(X: np.ndarray) -> np.ndarray:
    """Mirror each sample's active window [first spike, last spike] in time."""
    X = _check(X)
    n, c, steps = X.shape
    row, t = _spikes(X)
    if row.size == 0:
        return X.copy()
    sample = row // c
    first, last = _extent(sample, t, n)
    return _from_spikes(X.shape, row, first[sample] + last[sample] - t)


def _extent(group: np.ndarray, t: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last step per group (groups sorted ascending; absent groups get 0, -1)."""
    first = np.zeros(n_groups, dtype=np.int64)
    last = np.full(n_groups, -1, dtype=np.int64)
    if group.size:
        ids, start = np.unique(group, return_index=True)
        first[ids] = np.minimum.reduceat(t, start)
        last[ids] = np.maximum.reduceat(t, start)
    return first, last


def _reflect(t: np.ndarray, steps: int) -> np.ndarray:
    """Fold any integer step into [0, steps) by mirror reflection at both edges."""
    if steps == 1:
        return np.zeros_like(t)
    period = 2 * (steps - 1)
    m = np.mod(t, period)
    return np.where(m < steps, m, period - m)


def _shifts(rng: np.random.Generator, sigma: float, size: int | tuple) -> np.ndarray:
    return np.rint(rng.normal(0.0, sigma, size)).astype(np.int64)


def _check_level(name: str, value: float, hi: float | None = None) -> float:
    if not np.isfinite(value) or value < 0 or (hi is not None and value > hi):
        bound = f"[0, {hi}]" if hi is not None else ">= 0"
        raise DatasetError(f"{name} must be {bound}, got {value!r}")
    return float(value)


def jitter_spikes(X: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Shift each spike by rint(N(0, sigma)) steps; reflect at edges, resolve collisions."""
    X = _check(X)
    sigma = _check_level("sigma", sigma)
    rng = np.random.default_rng(seed)
    row, t = _spikes(X)
    moved = _reflect(t + _shifts(rng, sigma, t.shape), X.shape[2])
    return _place_without_collisions(rng, X.shape, row, moved)


def _place_without_collisions(rng: np.random.Generator, shape: tuple[int, ...], row: np.ndarray,
                              t: np.ndarray) -> np.ndarray:
    """Set one spike per (row, t); a spike landing on a taken step goes to the nearest free one."""
    steps = shape[2]
    out = np.zeros(shape, dtype=np.uint8)
    flat = out.reshape(-1)
    # Stable sort keeps the spike that was earliest in time first among equal keys.
    key = row * steps + t
    order = np.argsort(key, kind="stable")
    key, row, t = key[order], row[order], t[order]
    clash = np.zeros(key.shape, dtype=bool)
    clash[1:] = key[1:] == key[:-1]
    flat[key[~clash]] = 1
    row, t = row[clash], t[clash]
    first_dir = np.where(rng.random(row.shape) < 0.5, -1, 1)
    for k in range(1, steps):
        if row.size == 0:
            break
        for sign in (1, -1):
            cand = t + sign * first_dir * k
            cand_key = row * steps + cand
            ok = (cand >= 0) & (cand < steps)
            ok[ok] = flat[cand_key[ok]] == 0
            idx = np.flatnonzero(ok)
            _, first = np.unique(cand_key[idx], return_index=True)  # one winner per free step
            won = idx[first]
            flat[cand_key[won]] = 1
            keep = np.ones(row.shape, dtype=bool)
            keep[won] = False
            row, t, first_dir = row[keep], t[keep], first_dir[keep]
    if row.size:  # impossible: a channel never holds more spikes than steps
        raise AssertionError("spike collision left unresolved")
    return out


def jitter_neurons(X: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Shift each (sample, channel) train rigidly by rint(N(0, sigma)), clipped to stay inside."""
    X = _check(X)
    sigma = _check_level("sigma", sigma)
    n, c, steps = X.shape
    rng = np.random.default_rng(seed)
    shift = _shifts(rng, sigma, n * c)
    row, t = _spikes(X)
    first, last = _extent(row, t, n * c)
    shift = np.clip(shift, -first, steps - 1 - last)  # silent rows: irrelevant
    return _from_spikes(X.shape, row, t + shift[row])


def delete_spikes(X: np.ndarray, p: float, seed: int) -> np.ndarray:
    """Drop each spike independently with probability p."""
    X = _check(X)
    p = _check_level("p", p, 1.0)
    rng = np.random.default_rng(seed)
    row, t = _spikes(X)
    keep = rng.random(row.shape) >= p
    return _from_spikes(X.shape, row[keep], t[keep])


def randomize_timing(X: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Move round(fraction x count) of each channel's spikes to random empty steps.

    The spikes that move are chosen uniformly within their channel and land on steps
    drawn uniformly from those the channel then leaves empty, so every channel's
    count is kept exactly. At fraction 1 a channel's spike times are a uniform random
    subset of the window: only its count remains.
    """
    X = _check(X)
    fraction = _check_level("fraction", fraction, 1.0)
    n, c, steps = X.shape
    rng = np.random.default_rng(seed)
    out = X.copy()
    rows = out.reshape(n * c, steps)
    counts = rows.sum(axis=1, dtype=np.int64)
    moving = np.rint(fraction * counts).astype(np.int64)
    for lo in range(0, len(rows), _RANDOMIZE_ROWS):
        block, k = rows[lo:lo + _RANDOMIZE_ROWS], moving[lo:lo + _RANDOMIZE_ROWS]
        active = np.flatnonzero(k)
        if active.size == 0:
            continue
        sub, k = block[active], k[active]
        # Lift k random spikes: rank the row's spikes by a random key, drop the lowest k.
        key = np.where(sub == 1, rng.random(sub.shape), np.inf)
        rank = np.argsort(np.argsort(key, axis=1), axis=1)
        lifted = rank < k[:, None]
        sub[lifted] = 0
        # Land them on k random steps among those now empty (a vacated step included).
        key = np.where(sub == 0, rng.random(sub.shape), np.inf)
        rank = np.argsort(np.argsort(key, axis=1), axis=1)
        sub[rank < k[:, None]] = 1
        block[active] = sub
    return out


@dataclass(frozen=True)
class Perturbation:
    """A graded perturbation, as every sweep, plot and option knows it."""

    name: str  # the sweep family and the report's condition name
    apply: Callable[[np.ndarray, float, int], np.ndarray]  # (X, level, seed) -> X'
    level: str  # the level's name in condition labels ("jitter sigma=2")
    title: str  # plot title
    help: str  # what the levels are, for compare's option
    default_levels: tuple[float, ...] = ()  # compare's default sweep (() : only when asked)
    max_level: float = math.inf  # levels lie in [0, max_level]

    def __call__(self, X: np.ndarray, level: float, seed: int) -> np.ndarray:
        return self.apply(X, level, seed)

    @property
    def option(self) -> str:
        """The command-line option that sets its levels: --neuron-jitter."""
        return "--" + self.name.replace("_", "-")


# Default levels for 1-ms steps: jitter sigmas in steps, deletion probabilities (the built-in
# task's classes differ by ~15 steps in interval). Timing randomization is swept only when
# asked (`spiketime experiment`, `compare --timing`).
PERTURBATIONS: Mapping[str, Perturbation] = MappingProxyType({p.name: p for p in (
    Perturbation("jitter", jitter_spikes, "sigma", "per-spike jitter (sigma, steps)",
                 "per-spike jitter sigmas, steps", (1.0, 2.0, 4.0)),
    Perturbation("neuron_jitter", jitter_neurons, "sigma", "per-neuron jitter (sigma, steps)",
                 "per-neuron jitter sigmas, steps", (2.0, 5.0, 10.0)),
    Perturbation("deletion", delete_spikes, "p", "spike deletion (p)",
                 "spike deletion probabilities", (0.1, 0.2, 0.4), max_level=1.0),
    Perturbation("timing", randomize_timing, "f", "timing randomization (f)",
                 "timing randomization: fractions of each channel's spikes moved to random "
                 "empty steps, counts kept", max_level=1.0),
)})
