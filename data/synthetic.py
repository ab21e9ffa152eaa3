"""Synthetic timing-code tasks: ISI, CCISI and coincidence, each standard or rate-free.

ISI and CCISI (two classes). Every sample has a latent rate r (Hz) and interval d
(steps). Normalise them to u = (r - r_lo) / (r_hi - r_lo) and v = (d - d_lo) /
(d_hi - d_lo); the classes lie either side of the line u + v = 1 with a margin:
class "below_line" has u + v <= 1 - margin, class "above_line" has u + v >= 1 + margin.
Each event channel emits Poisson(r * T * dt) events at uniformly random times:
  - ISI: an event is a spike pair d steps apart on one channel (C = `channels`).
  - CCISI: an event is a spike on channel 2j and one d steps later on channel 2j+1
    (C = 2 * `n_pairs`).
No two spikes of a channel share a step, so counts are exactly the event counts.
Placement (`circular`): by default an event starts in [0, T - d), so both spikes
fit; a channel's spike positions then depend on d (the leading channel never fires
in the last d steps), which lets a network find the class from one channel's
position in the window without reading any interval. With circular=True the start
is uniform over [0, T) and the second spike lands at (start + d) mod T: every
channel's spike times are uniform whatever the class, and only the relation
between spikes (the interval, or for the few wrapped events T - d in reverse
order) carries it.
  - standard: (u, d) uniform over each class's region, so rate and interval both
    inform the class (knowing u exactly gives at most 75 % at margin 0, 80 % at the
    default margin 0.1; both are needed for 100 %).
  - ratefree: every sample has the mid-range rate (u = 0.5) and every event channel
    of every sample exactly round(r_mid * T * dt) events (at least 1), stored as
    `events_per_channel`; d is uniform over the integers on the class's side of the
    band at u = 0.5. Per-channel spike counts are identical in every sample of every
    class, so only timing separates the classes (see placement below).
  With a one-point rate range (r_lo == r_hi) u is 0.5 for every sample.

Coincidence (one class per pair of groups; 3 groups -> 3 classes). `n_groups` groups of
`group_size` channels; T is cut into windows of `window` steps with spikes only in
steps [active[0], active[1]) of each window. In every window each channel owns `slots`
distinct steps and fires at each with probability mean / slots, so its count is
Binomial(slots, mean / slots) with mean `on` for the two co-active groups named by the
class and `off` for the others. The co-active groups share one slot set per window, so
their spikes coincide; every other channel draws its own slots. Difficulty lam in
[0, 1] moves (on, off) linearly from (on_counts[0], off_counts[0]) = (12, 2) to
(on_counts[1], off_counts[1]) = (5, 5): at lam = 1 every channel's count has the same
distribution, independently of the class and of the other channels, so only
coincidence is left. The rate-free variant is lam = 1.

Parameters are keyword arguments of `generate` (defaults in TASK_DEFAULTS; the margin
is in the normalised units of u + v) and all land in `meta.params`.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from spiketime import guards
from spiketime.data.dataset import Dataset, DatasetMeta, Split
from spiketime.errors import UserError

TASKS = ("isi", "ccisi", "coincidence")
VARIANTS = ("standard", "ratefree")

_TIMING = {"rate_range": (0.1, 3.0), "interval_range": (1, 100), "margin": 0.1,
           "circular": False}
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "isi": {"steps": 1000, "channels": 10, **_TIMING},
    "ccisi": {"steps": 1000, "n_pairs": 10, **_TIMING},
    "coincidence": {"steps": 200, "n_groups": 3, "group_size": 20, "window": 200,
                    "active": (50, 150), "slots": 20, "on_counts": (12.0, 5.0),
                    "off_counts": (2.0, 5.0)},
}
_MAX_PLACEMENT_ROUNDS = 1000
# Refuse, before any redraw, a placement whose estimated odds of succeeding within the
# rounds above are below this (see _placement_odds). The estimate is optimistic: ISI at
# 1,000 steps estimated 0.86 placed, 0.53 and 0.05 did not (after 7 and 13 s of redraws).
_MIN_ODDS = 0.5
_COINCIDENCE_CHUNK = 256  # samples per block; fixed so results do not depend on memory


def generate(task: str, variant: str = "standard", *, seed: int = 0, n_per_class: int = 500,
             steps: int | None = None, dt_ms: float = 1.0, test_fraction: float = 0.25,
             lam: float | None = None, **params: Any) -> Dataset:
    """Generate a task deterministically from `seed`; see the module docstring."""
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if variant not in VARIANTS:
        raise UserError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    defaults = TASK_DEFAULTS[task]
    unknown = sorted(set(params) - set(defaults) - {"steps"})
    if unknown:
        known = ", ".join(sorted(set(defaults) - {"steps"}))
        raise UserError(f"unknown {task} parameter {unknown[0]!r}; {task} takes {known}")
    p = {k: v for k, v in defaults.items() if k != "steps"} | params
    steps = defaults["steps"] if steps is None else steps
    common = _check_common(seed, n_per_class, steps, dt_ms, test_fraction)
    if task == "coincidence":
        lam = _check_lam(variant, lam)
        n_classes = math.comb(_int("n_groups", p["n_groups"], 2), 2)
    elif lam is not None:
        raise UserError(f"lambda applies only to the coincidence task, not {task}")
    else:
        n_classes = 2
    guards.memory(_bytes_needed(task, variant, n_classes, common, p),
                  f"{task} with {common['n_per_class']} samples per class x {steps} steps")
    rng = np.random.default_rng(seed)
    y, n_train = _split_labels(rng, n_classes, common["n_per_class"], common["test_fraction"])
    if task == "coincidence":
        X, names, stored = _coincidence(rng, y, common, lam, p)
    else:
        X, names, stored = _timing(rng, y, task, variant, common, p)
    meta = DatasetMeta(task=task, variant=variant, dt_ms=float(dt_ms), class_names=names,
                       seed=int(seed), params={**common, **stored})
    return Dataset(train=Split(X=X[:n_train], y=y[:n_train]),
                   test=Split(X=X[n_train:], y=y[n_train:]), meta=meta)


def _bytes_needed(task: str, variant: str, n_classes: int, common: dict, p: dict) -> float:
    """A lower bound on what generating allocates: the dense uint8 X, and for ISI/CCISI
    about 48 bytes per spike pair (row, interval, start and sort keys, int64)."""
    n, steps = n_classes * common["n_per_class"], common["steps"]
    if task == "coincidence":
        channels = _int("n_groups", p["n_groups"], 2) * _int("group_size", p["group_size"], 1)
        return float(n) * channels * steps
    events = _int("channels", p["channels"], 1) if task == "isi" else \
        _int("n_pairs", p["n_pairs"], 1)
    channels = events if task == "isi" else 2 * events
    r_lo, r_hi = _pair("rate_range", p["rate_range"], integer=False)
    seconds = steps * common["dt_ms"] / 1000.0
    per_event = (r_lo + r_hi) / 2 * seconds if variant == "ratefree" else r_lo * seconds
    return float(n) * channels * steps + 48.0 * n * events * per_event


def _split_labels(rng: np.random.Generator, n_classes: int, n_per_class: int,
                  test_fraction: float) -> tuple[np.ndarray, int]:
    """Shuffled train labels then shuffled test labels, stratified; samples are drawn after."""
    n_test = min(max(1, round(n_per_class * test_fraction)), n_per_class - 1)
    parts = [rng.permutation(np.repeat(np.arange(n_classes, dtype=np.int64), m))
             for m in (n_per_class - n_test, n_test)]
    return np.concatenate(parts), len(parts[0])


# ---------------------------------------------------------------- parameter checks

def _check_common(seed: int, n_per_class: int, steps: int, dt_ms: float,
                  test_fraction: float) -> dict[str, Any]:
    _int("seed", seed, 0)
    _int("n_per_class", n_per_class, 2)
    _int("steps", steps, 2)
    if not (_is_real(dt_ms) and dt_ms > 0):
        raise UserError(f"dt_ms must be a positive number, got {dt_ms!r}")
    if not (_is_real(test_fraction) and 0 < test_fraction < 1):
        raise UserError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    return {"n_per_class": int(n_per_class), "steps": int(steps), "dt_ms": float(dt_ms),
            "test_fraction": float(test_fraction), "seed": int(seed)}


def _is_real(x: object) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) \
        and math.isfinite(float(x))


def _int(name: str, x: object, lo: int) -> int:
    ok = isinstance(x, (int, np.integer)) and not isinstance(x, bool)
    if not ok and isinstance(x, float) and x.is_integer():
        ok, x = True, int(x)
    if not ok or int(x) < lo:
        raise UserError(f"{name} must be an integer >= {lo}, got {x!r}")
    return int(x)


def _pair(name: str, x: object, *, integer: bool) -> tuple:
    if not (isinstance(x, Sequence) and not isinstance(x, str) and len(x) == 2
            and all(_is_real(v) for v in x)):
        raise UserError(f"{name} must be a pair of numbers (lo, hi), got {x!r}")
    if integer:
        return (_int(name, x[0], 0), _int(name, x[1], 0))
    return (float(x[0]), float(x[1]))


def _check_lam(variant: str, lam: float | None) -> float:
    if variant == "ratefree":
        if lam is not None and float(lam) != 1.0:
            raise UserError(f"the rate-free coincidence variant is lambda = 1, got {lam}")
        return 1.0
    lam = 0.0 if lam is None else lam
    if not (_is_real(lam) and 0.0 <= lam <= 1.0):
        raise UserError(f"lambda must lie in [0, 1], got {lam!r}")
    return float(lam)


# ---------------------------------------------------------------- ISI and CCISI

def _timing(rng: np.random.Generator, y: np.ndarray, task: str, variant: str, common: dict,
            p: dict) -> tuple[np.ndarray, list[str], dict]:
    steps, n = common["steps"], len(y)
    r_lo, r_hi = _pair("rate_range", p["rate_range"], integer=False)
    d_lo, d_hi = _pair("interval_range", p["interval_range"], integer=True)
    margin = p["margin"]
    if not 0 <= r_lo <= r_hi:
        raise UserError(f"rate_range must satisfy 0 <= lo <= hi (Hz), got {p['rate_range']}")
    if not 1 <= d_lo < d_hi <= steps - 1:
        raise UserError(f"interval_range must satisfy 1 <= lo < hi <= steps - 1 = {steps - 1} "
                        f"(in steps), got {p['interval_range']}")
    if not (_is_real(margin) and 0 <= margin < 0.5):
        raise UserError(f"margin must lie in [0, 0.5), got {margin!r}")
    circular = p["circular"]
    if not isinstance(circular, bool):
        raise UserError(f"circular must be true or false, got {circular!r}")
    key = "channels" if task == "isi" else "n_pairs"
    n_ev = _int(key, p[key], 1)
    line = _Line(r_lo, r_hi, d_lo, d_hi, float(margin))
    seconds = steps * common["dt_ms"] / 1000.0
    if variant == "standard":
        u, d = line.sample_regions(rng, y)
        counts = rng.poisson(line.rate(u)[:, None] * seconds, size=(n, n_ev))
        per_channel = None
    else:  # one rate for all: every event channel of every sample has the same count
        per_channel = max(1, round((r_lo + r_hi) / 2 * seconds))
        u = np.full(n, 0.5)
        counts = np.full((n, n_ev), per_channel)
        d = line.sample_intervals(rng, u, y)
    _check_placement(counts, d, steps, pairs_in_channel=(task == "isi"), circular=circular)
    X = _place_events(rng, counts, d, steps, pairs_in_channel=(task == "isi"), circular=circular)
    stored = {key: n_ev, "rate_range": [r_lo, r_hi], "interval_range": [d_lo, d_hi],
              "margin": float(margin), "circular": circular, "channels": int(X.shape[1])}
    if per_channel is not None:
        stored["events_per_channel"] = per_channel
    return X, ["below_line", "above_line"], stored


class _Line:
    """The class boundary u + v = 1 in the normalised (rate, interval) plane."""

    def __init__(self, r_lo: float, r_hi: float, d_lo: int, d_hi: int, margin: float):
        self.r_lo, self.r_hi, self.d_lo, self.d_hi, self.m = r_lo, r_hi, d_lo, d_hi, margin
        self.fixed_rate = r_hi == r_lo

    def rate(self, u: np.ndarray) -> np.ndarray:
        return self.r_lo + u * (self.r_hi - self.r_lo)

    def _u(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, 0.5) if self.fixed_rate else rng.random(size)

    def side(self, u: np.ndarray, d: np.ndarray) -> np.ndarray:
        """0 below the margin band, 1 above it, -1 inside it."""
        s = u + (d - self.d_lo) / (self.d_hi - self.d_lo)
        return np.where(s <= 1 - self.m, 0, np.where(s >= 1 + self.m, 1, -1))

    def sample_regions(self, rng: np.random.Generator,
                       y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u, d) uniform over each sample's class region, by vectorised rejection."""
        u, d = np.empty(len(y)), np.empty(len(y), dtype=np.int64)
        for cls in (0, 1):
            idx = np.flatnonzero(y == cls)
            got_u, got_d, need = [], [], len(idx)
            while need > 0:
                m = max(256, 4 * need)
                cu = self._u(rng, m)
                cd = rng.integers(self.d_lo, self.d_hi + 1, m)
                ok = np.flatnonzero(self.side(cu, cd) == cls)[:need]
                got_u.append(cu[ok])
                got_d.append(cd[ok])
                need -= len(ok)
            u[idx], d[idx] = np.concatenate(got_u), np.concatenate(got_d)
        return u, d

    def sample_intervals(self, rng: np.random.Generator, u: np.ndarray,
                         y: np.ndarray) -> np.ndarray:
        """An integer interval uniform on the class's side of the band at rate u."""
        span = self.d_hi - self.d_lo
        eps = 1e-9
        hi0 = np.floor(self.d_lo + (1 - self.m - u) * span + eps).astype(np.int64)
        lo1 = np.ceil(self.d_lo + (1 + self.m - u) * span - eps).astype(np.int64)
        lo = np.where(y == 0, self.d_lo, np.maximum(lo1, self.d_lo))
        hi = np.where(y == 0, np.minimum(hi0, self.d_hi), self.d_hi)
        if np.any(lo > hi):  # only if the margin leaves no integer interval
            raise UserError("interval_range is too narrow for this margin: a class has no "
                            "integer interval; widen interval_range or lower margin")
        return lo + np.floor(rng.random(len(u)) * (hi - lo + 1)).astype(np.int64)


