"""SHD and SSC from the official HDF5 files, binned, as Whole / Part / Norm datasets.

Raw files (the Zenke lab's Heidelberg spiking datasets, https://zenkelab.org/datasets/):
`{shd,ssc}_{train,test}.h5`, each with `spikes/times` (variable-length float seconds),
`spikes/units` (variable-length int, 0..699) and `labels`; `extra/keys`, when present
with one name per class, gives the class names. SSC's `ssc_valid.h5` is not used: our
format has a train and a test split, and the official test split is kept as ours.

Binning: spike at t seconds -> step floor(t * 1000 / dt_ms); steps >= `steps` are
dropped (counted in params["late_spikes"]); several spikes of a unit in one step make
one spike (X is binary). Variants, all decided on the binned spikes:
  - whole: all 700 channels.
  - part: only channels that fire at least twice in every sample of the train split;
    the same channel set is applied to the test split (a test sample may have fewer).
    With `coverage` < 1 (not the paper's rule; for corpora where a few quiet samples
    empty it): channels ranked by the share of training samples in which they fire
    twice (ties: lower unit first), the longest prefix of that ranking that still fires
    twice in every channel of at least `coverage` of the training samples; samples of
    either split in which a kept channel fires fewer than twice are left out (their
    indices in params["dropped"]). At coverage 1 the ranking gives the paper's set.
  - norm: the part channels, each randomly subsampled (seeded) to the same count in
    every sample of both splits: that count is the channel's minimum over all samples
    of both splits (label-free, so no labels leak); channels whose minimum is 0 (silent
    in some test sample) are dropped. The per-channel count vector is then identical in
    every sample, so rates carry nothing.
Kept unit ids are stored in params["units"]; norm's counts in params["norm_counts"].
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from spiketime import guards
from spiketime.data.dataset import Dataset, DatasetMeta, EventWriter, Split
from spiketime.errors import UserError
from spiketime.fileio import whole_numbers

N_CLASSES = {"shd": 20, "ssc": 35}
SPEECH_VARIANTS = ("whole", "part", "norm")
N_UNITS = 700
PART_MIN_COUNT = 2
SOURCE_URL = "https://zenkelab.org/datasets/"
_CHUNK = 1024  # samples read and binned at a time (fixed: results do not depend on it)


def raw_files(dataset: str) -> dict[str, str]:
    """The official file name of each split we use."""
    return {split: f"{dataset}_{split}.h5" for split in ("train", "test")}


def load_speech(raw_dir: str | os.PathLike, dataset: str, variant: str, *, dt_ms: float = 14.0,
                steps: int = 100, seed: int = 0, coverage: float = 1.0) -> Dataset:
    """Bin the official SHD/SSC files into a Whole, Part or Norm dataset (see module doc)."""
    plan = _plan(raw_dir, dataset, variant, dt_ms, steps, coverage)
    n = sum(int(k.sum()) for k in plan.keep.values())
    guards.memory(float(n) * len(plan.units) * int(steps),
                  f"{dataset} {variant} dense ({n} samples x {len(plan.units)} channels x "
                  f"{steps} steps; --storage events needs no dense array)")
    rng = np.random.default_rng(seed)
    splits, late = {}, {}
    for name, f in plan.files.items():
        X, late[name] = plan.binner.dense(f, plan.keep[name], plan.units, plan.norm_counts, rng)
        splits[name] = Split(X=X, y=f.labels[plan.keep[name]])
    return Dataset(train=splits["train"], test=splits["test"], meta=plan.meta(seed, late))


def write_speech_events(raw_dir: str | os.PathLike, out: str | os.PathLike, dataset: str,
                        variant: str, *, dt_ms: float = 14.0, steps: int = 100,
                        seed: int = 0, coverage: float = 1.0) -> DatasetMeta:
    """`load_speech`, written as an events file (`spiketime.data.dataset`, version 2)
    chunk by chunk: never a dense array of the whole set. Densified, it is exactly
    `load_speech`'s X (the same binning and, for norm, the same random draws)."""
    plan = _plan(raw_dir, dataset, variant, dt_ms, steps, coverage)
    rng = np.random.default_rng(seed)
    late = {}
    # the metadata's late-spike counts are known only at the end: write them then
    with EventWriter(out, plan.meta(seed, {s: 0 for s in plan.files}), len(plan.units),
                     int(steps)) as w:
        for name, f in plan.files.items():
            late[name] = 0
            for _, sample, ch, step, n_late, labels in plan.binner.events(
                    f, plan.keep[name], plan.units, plan.norm_counts, rng):
                late[name] += n_late
                w.add(name, sample, ch, step, labels)
        meta = plan.meta(seed, late)
        w.f.attrs["params"] = json.dumps(meta.params)
    return meta


