"""The dataset container and its HDF5 file format.

A dataset is two splits of dense binary spike trains, X uint8 [N, C, T] in SLAYER's
NCT order with labels y int64 [N], plus metadata saying how it was made. On disk
(format "spiketime-dataset"), two layouts:

version 1, dense:
    attrs:  format, format_version, task, variant, dt_ms,
            class_names (JSON list), seed (-1 for None), params (JSON object)
    train/X uint8 [N, C, T] (gzip), train/y int64 [N]
    test/X  uint8 [N, C, T] (gzip), test/y  int64 [N]

version 2, events (for sets too large to hold dense: SSC as uint8 [75,000, 700, 250]
is about 13 GB), the same attrs plus storage = "events", channels, steps:
    <split>/y int64 [N]; <split>/offsets int64 [N + 1]
    <split>/times uint16 [E], <split>/channels uint16 [E]: sample i's spikes are
        events offsets[i]:offsets[i+1], one per (channel, step) with a spike
Written incrementally by `EventWriter` (never a dense array of the whole set) and
read one batch at a time by `EventSource`; `open_dataset` gives either layout as
batch sources, `load_dataset` reads either whole and dense (small sets only).

Validation raises `DatasetError`, a `UserError` (one line on the CLI) that is also a
`ValueError` for library callers.
"""
from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from spiketime import guards
from spiketime.errors import UserError
from spiketime.fileio import atomic_path, json_attribute

FORMAT = "spiketime-dataset"
FORMAT_VERSION = 1  # dense; save_dataset writes it
EVENTS_VERSION = 2  # events; EventWriter writes it
SPLITS = ("train", "test")
DENSE_LIMIT_BYTES = 2 << 30  # load_dataset refuses to make an event file denser than this


class DatasetError(UserError, ValueError):
    """An invalid dataset: bad shapes, dtypes, labels or metadata."""


@dataclass(frozen=True)
class Split:
    """One split: X uint8 binary [N, C, T], y int64 [N]."""

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        X, y = self.X, self.y
        if not isinstance(X, np.ndarray) or X.ndim != 3 or X.dtype != np.uint8:
            raise DatasetError(
                f"X must be a uint8 array shaped [N, C, T], got {_describe(X)}")
        if not isinstance(y, np.ndarray) or y.ndim != 1 or y.dtype != np.int64:
            raise DatasetError(f"y must be an int64 array shaped [N], got {_describe(y)}")
        if X.shape[0] != y.shape[0]:
            raise DatasetError(
                f"X has {X.shape[0]} samples but y has {y.shape[0]} "
                f"(X {tuple(X.shape)}, y {tuple(y.shape)})")
        if X.shape[1] == 0 or X.shape[2] == 0:  # nothing to learn or run; netx needs both
            raise DatasetError(f"X has {X.shape[1]} channels and {X.shape[2]} steps; a "
                               f"dataset needs at least one of each")
        if X.size and X.max() > 1:
            raise DatasetError(f"X must be binary (0/1 spikes), found the value {int(X.max())}")

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class DatasetMeta:
    """How a dataset was made; `params` holds every generator/loader parameter."""

    task: str
    variant: str
    dt_ms: float
    class_names: list[str]
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.dt_ms, (int, float)) and math.isfinite(self.dt_ms)
                and self.dt_ms > 0):
            raise DatasetError(f"dt_ms must be a positive number, got {self.dt_ms!r}")
        if len(self.class_names) < 2:
            raise DatasetError(
                f"a dataset needs at least 2 classes, got {len(self.class_names)}")
        try:
            json.dumps(self.params)
        except TypeError as exc:
            raise DatasetError(f"params must be JSON-serialisable: {exc}") from None


@dataclass(frozen=True)
class Dataset:
    """Train and test splits with the same C and T, labels in range, no empty class."""

    train: Split
    test: Split
    meta: DatasetMeta

    def __post_init__(self) -> None:
        if self.train.X.shape[1:] != self.test.X.shape[1:]:
            raise DatasetError(
                f"train and test must share [C, T]: train X {tuple(self.train.X.shape)}, "
                f"test X {tuple(self.test.X.shape)}")
        k = self.n_classes
        for name, split in zip(SPLITS, (self.train, self.test)):
            if len(split) == 0:
                raise DatasetError(f"the {name} split is empty")
            y = split.y
            if y.min() < 0 or y.max() >= k:
                raise DatasetError(
                    f"{name} labels must lie in [0, {k}) for {k} classes, "
                    f"found {int(y.min())}..{int(y.max())}")
            counts = np.bincount(y, minlength=k)
            empty = [self.meta.class_names[i] for i in np.flatnonzero(counts == 0)]
            if empty:
                raise DatasetError(f"the {name} split has no samples of class {empty[0]!r}"
                                   + (f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""))

    @property
    def channels(self) -> int:
        return int(self.train.X.shape[1])

    @property
    def steps(self) -> int:
        return int(self.train.X.shape[2])

    @property
    def n_classes(self) -> int:
        return len(self.meta.class_names)

    def splits(self) -> dict[str, Split]:
        return {"train": self.train, "test": self.test}