def _check_placement(counts: np.ndarray, d: np.ndarray, steps: int, *, pairs_in_channel: bool,
                     circular: bool) -> None:
    """Refuse, by arithmetic, spike counts `_place_events` cannot place (or is all but
    certain not to place within its rounds), before any redraw.

    A row's k starts are drawn uniformly from `span` steps and must be distinct (ISI also
    needs its 2k spikes distinct in `steps`): impossible if k > span (or 2k > steps); and
    when the odds of placing every row within the rounds are tiny (`_placement_odds`),
    the redraws would only take minutes to fail."""
    if counts.size == 0:
        return
    span = np.full(len(d), steps) if circular else steps - d
    k = counts.max(axis=1)
    impossible = (k > span) | ((2 * k > steps) if pairs_in_channel else False)
    if impossible.any():
        row = int(np.argmax(impossible))
        spikes = f"{2 * k[row]} spikes ({k[row]} pairs)" if pairs_in_channel else \
            f"{k[row]} spikes"
        raise UserError(f"the spike rate cannot fit in the window: a channel needs {spikes} "
                        f"in {steps} steps, with starts in {span[row]} of them; lower "
                        f"rate_range or raise steps")
    with np.errstate(divide="ignore"):  # odds of 0 are -inf: refused
        log_odds = np.log(_placement_odds(counts, d, span, pairs_in_channel)).sum()
    if log_odds < np.log(_MIN_ODDS):
        row = int(np.argmax(k / span))
        raise UserError(f"the spike rate is too high to place without overlap: a channel needs "
                        f"{k[row]} spike {'pairs' if pairs_in_channel else 'starts'} in "
                        f"{steps} steps (starts in {span[row]}), and the odds that "
                        f"{_MAX_PLACEMENT_ROUNDS} draws place every sample are below "
                        f"{_MIN_ODDS:g}; lower rate_range or raise steps")