class _Plan:
    """What both writers share: the raw files, the binner, the channel set, the samples
    kept per split, norm counts."""

    def __init__(self, dataset, variant, dt_ms, steps, paths, files, binner, units,
                 norm_counts, keep, coverage):
        self.dataset, self.variant, self.dt_ms, self.steps = dataset, variant, dt_ms, steps
        self.paths, self.files, self.binner = paths, files, binner
        self.units, self.norm_counts, self.keep = units, norm_counts, keep
        self.coverage = coverage

    def meta(self, seed: int, late: dict) -> DatasetMeta:
        params: dict[str, Any] = {
            "dataset": self.dataset, "steps": int(self.steps), "dt_ms": float(self.dt_ms),
            "seed": int(seed), "raw_files": [p.name for p in self.paths.values()],
            "units": self.units.tolist(), "part_min_count": PART_MIN_COUNT,
            "channel_set_from": "train", "late_spikes": late, "channels": int(self.units.size),
        }
        if self.coverage < 1:
            params["part_coverage"] = float(self.coverage)
            params["dropped"] = {s: np.flatnonzero(~k).tolist() for s, k in self.keep.items()}
        if self.norm_counts is not None:
            params["norm_counts"] = self.norm_counts.tolist()
        return DatasetMeta(task=self.dataset, variant=self.variant, dt_ms=float(self.dt_ms),
                           class_names=self.files["train"].class_names, seed=int(seed),
                           params=params)


def _plan(raw_dir, dataset: str, variant: str, dt_ms: float, steps: int,
          coverage: float = 1.0) -> _Plan:
    if dataset not in N_CLASSES:
        raise UserError(f"unknown speech dataset {dataset!r}; choose shd or ssc")
    if variant not in SPEECH_VARIANTS:
        raise UserError(f"unknown variant {variant!r}; choose one of {', '.join(SPEECH_VARIANTS)}")
    if not (isinstance(dt_ms, (int, float)) and np.isfinite(dt_ms) and dt_ms > 0):
        raise UserError(f"dt_ms must be a positive number, got {dt_ms!r}")
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise UserError(f"steps must be a positive integer, got {steps!r}")
    if not (isinstance(coverage, (int, float)) and 0 < coverage <= 1):
        raise UserError(f"part coverage must lie in (0, 1], got {coverage!r}")
    if coverage < 1 and variant == "whole":
        raise UserError("part coverage applies to the part and norm variants, not whole")
    paths = _find_files(Path(raw_dir), dataset)
    n_classes = N_CLASSES[dataset]
    files = {s: _RawSplit(p, n_classes) for s, p in paths.items()}
    binner = _Binner(float(dt_ms), int(steps))
    units = np.arange(N_UNITS)
    keep = {s: np.ones(len(f), dtype=bool) for s, f in files.items()}
    norm_counts = None
    if variant != "whole":
        counts = {s: binner.counts(f) for s, f in files.items()}
        units = part_channels(counts["train"] >= PART_MIN_COUNT, coverage)
        if units.size == 0:
            passing = (counts["train"] >= PART_MIN_COUNT).sum(axis=0)
            best = int(passing.argmax())
            raise UserError(f"no channel of {dataset} fires at least {PART_MIN_COUNT} times in "
                            f"{_share(coverage)} training samples at dt_ms={dt_ms} and "
                            f"steps={steps} (the best, unit {best}, does in {passing[best]} of "
                            f"{len(counts['train'])}); the {variant} variant would be empty"
                            + ("" if coverage < 1 else "; --part-coverage below 1 lets a few "
                               "samples go"))
        if coverage < 1:
            keep = {s: (c[:, units] >= PART_MIN_COUNT).all(axis=1) for s, c in counts.items()}
            for s, k in keep.items():
                gone = np.setdiff1d(files[s].labels, files[s].labels[k])
                if gone.size:
                    raise UserError(f"part coverage {coverage:g} leaves no {s} sample of class "
                                    f"{files[s].class_names[gone[0]]!r}; raise the coverage")
        if variant == "norm":
            low = np.minimum(*(c[keep[s]].min(axis=0) for s, c in counts.items()))[units]
            units, norm_counts = units[low > 0], low[low > 0]
            if units.size == 0:
                raise UserError(f"every part channel of {dataset} is silent in some test "
                                f"sample at dt_ms={dt_ms} and steps={steps}; the norm "
                                f"variant would be empty")
    return _Plan(dataset, variant, dt_ms, steps, paths, files, binner, units, norm_counts,
                 keep, float(coverage))