def _describe(a: object) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.dtype} {tuple(a.shape)}"
    return type(a).__name__


def save_dataset(ds: Dataset, path: str | os.PathLike) -> None:
    """Write `ds` to `path` atomically (a temporary file renamed on success)."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            _write_meta(f, ds.meta, FORMAT_VERSION)
            for name, split in ds.splits().items():
                g = f.create_group(name)
                chunks = (1, *split.X.shape[1:]) if split.X.size else None
                g.create_dataset("X", data=split.X, compression="gzip", chunks=chunks)
                g.create_dataset("y", data=split.y)


def _write_meta(f: h5py.File, meta: DatasetMeta, version: int) -> None:
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = version
    f.attrs["task"] = meta.task
    f.attrs["variant"] = meta.variant
    f.attrs["dt_ms"] = float(meta.dt_ms)
    f.attrs["class_names"] = json.dumps(list(meta.class_names))
    f.attrs["seed"] = -1 if meta.seed is None else int(meta.seed)
    f.attrs["params"] = json.dumps(meta.params)


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Read a dataset file; any problem is one `DatasetError` sentence naming the file."""
    p = dataset_path(path)
    if not h5py.is_hdf5(p):
        raise DatasetError(f"{p} is not an HDF5 file (expected a {FORMAT} file)")
    try:
        with h5py.File(p, "r") as f:
            return _read(f, p)
    except DatasetError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DatasetError(f"{p} is not a readable {FORMAT} file: {exc}") from None


def dataset_path(path: str | os.PathLike) -> Path:
    """`path`, if it names an existing file; the one sentence every reader gives if not."""
    p = Path(path)
    if p.is_dir():
        raise DatasetError(f"dataset file {p} is a folder, not a file")
    if not p.is_file():
        raise DatasetError(f"dataset file {p} does not exist")
    return p


def _read(f: h5py.File, p: Path) -> Dataset:
    fmt = _text(f.attrs.get("format", ""))
    if fmt != FORMAT:
        raise DatasetError(f"{p} is not a {FORMAT} file (format attribute {fmt!r})")
    version = _version(f, p)
    meta = _read_meta(f)
    splits = {}
    if version == EVENTS_VERSION:
        sources = {name: EventSource(p, name) for name in SPLITS}
        n, c, t = sum(len(s) for s in sources.values()), sources["train"].channels, \
            sources["train"].steps
        guards.memory(float(n) * c * t, f"{p} read whole ({n} samples x {c} channels x {t} "
                                        f"steps, dense)")
        if n * c * t > DENSE_LIMIT_BYTES:
            raise DatasetError(
                f"{p} holds {n} samples x {c} channels x {t} steps as events, "
                f"{n * c * t / 2**30:.1f} GB dense; this command reads a dataset whole: "
                f"spiketime train, data audit and deploy --backend emulator read it "
                f"in batches")
        for name, src in sources.items():
            try:
                splits[name] = Split(X=src.batch(np.arange(len(src))), y=src.labels)
            except DatasetError as exc:
                raise DatasetError(f"{p}: {name}: {exc}") from None
            finally:
                src.close()
    for name in SPLITS if version == FORMAT_VERSION else ():
        for key in ("X", "y"):
            if f"{name}/{key}" not in f:
                raise DatasetError(f"{p} lacks the dataset {name}/{key}")
            if not isinstance(f[f"{name}/{key}"], h5py.Dataset):
                raise DatasetError(f"{p}: {name}/{key} is a group, not a dataset")
    if version == FORMAT_VERSION:
        shapes = [f[name]["X"].shape for name in SPLITS]
        if all(len(shape) == 3 for shape in shapes):  # other shapes: Split says what is wrong
            n, (_, c, t) = sum(shape[0] for shape in shapes), shapes[0]
            guards.memory(float(n) * c * t, f"{p} read whole ({n} samples x {c} channels x "
                                            f"{t} steps, dense)")
    for name in SPLITS if version == FORMAT_VERSION else ():
        try:
            splits[name] = Split(X=f[name]["X"][()], y=f[name]["y"][()])
        except DatasetError as exc:
            raise DatasetError(f"{p}: {name}: {exc}") from None
    try:
        return Dataset(train=splits["train"], test=splits["test"], meta=meta)
    except DatasetError as exc:
        raise DatasetError(f"{p}: {exc}") from None


