"""Events files (dataset version 2): prepared without the dense array, read a batch at a time.

An events file must densify to exactly what the dense path gives, and training from
it must give the same model as training from the dense file.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from support import assert_one_line_error, call
from test_speech import shd  # noqa: F401  (the fixture: small files in the official layout)

from spiketime.train import dataset as dataset_module
from spiketime.train.dataset import load_dataset, open_dataset, save_dataset
from spiketime.train.model import read_checkpoint
from spiketime.train.speech import load_speech


@pytest.mark.parametrize("variant", ["whole", "part", "norm"])
def test_events_prepare_densifies_to_the_dense_prepare(shd, tmp_path, capsys,  # noqa: F811
                                                       variant):
    raw = shd[0]
    r = call(capsys, "data", "prepare", "--dataset", "shd", "--variant", variant, "--raw", raw,
             "--steps", "40", "--dt-ms", "5", "--seed", "3", "--storage", "events",
             "--out", tmp_path / "ev.h5")
    assert r.returncode == 0, r.stderr
    dense = load_speech(raw, "shd", variant, steps=40, dt_ms=5, seed=3)
    ev = load_dataset(tmp_path / "ev.h5")
    assert np.array_equal(ev.train.X, dense.train.X) and np.array_equal(ev.test.X, dense.test.X)
    assert np.array_equal(ev.train.y, dense.train.y)
    assert ev.meta == dense.meta  # late-spike counts included
    src = open_dataset(tmp_path / "ev.h5").train
    idx = np.array([7, 0, 19, 7])
    assert np.array_equal(src.batch(idx), dense.train.X[idx])


def test_training_from_events_equals_training_from_dense(shd, tmp_path, capsys):  # noqa: F811
    raw = shd[0]
    save_dataset(load_speech(raw, "shd", "part", steps=30, dt_ms=10), tmp_path / "dense.h5")
    assert call(capsys, "data", "prepare", "--dataset", "shd", "--variant", "part", "--raw", raw,
                "--steps", "30", "--dt-ms", "10", "--storage", "events",
                "--out", tmp_path / "ev.h5").returncode == 0
    for name in ("dense", "ev"):
        r = call(capsys, "train", "--data", tmp_path / f"{name}.h5", "--out", tmp_path / name,
                 "--hidden", "8", "--epochs", "1", "--batch-size", "8", "--threads", "1",
                 "--val-fraction", "0")
        assert r.returncode == 0, r.stderr
    a = read_checkpoint(tmp_path / "dense" / "last.pt")["state"]
    b = read_checkpoint(tmp_path / "ev" / "last.pt")["state"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_events_file_too_large_to_read_whole_is_one_line(shd, tmp_path, capsys,  # noqa: F811
                                                            monkeypatch):
    assert call(capsys, "data", "prepare", "--dataset", "shd", "--variant", "whole", "--raw",
                shd[0], "--steps", "20", "--storage", "events",
                "--out", tmp_path / "ev.h5").returncode == 0
    monkeypatch.setattr(dataset_module, "DENSE_LIMIT_BYTES", 1000)
    r = call(capsys, "data", "audit", tmp_path / "ev.h5")
    assert r.returncode == 2
    assert_one_line_error(r, "as events", "spiketime train reads it in batches")