def _placement_odds(counts: np.ndarray, d: np.ndarray, span: np.ndarray,
                    pairs_in_channel: bool) -> np.ndarray:
    """Per sample, the chance that all its rows get placed within the rounds: a row of k
    starts uniform in `span` has k(k-1)/2 pairs, each clashing with chance c / span (c = 1
    for CCISI's starts; about 3 for ISI, whose starts must also not differ by +/-d), so
    one draw is clash-free with chance about exp(-k(k-1)c / (2 span))."""
    k = counts.astype(float)
    c = 1 + 2 * np.clip(span - d, 0, None) / span if pairs_in_channel else np.ones(len(d))
    p_row = np.exp(-k * (k - 1) / 2 * (c / span)[:, None])
    fail = np.exp(_MAX_PLACEMENT_ROUNDS * np.log1p(-np.minimum(p_row, 1 - 1e-16)))
    return np.prod(1 - fail, axis=1)


def _place_events(rng: np.random.Generator, counts: np.ndarray, d: np.ndarray, steps: int,
                  *, pairs_in_channel: bool, circular: bool = False) -> np.ndarray:
    """Spike trains from event counts [N, E] and intervals [N]; no two spikes share a step.

    ISI (pairs_in_channel): event e puts spikes at s and s + d on channel e.
    CCISI: event e puts a spike at s on channel 2e and at s + d on channel 2e + 1.
    Circular: s is uniform over [0, T) and s + d is taken mod T.
    Rows (sample, event channel) whose spikes collide are redrawn until none do.
    """
    n, e = counts.shape
    row = np.repeat(np.arange(n * e), counts.ravel())
    dd = d[row // e]
    span = np.full_like(dd, steps) if circular else steps - dd  # starts drawn from [0, span)
    start = rng.integers(0, span)
    check = np.arange(len(row))  # events whose rows may clash: all, then the redrawn ones
    for _ in range(_MAX_PLACEMENT_ROUNDS):
        # Spikes clash only within a row, so rows not redrawn need no new look.
        keys = _event_keys(row[check], start[check], dd[check], steps, pairs_in_channel)
        order = np.sort(keys)
        dup = order[1:][order[1:] == order[:-1]]
        if dup.size == 0:
            break
        bad_rows = np.unique(dup // steps)
        check = check[np.isin(row[check], bad_rows)]  # ascending, as a mask over all would be
        start[check] = rng.integers(0, span[check])
    else:
        raise UserError("could not place the spikes without overlap: the rate is too high for "
                        "these steps and intervals; lower rate_range or raise steps")
    channels = e if pairs_in_channel else 2 * e
    X = np.zeros((n, channels, steps), dtype=np.uint8)
    sample, ev = row // e, row % e
    first = ev if pairs_in_channel else 2 * ev
    second = ev if pairs_in_channel else 2 * ev + 1
    flat = X.reshape(-1)
    flat[(sample * channels + first) * steps + start] = 1
    flat[(sample * channels + second) * steps + (start + dd) % steps] = 1
    return X


def _event_keys(row: np.ndarray, start: np.ndarray, dd: np.ndarray, steps: int,
                pairs_in_channel: bool) -> np.ndarray:
    """Keys row * steps + step that clash exactly when two spikes of one channel share a step."""
    if pairs_in_channel:  # both spikes of an event on one channel
        return np.concatenate([row * steps + start, row * steps + (start + dd) % steps])
    return row * steps + start  # CCISI: distinct starts <=> distinct spikes on both channels


# ---------------------------------------------------------------- coincidence

def _coincidence(rng: np.random.Generator, y: np.ndarray, common: dict, lam: float,
                 p: dict) -> tuple[np.ndarray, list[str], dict]:
    steps = common["steps"]
    groups = _int("n_groups", p["n_groups"], 2)
    size = _int("group_size", p["group_size"], 1)
    window = _int("window", p["window"], 1)
    a0, a1 = _pair("active", p["active"], integer=True)
    on_c = _pair("on_counts", p["on_counts"], integer=False)
    off_c = _pair("off_counts", p["off_counts"], integer=False)
    if steps % window:
        raise UserError(f"steps ({steps}) must be a multiple of window ({window})")
    if not 0 <= a0 < a1 <= window:
        raise UserError(f"active must satisfy 0 <= lo < hi <= window = {window}, got {p['active']}")
    slots = _int("slots", p["slots"], 1)
    if slots > a1 - a0:
        raise UserError(f"slots ({slots}) cannot exceed the {a1 - a0} active steps of a window")
    on = on_c[0] + lam * (on_c[1] - on_c[0])
    off = off_c[0] + lam * (off_c[1] - off_c[0])
    for name, mean in (("on_counts", on), ("off_counts", off)):
        if not 0 <= mean <= slots:
            raise UserError(f"{name} gives a mean of {mean:g} spikes per window, outside "
                            f"[0, slots = {slots}]")
    pairs = list(itertools.combinations(range(groups), 2))
    X = np.zeros((len(y), groups * size, steps), dtype=np.uint8)
    shape = (groups, size, steps // window, window)
    for lo in range(0, len(y), _COINCIDENCE_CHUNK):
        hi = min(lo + _COINCIDENCE_CHUNK, len(y))
        block = _coincidence_block(rng, np.asarray(pairs)[y[lo:hi]], shape, a1 - a0, slots,
                                   on / slots, off / slots)
        X[lo:hi].reshape(hi - lo, *shape)[..., a0:a1] = block
    names = [f"groups {i}+{j}" for i, j in pairs]
    stored = {"lam": lam, "n_groups": groups, "group_size": size, "window": window,
              "active": [a0, a1], "slots": slots, "on_counts": list(on_c),
              "off_counts": list(off_c), "on_mean": on, "off_mean": off,
              "channels": groups * size}
    return X, names, stored


def _random_subsets(rng: np.random.Generator, lead: tuple[int, ...], length: int,
                    k: int) -> np.ndarray:
    """k distinct values of range(length) per row, uniformly: a partial Fisher-Yates shuffle."""
    rows = math.prod(lead)
    a = np.broadcast_to(np.arange(length, dtype=np.int16), (rows, length)).copy()
    r = np.arange(rows)
    for i in range(k):
        j = rng.integers(i, length, rows)
        a_i = a[:, i].copy()
        a[:, i] = a[r, j]
        a[r, j] = a_i
    return a[:, :k].reshape(*lead, k)


def _coincidence_block(rng: np.random.Generator, on_pairs: np.ndarray, shape: tuple,
                       length: int, slots: int, q_on: float, q_off: float) -> np.ndarray:
    """Active-step spikes [n, groups, size, windows, length] for the co-active pairs given.

    Each channel owns `slots` distinct steps per window and fires at each with
    probability q, so its count is Binomial(slots, q) whatever the class. The two
    co-active groups share one slot set per window (coincidence); every other channel
    draws its own.
    """
    n = len(on_pairs)
    groups, size, windows, _ = shape
    own = _random_subsets(rng, (n, groups, size, windows), length, slots)
    shared = _random_subsets(rng, (n, 1, 1, windows), length, slots)
    on = np.zeros((n, groups), dtype=bool)
    on[np.arange(n)[:, None], on_pairs] = True
    on = on[:, :, None, None, None]
    slot_steps = np.where(on, shared, own)
    fire = rng.random(slot_steps.shape, dtype=np.float32) < np.where(on, q_on, q_off)
    block = np.zeros((n, groups, size, windows, length), dtype=np.uint8)
    np.put_along_axis(block, slot_steps.astype(np.intp), fire.astype(np.uint8), axis=-1)
    return block