def _version(f: h5py.File, p: Path) -> int:
    version = f.attrs.get("format_version")
    if version is None or int(version) not in (FORMAT_VERSION, EVENTS_VERSION):
        raise DatasetError(f"{p} has format_version {version}, this spiketime reads versions "
                           f"{FORMAT_VERSION} (dense) and {EVENTS_VERSION} (events)")
    if int(version) == EVENTS_VERSION and _text(f.attrs.get("storage", "")) != "events":
        raise DatasetError(f"{p} has format_version {EVENTS_VERSION}, an events file, but no "
                           f"events storage (storage attribute "
                           f"{_text(f.attrs.get('storage', ''))!r})")
    return int(version)


def _read_meta(f: h5py.File) -> DatasetMeta:
    seed = int(f.attrs["seed"])
    names = json_attribute(f.attrs["class_names"], "class_names", list, f.filename, DatasetError)
    return DatasetMeta(
        task=_text(f.attrs["task"]),
        variant=_text(f.attrs["variant"]),
        dt_ms=float(f.attrs["dt_ms"]),
        class_names=[str(c) for c in names],
        seed=None if seed < 0 else seed,
        params=json_attribute(f.attrs["params"], "params", dict, f.filename, DatasetError),
    )


# --- events: large sets, written and read a batch at a time ----------------------------


class EventWriter:
    """Writes an events file (version 2) sample chunk by sample chunk, atomically.

        with EventWriter(path, meta, channels, steps) as w:
            w.add("train", sample, channel, step, labels)   # one chunk of samples
            ...
    `sample` indexes the chunk's samples (0..len(labels)-1); events may come in any
    order and must be unique per (sample, channel, step)."""

    def __init__(self, path: str | os.PathLike, meta: DatasetMeta, channels: int, steps: int):
        if not 0 < steps <= 65536 or not 0 < channels <= 65536:
            raise DatasetError(f"an events file holds up to 65,536 channels and steps, got "
                               f"{channels} channels x {steps} steps")
        self.path, self.meta, self.channels, self.steps = Path(path), meta, channels, steps

    def __enter__(self) -> EventWriter:
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self.f = h5py.File(tmp, "w")
        _write_meta(self.f, self.meta, EVENTS_VERSION)
        self.f.attrs["storage"] = "events"
        self.f.attrs["channels"] = self.channels
        self.f.attrs["steps"] = self.steps
        for name in SPLITS:
            g = self.f.create_group(name)
            g.create_dataset("y", (0,), np.int64, maxshape=(None,), chunks=(65536,))
            g.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,),
                             chunks=(65536,))
            for key in ("times", "channels"):
                g.create_dataset(key, (0,), np.uint16, maxshape=(None,), chunks=(1 << 15,),
                                 compression="lzf")
        return self

    def add(self, split: str, sample: np.ndarray, channel: np.ndarray, step: np.ndarray,
            labels: np.ndarray) -> None:
        labels = np.asarray(labels, np.int64)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.meta.class_names)):
            raise DatasetError(f"labels must lie in [0, {len(self.meta.class_names)})")
        if len(step) and (step.min() < 0 or step.max() >= self.steps or channel.min() < 0
                          or channel.max() >= self.channels):
            raise DatasetError(f"events must lie within {self.channels} channels x "
                               f"{self.steps} steps")
        g = self.f[split]
        order = np.argsort(sample, kind="stable")
        counts = np.bincount(sample, minlength=len(labels))
        offsets = g["offsets"]
        ends = offsets[-1] + np.cumsum(counts)
        for key, values in (("y", labels), ("offsets", ends),
                            ("times", np.asarray(step)[order].astype(np.uint16)),
                            ("channels", np.asarray(channel)[order].astype(np.uint16))):
            ds = g[key]
            ds.resize((len(ds) + len(values),))
            ds[len(ds) - len(values):] = values

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                for name in SPLITS:
                    y = self.f[name]["y"][()]
                    if len(y) == 0:
                        raise DatasetError(f"the {name} split is empty")
                    empty = np.flatnonzero(np.bincount(y, minlength=len(self.meta.class_names))
                                           == 0)
                    if len(empty):
                        raise DatasetError(f"the {name} split has no samples of class "
                                           f"{self.meta.class_names[empty[0]]!r}")
        except BaseException:
            self.f.close()
            self._atomic.__exit__(*sys.exc_info())
            raise
        self.f.close()
        self._atomic.__exit__(*exc)


