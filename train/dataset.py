"""The dataset container and its HDF5 file format.

A dataset is two splits of dense binary spike trains, X uint8 [N, C, T] in SLAYER's
NCT order with labels y int64 [N], plus metadata saying how it was made. On disk
(format "spiketime-dataset", version 1):

    attrs:  format, format_version, task, variant, dt_ms,
            class_names (JSON list), seed (-1 for None), params (JSON object)
    train/X uint8 [N, C, T] (gzip), train/y int64 [N]
    test/X  uint8 [N, C, T] (gzip), test/y  int64 [N]

Validation raises `DatasetError`, a `UserError` (one line on the CLI) that is also a
`ValueError` for library callers.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from spiketime.errors import UserError
from spiketime.fileio import atomic_path

FORMAT = "spiketime-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "test")


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
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["task"] = ds.meta.task
            f.attrs["variant"] = ds.meta.variant
            f.attrs["dt_ms"] = float(ds.meta.dt_ms)
            f.attrs["class_names"] = json.dumps(list(ds.meta.class_names))
            f.attrs["seed"] = -1 if ds.meta.seed is None else int(ds.meta.seed)
            f.attrs["params"] = json.dumps(ds.meta.params)
            for name, split in ds.splits().items():
                g = f.create_group(name)
                chunks = (1, *split.X.shape[1:]) if split.X.size else None
                g.create_dataset("X", data=split.X, compression="gzip", chunks=chunks)
                g.create_dataset("y", data=split.y)


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Read a dataset file; any problem is one `DatasetError` sentence naming the file."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"dataset file {p} does not exist")
    if not h5py.is_hdf5(p):
        raise DatasetError(f"{p} is not an HDF5 file (expected a {FORMAT} file)")
    try:
        with h5py.File(p, "r") as f:
            return _read(f, p)
    except DatasetError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DatasetError(f"{p} is not a readable {FORMAT} file: {exc}") from None


def _read(f: h5py.File, p: Path) -> Dataset:
    fmt = _text(f.attrs.get("format", ""))
    if fmt != FORMAT:
        raise DatasetError(f"{p} is not a {FORMAT} file (format attribute {fmt!r})")
    version = f.attrs.get("format_version")
    if version is None or int(version) != FORMAT_VERSION:
        raise DatasetError(
            f"{p} has format_version {version}, this spiketime reads version {FORMAT_VERSION}")
    for name in SPLITS:
        for key in ("X", "y"):
            if f"{name}/{key}" not in f:
                raise DatasetError(f"{p} lacks the dataset {name}/{key}")
    seed = int(f.attrs["seed"])
    meta = DatasetMeta(
        task=_text(f.attrs["task"]),
        variant=_text(f.attrs["variant"]),
        dt_ms=float(f.attrs["dt_ms"]),
        class_names=[str(c) for c in json.loads(_text(f.attrs["class_names"]))],
        seed=None if seed < 0 else seed,
        params=json.loads(_text(f.attrs["params"])),
    )
    splits = {}
    for name in SPLITS:
        try:
            splits[name] = Split(X=f[name]["X"][()], y=f[name]["y"][()])
        except DatasetError as exc:
            raise DatasetError(f"{p}: {name}: {exc}") from None
    try:
        return Dataset(train=splits["train"], test=splits["test"], meta=meta)
    except DatasetError as exc:
        raise DatasetError(f"{p}: {exc}") from None


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