def part_channels(fires: np.ndarray, coverage: float = 1.0) -> np.ndarray:
    """Part's channel set from `fires` [samples, units] (True: fired at least twice):
    units ranked by how many samples they fire in (ties: lower unit first), the longest
    prefix that still fires in every one of its units in at least `coverage` of the
    samples, as sorted unit ids. At coverage 1: the units that fire in every sample."""
    order = np.lexsort((np.arange(fires.shape[1]), -fires.sum(axis=0)))
    alive = np.cumprod(fires[:, order], axis=1, dtype=bool).sum(axis=0)
    need = int(np.ceil(coverage * len(fires) - 1e-9))
    return np.sort(order[:int((alive >= need).sum())])


def _share(coverage: float) -> str:
    return "every one of the" if coverage >= 1 else f"{coverage:.0%} of the"


def _find_files(raw_dir: Path, dataset: str) -> dict[str, Path]:
    paths = {s: raw_dir / name for s, name in raw_files(dataset).items()}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        zipped = [n for n in missing if (raw_dir / f"{n}.gz").is_file()]
        hint = f" ({', '.join(z + '.gz' for z in zipped)} found: gunzip it)" if zipped else ""
        raise UserError(
            f"missing {' and '.join(missing)} in {raw_dir}{hint}: download "
            f"{' and '.join(n + '.gz' for n in missing)} from the Zenke lab's Heidelberg "
            f"spiking datasets ({dataset.upper()}, {SOURCE_URL}), gunzip them and put them there")
    return paths