class EventSource:
    """One split of an events file as a training source: labels and offsets in memory
    (16 bytes a sample), spikes read and made dense one batch at a time."""

    def __init__(self, path: str | os.PathLike, split: str):
        self.path, self.split = Path(path), split
        self._f = h5py.File(self.path, "r")
        g = self._f[split]
        self.labels = g["y"][()]
        self.offsets = g["offsets"][()]
        self._times, self._channels = g["times"], g["channels"]
        self._c, self._t = int(self._f.attrs["channels"]), int(self._f.attrs["steps"])
        if len(self.offsets) != len(self.labels) + 1:
            raise DatasetError(f"{self.path}: {split}/offsets has {len(self.offsets)} entries "
                               f"for {len(self.labels)} samples")

    @property
    def channels(self) -> int:
        return self._c

    @property
    def steps(self) -> int:
        return self._t

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: np.ndarray) -> np.ndarray:
        """Dense uint8 [len(indices), C, T] for these samples, in the order given."""
        indices = np.asarray(indices, dtype=np.int64)
        out = np.zeros((len(indices), self._c, self._t), dtype=np.uint8)
        first = int(indices[0]) if len(indices) else 0
        if (len(indices) and 0 <= first and first + len(indices) <= len(self)
                and np.array_equal(indices, np.arange(first, first + len(indices)))):
            return self._span(first, first + len(indices), out)  # one read, not one a sample
        for row, i in enumerate(indices):
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
            if hi > lo:
                t = self._times[lo:hi].astype(np.int64)
                c = self._channels[lo:hi].astype(np.int64)
                if t.max() >= self._t or c.max() >= self._c:
                    raise DatasetError(f"{self.path}: {self.split} sample {i} has an event "
                                       f"outside {self._c} channels x {self._t} steps")
                out[row, c, t] = 1
        return out

    def _span(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Samples start..stop-1 made dense into `out`, their events read at once."""
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        if hi > lo:
            t = self._times[lo:hi].astype(np.int64)
            c = self._channels[lo:hi].astype(np.int64)
            row = np.repeat(np.arange(stop - start), np.diff(self.offsets[start:stop + 1]))
            bad = (t >= self._t) | (c >= self._c)
            if bad.any():
                raise DatasetError(f"{self.path}: {self.split} sample "
                                   f"{start + int(row[bad.argmax()])} has an event outside "
                                   f"{self._c} channels x {self._t} steps")
            out[row, c, t] = 1
        return out

    def close(self) -> None:
        self._f.close()


@dataclass(frozen=True)
class OpenDataset:
    """A dataset file of either layout, its splits as batch sources."""

    meta: DatasetMeta
    train: Any  # a spiketime.data.sources.Source
    test: Any

    @property
    def channels(self) -> int:
        return self.train.channels

    @property
    def steps(self) -> int:
        return self.train.steps

    @property
    def n_classes(self) -> int:
        return len(self.meta.class_names)


def _header(p: Path) -> tuple[int, DatasetMeta]:
    """A dataset file's layout version and metadata, read without its arrays."""
    if not h5py.is_hdf5(p):
        raise DatasetError(f"{p} is not an HDF5 file (expected a {FORMAT} file)")
    try:
        with h5py.File(p, "r") as f:
            fmt = _text(f.attrs.get("format", ""))
            if fmt != FORMAT:
                raise DatasetError(f"{p} is not a {FORMAT} file (format attribute {fmt!r})")
            return _version(f, p), _read_meta(f)
    except DatasetError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DatasetError(f"{p} is not a readable {FORMAT} file: {exc}") from None


def dataset_meta(path: str | os.PathLike) -> DatasetMeta:
    """A dataset file's metadata (its task, variant, classes), its arrays left unread."""
    return _header(dataset_path(path))[1]


def open_dataset(path: str | os.PathLike) -> OpenDataset:
    """Dense files are read whole (they are small); events files stay on disk and are
    read a batch at a time."""
    from spiketime.data.sources import ArraySource

    p = dataset_path(path)
    version, meta = _header(p)
    try:
        if version == EVENTS_VERSION:
            ds = OpenDataset(meta, EventSource(p, "train"), EventSource(p, "test"))
            _check_labels(ds, p)
            return ds
    except DatasetError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DatasetError(f"{p} is not a readable {FORMAT} file: {exc}") from None
    ds = load_dataset(p)
    return OpenDataset(ds.meta, ArraySource(ds.train.X, ds.train.y),
                       ArraySource(ds.test.X, ds.test.y))


def _check_labels(ds: OpenDataset, p: Path) -> None:
    """An events file's labels as `Dataset` checks a dense one's: in range, no split
    empty, no class missing from a split (labels are in memory: cheap)."""
    k = ds.n_classes
    for name in SPLITS:
        src = getattr(ds, name)
        y = src.labels
        if len(y) == 0:
            raise DatasetError(f"{p}: the {name} split is empty")
        if y.min() < 0 or y.max() >= k:
            raise DatasetError(f"{p}: {name} labels must lie in [0, {k}) for {k} classes, "
                               f"found {int(y.min())}..{int(y.max())}")
        empty = np.flatnonzero(np.bincount(y, minlength=k) == 0)
        if len(empty):
            raise DatasetError(f"{p}: the {name} split has no samples of class "
                               f"{ds.meta.class_names[empty[0]]!r}")


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
