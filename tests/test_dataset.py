"""The dataset container, its validation and its HDF5 round trip."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from spiketime.data.dataset import (
    FORMAT,
    FORMAT_VERSION,
    Dataset,
    DatasetError,
    DatasetMeta,
    Split,
    load_dataset,
    save_dataset,
)
from spiketime.errors import UserError


def _split(n: int = 6, c: int = 3, t: int = 5, k: int = 2, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    X = (rng.random((n, c, t)) < 0.3).astype(np.uint8)
    return Split(X=X, y=(np.arange(n) % k).astype(np.int64))


def _meta(k: int = 2, **kw) -> DatasetMeta:
    base = dict(task="isi", variant="standard", dt_ms=1.0,
                class_names=[f"c{i}" for i in range(k)], seed=3,
                params={"steps": 5, "interval_range": [1, 4]})
    return DatasetMeta(**(base | kw))


def _dataset(**meta_kw) -> Dataset:
    return Dataset(train=_split(seed=1), test=_split(n=4, seed=2), meta=_meta(**meta_kw))


def test_round_trip_through_a_real_file(tmp_path):
    ds = _dataset()
    path = tmp_path / "d.h5"
    save_dataset(ds, path)
    back = load_dataset(path)
    for a, b in ((ds.train, back.train), (ds.test, back.test)):
        np.testing.assert_array_equal(a.X, b.X)
        np.testing.assert_array_equal(a.y, b.y)
        assert b.X.dtype == np.uint8 and b.y.dtype == np.int64
    assert back.meta == ds.meta
    assert (back.channels, back.steps, back.n_classes) == (3, 5, 2)


def test_file_layout_is_the_documented_one(tmp_path):
    path = tmp_path / "d.h5"
    save_dataset(_dataset(seed=None), path)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == FORMAT and f.attrs["format_version"] == FORMAT_VERSION
        assert f.attrs["seed"] == -1
        assert json.loads(f.attrs["class_names"]) == ["c0", "c1"]
        assert json.loads(f.attrs["params"])["interval_range"] == [1, 4]
        assert f["train/X"].compression == "gzip" and f["train/X"].dtype == np.uint8
        assert f["test/y"].dtype == np.int64
    assert load_dataset(path).meta.seed is None


@pytest.mark.parametrize("X, y, words", [
    (np.zeros((4, 3), np.uint8), np.zeros(4, np.int64), "(4, 3)"),
    (np.zeros((4, 3, 5), np.float32), np.zeros(4, np.int64), "float32"),
    (np.zeros((4, 3, 5), np.uint8), np.zeros(3, np.int64), "4 samples but y has 3"),
    (np.zeros((4, 3, 5), np.uint8), np.zeros(4, np.int32), "int32"),
    (np.full((4, 3, 5), 2, np.uint8), np.zeros(4, np.int64), "binary"),
])
def test_split_rejects_bad_arrays_with_shapes_in_the_message(X, y, words):
    with pytest.raises(DatasetError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Split(X=X, y=y)


def test_errors_are_user_errors_and_value_errors():
    with pytest.raises(UserError):
        Split(X=np.zeros((1, 1), np.uint8), y=np.zeros(1, np.int64))
    with pytest.raises(ValueError):
        Split(X=np.zeros((1, 1), np.uint8), y=np.zeros(1, np.int64))


def test_dataset_rejects_empty_class_out_of_range_and_mismatched_shapes():
    good = _split()
    with pytest.raises(DatasetError, match="no samples of class 'c2'"):
        Dataset(train=good, test=good, meta=_meta(k=3))
    bad_y = Split(X=good.X, y=np.full(len(good), 5, np.int64))
    with pytest.raises(DatasetError, match=r"\[0, 2\)"):
        Dataset(train=bad_y, test=good, meta=_meta())
    with pytest.raises(DatasetError, match="share"):
        Dataset(train=good, test=_split(t=7), meta=_meta())
    with pytest.raises(DatasetError, match="positive"):
        _meta(dt_ms=0.0)


def _corrupt(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)


def _replace(f, key, data):
    del f[key]
    f[key] = data


@pytest.mark.parametrize("edit, words", [
    (lambda f: f.attrs.__setitem__("format_version", 2), "format_version 2"),
    (lambda f: f.attrs.__setitem__("format", "netx"), "not a spiketime-dataset file"),
    (lambda f: _replace(f, "train/X", np.full((6, 3, 5), 3, np.uint8)), "binary"),
    (lambda f: _replace(f, "train/X", np.zeros((6, 3), np.uint8)), r"\(6, 3\)"),
    (lambda f: _replace(f, "train/y", np.zeros(6, np.int64)), "no samples of class 'c1'"),
    (lambda f: _replace(f, "test/y", np.full(4, 9, np.int64)), "labels must lie"),
    (lambda f: f.__delitem__("test"), "lacks the dataset test/X"),
])
def test_load_refuses_broken_files_in_one_sentence(tmp_path, edit, words):
    path = tmp_path / "d.h5"
    save_dataset(_dataset(), path)
    _corrupt(path, edit)
    with pytest.raises(DatasetError, match=words) as info:
        load_dataset(path)
    assert "\n" not in str(info.value)


def test_load_refuses_missing_and_non_hdf5_files(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "none.h5")
    text = tmp_path / "x.h5"
    text.write_text("not hdf5")
    with pytest.raises(DatasetError, match="not an HDF5 file"):
        load_dataset(text)


def test_save_leaves_no_file_when_writing_fails(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(UserError, match="cannot write .*disk full; nothing was written"):
        save_dataset(_dataset(), tmp_path / "d.h5")  # fileio words the OSError as one line
    assert list(tmp_path.iterdir()) == []