class _RawSplit:
    """One official file: labels and class names read once, spikes read in chunks."""

    def __init__(self, path: Path, n_classes: int):
        self.path = path
        try:
            with h5py.File(path, "r") as f:
                for key in ("spikes/times", "spikes/units", "labels"):
                    if key not in f:
                        raise UserError(f"{path} lacks {key}: not an official SHD/SSC file")
                try:  # 0.5 must not become class 0
                    self.labels = whole_numbers(f["labels"][()], "labels")
                except ValueError as exc:
                    raise UserError(f"{path}: {exc}") from None
                n = len(self.labels)
                if len(f["spikes/times"]) != n or len(f["spikes/units"]) != n:
                    raise UserError(
                        f"{path}: spikes/times, spikes/units and labels differ in length")
                self.class_names = _class_names(f, n_classes)
        except OSError as exc:
            raise UserError(f"cannot read {path} as HDF5: {exc}") from None
        if n == 0 or self.labels.ndim != 1:
            raise UserError(f"{path}: labels must be a non-empty 1-D array")
        if self.labels.min() < 0 or self.labels.max() >= n_classes:
            raise UserError(f"{path}: labels must lie in [0, {n_classes}), found "
                            f"{self.labels.min()}..{self.labels.max()}")

    def __len__(self) -> int:
        return len(self.labels)

    def chunks(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first sample, times, units) per chunk; times and units are object arrays."""
        from tqdm import tqdm

        with h5py.File(self.path, "r") as f:
            times, units = f["spikes/times"], f["spikes/units"]
            starts = range(0, len(self), _CHUNK)
            for lo in tqdm(starts, desc=self.path.name, unit="chunk", leave=False,
                           disable=not sys.stderr.isatty()):
                hi = min(lo + _CHUNK, len(self))
                yield lo, times[lo:hi], units[lo:hi]


def _class_names(f: h5py.File, n_classes: int) -> list[str]:
    if "extra/keys" in f and len(f["extra/keys"]) == n_classes:
        return [k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
                for k in f["extra/keys"][()]]
    return [f"class {i}" for i in range(n_classes)]


class _Binner:
    """Raw events -> unique binned spikes keyed (sample * N_UNITS + unit) * steps + step."""

    def __init__(self, dt_ms: float, steps: int):
        self.dt_ms, self.steps = dt_ms, steps

    def _keys(self, path: Path, times: np.ndarray,
              units: np.ndarray) -> tuple[np.ndarray, int]:
        lens = np.fromiter((len(t) for t in times), dtype=np.int64, count=len(times))
        if np.any(lens != np.fromiter((len(u) for u in units), dtype=np.int64, count=len(units))):
            raise UserError(f"{path}: a sample has different numbers of spike times and units")
        t = np.concatenate([np.asarray(a, dtype=np.float64) for a in times]) if lens.sum() \
            else np.zeros(0)
        u = np.concatenate([np.asarray(a, dtype=np.int64) for a in units]) if lens.sum() \
            else np.zeros(0, dtype=np.int64)
        if t.size and (not np.all(np.isfinite(t)) or t.min() < 0):
            raise UserError(f"{path}: spike times must be finite and non-negative (seconds)")
        if u.size and (u.min() < 0 or u.max() >= N_UNITS):
            raise UserError(f"{path}: spike units must lie in [0, {N_UNITS}), found "
                            f"{u.min()}..{u.max()}")
        step = np.floor(t * 1000.0 / self.dt_ms).astype(np.int64)
        sample = np.repeat(np.arange(len(times), dtype=np.int64), lens)
        ok = step < self.steps
        keys = ((sample[ok] * N_UNITS + u[ok]) * self.steps + step[ok])
        return np.unique(keys), int((~ok).sum())

    def counts(self, raw: _RawSplit) -> np.ndarray:
        """Binned spike count per (sample, unit), [N, N_UNITS]."""
        out = np.zeros((len(raw), N_UNITS), dtype=np.int64)
        for lo, times, units in raw.chunks():
            keys, _ = self._keys(raw.path, times, units)
            rows = keys // self.steps
            out[lo:lo + len(times)] = np.bincount(rows, minlength=len(times) * N_UNITS) \
                .reshape(len(times), N_UNITS)
        return out

    def events(self, raw: _RawSplit, keep: np.ndarray, units: np.ndarray,
               norm_counts: np.ndarray | None, rng: np.random.Generator):
        """Per chunk, over the samples in `keep` only (renumbered from 0): (first kept
        sample of the chunk, its sample within the chunk, channel, step, late spikes,
        the chunk's labels), keeping only `units` (renumbered) and, for norm, subsampled
        to norm_counts."""
        channel_of = np.full(N_UNITS, -1, dtype=np.int64)
        channel_of[units] = np.arange(len(units))
        c = len(units)
        out = 0
        for lo, times, unit_lists in raw.chunks():
            mine = keep[lo:lo + len(times)]
            keys, n_late = self._keys(raw.path, times[mine], unit_lists[mine])
            rows, step = keys // self.steps, keys % self.steps
            sample, ch = rows // N_UNITS, channel_of[rows % N_UNITS]
            kept = ch >= 0
            sample, ch, step = sample[kept], ch[kept], step[kept]
            if norm_counts is not None:
                pick = _subsample(rng, sample * c + ch, norm_counts[ch])
                sample, ch, step = sample[pick], ch[pick], step[pick]
            yield out, sample, ch, step, n_late, raw.labels[lo:lo + len(times)][mine]
            out += int(mine.sum())

    def dense(self, raw: _RawSplit, keep: np.ndarray, units: np.ndarray,
              norm_counts: np.ndarray | None, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """X uint8 [kept samples, len(units), steps] (norm: subsampled to norm_counts) and
        late spikes."""
        X = np.zeros((int(keep.sum()), len(units), self.steps), dtype=np.uint8)
        late = 0
        for lo, sample, ch, step, n_late, _ in self.events(raw, keep, units, norm_counts, rng):
            late += n_late
            X[lo + sample, ch, step] = 1
        return X, late


def _subsample(rng: np.random.Generator, row: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Indices keeping a uniformly random `target` of the spikes of each row."""
    priority = rng.random(row.shape)
    order = np.lexsort((priority, row))
    sorted_row = row[order]
    start = np.flatnonzero(np.r_[True, sorted_row[1:] != sorted_row[:-1]])
    rank = np.arange(len(row)) - np.repeat(start, np.diff(np.r_[start, len(row)]))
    return np.sort(order[rank < target[order]])
