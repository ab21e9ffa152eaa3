"""Events files (dataset version 2): prepared without the dense array, read a batch at a time.

An events file must densify to exactly what the dense path gives; training from it
must give the same model as training from the dense file, and the audit, the
emulator's deploy and the trained-side evaluation, reading it a batch at a time,
the same results as from the dense file.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import assert_one_line_error, call, random_layer
from test_speech import shd  # noqa: F401  (the fixture: small files in the official layout)

from spiketime.data import audit
from spiketime.data import dataset as dataset_module
from spiketime.data.dataset import (
    DatasetError,
    EventSource,
    load_dataset,
    open_dataset,
    save_dataset,
)
from spiketime.data.speech import load_speech
from spiketime.export.netx import NetxNetwork, write_netx
from spiketime.parity.activity import measure
from spiketime.readout import predict
from spiketime.sim.emulator import EmulatorBackend
from spiketime.train.evaluate import run_trained, run_trained_layers
from spiketime.train.model import ModelConfig, SpikingNet, read_checkpoint


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
    with pytest.raises(DatasetError, match="as events"):
        load_dataset(tmp_path / "ev.h5")  # what compare and pipeline read through
    assert call(capsys, "data", "audit", tmp_path / "ev.h5").returncode == 0  # batches
    write_netx(_net(700, 20), tmp_path / "net.netx")
    r = call(capsys, "deploy", tmp_path / "net.netx", "--data", tmp_path / "ev.h5",
             "--backend", "lava-cpu")
    assert r.returncode == 2
    assert_one_line_error(r, "GB dense", "--backend emulator")


# --- the audit, the emulator's deploy and the trained-side evaluation, batch by batch ---


@pytest.fixture
def twins(shd, tmp_path, capsys):  # noqa: F811
    """The same SHD-layout data as a dense file and as an events file."""
    raw = shd[0]
    save_dataset(load_speech(raw, "shd", "whole", steps=30, dt_ms=10), tmp_path / "dense.h5")
    assert call(capsys, "data", "prepare", "--dataset", "shd", "--variant", "whole", "--raw",
                raw, "--steps", "30", "--dt-ms", "10", "--storage", "events",
                "--out", tmp_path / "ev.h5").returncode == 0
    return tmp_path / "dense.h5", tmp_path / "ev.h5"


def _net(inputs: int, outputs: int) -> NetxNetwork:
    rng = np.random.default_rng(5)
    neuron = dict(i_decay=1024, v_decay=512, vth=300, w=(-80, 198))
    return NetxNetwork((random_layer(rng, inputs, 16, delays=(0, 1, 2), **neuron),
                        random_layer(rng, 16, outputs, **neuron)))


def test_the_audit_of_an_events_file_equals_the_dense_audit(twins, capsys, monkeypatch):
    dense_path, ev_path = twins
    monkeypatch.setattr(audit, "AUDIT_BATCH", 7)  # batches that straddle the splits' ends
    dense, ev = load_dataset(dense_path), open_dataset(ev_path)
    X = np.concatenate([dense.train.X, dense.test.X])
    for features, expected in (
            (audit.count_features, X.sum(axis=2)),
            (audit.position_features, np.concatenate([
                np.where(X.any(axis=2), X.argmax(axis=2), X.shape[2]),
                np.where(X.any(axis=2), X.shape[2] - 1 - X[:, :, ::-1].argmax(axis=2), -1)],
                axis=1))):
        got, y = features(ev)
        assert got.dtype == np.float64 and np.array_equal(got, expected)
        assert np.array_equal(y, np.concatenate([dense.train.y, dense.test.y]))
        assert np.array_equal(features(dense)[0], got)
    runs = [call(capsys, "data", "audit", path, "--json", "--folds", "2",
                 "--reference-epochs", "2", "--reference-hidden", "8")
            for path in (dense_path, ev_path)]
    assert all(r.returncode == 0 for r in runs), runs[1].stderr
    a, b = (json.loads(r.stdout) for r in runs)
    assert a["reference"].pop("seconds") >= 0 and b["reference"].pop("seconds") >= 0
    assert {**a, "file": ""} == {**b, "file": ""}  # the reference trained on the same batches


def test_deploy_on_the_emulator_reads_an_events_file_in_batches(twins, tmp_path, capsys,
                                                                monkeypatch):
    dense_path, ev_path = twins
    netx = write_netx(_net(700, 20), tmp_path / "net.netx")
    ds = load_dataset(dense_path)
    whole = EmulatorBackend().run(netx, ds.test.X, hidden=True)
    assert whole.output.any()  # a network that fires, so the comparison means something
    seen = []
    batch = EventSource.batch
    monkeypatch.setattr(EventSource, "batch", lambda self, i: seen.append(len(i)) or
                        batch(self, i))
    monkeypatch.setattr(EmulatorBackend.__init__, "__defaults__", (6,))
    r = call(capsys, "deploy", netx, "--data", ev_path, "--backend", "emulator", "--json",
             "--allow-degenerate")
    assert r.returncode == 0, r.stderr
    assert seen == [6, 6, 6, 2]  # the test split, 6 samples at a time
    got = json.loads(r.stdout)
    correct = int((predict(whole.output) == ds.test.y).sum())
    assert got["correct"] == correct and got["samples"] == len(ds.test.y)
    assert got["activity"] == measure(whole.output, whole.hidden).to_dict()
    r = call(capsys, "deploy", netx, "--data", dense_path, "--backend", "emulator", "--json",
             "--allow-degenerate")
    assert {**json.loads(r.stdout), "data": ""} == {**got, "data": ""}
    r = call(capsys, "deploy", netx, "--data", ev_path, "--backend", "emulator", "--json",
             "--allow-degenerate", "--limit", "9")
    assert seen[-2:] == [6, 3] and json.loads(r.stdout)["samples"] == 9
    parts = list(EmulatorBackend().run_batches(netx, (ds.test.X[:7], ds.test.X[7:]),
                                               hidden=True))
    assert np.array_equal(np.concatenate([p.output for p in parts]), whole.output)
    for i, h in enumerate(whole.hidden):
        assert np.array_equal(np.concatenate([p.hidden[i] for p in parts]), h)


def test_deploy_names_a_channel_mismatch_in_one_line(twins, tmp_path, capsys):
    netx = write_netx(_net(699, 20), tmp_path / "net.netx")
    r = call(capsys, "deploy", netx, "--data", twins[1], "--backend", "emulator")
    assert r.returncode == 2
    assert_one_line_error(r, "700 channels", "699 inputs")


def test_the_trained_side_evaluates_an_events_split_as_the_dense_one(twins):
    dense, ev = load_dataset(twins[0]), open_dataset(twins[1])
    model = SpikingNet(ModelConfig(inputs=700, hidden=(8,), outputs=20, weight_scale=8.0))
    out = run_trained(model, dense.test.X)
    assert out.any()
    assert np.array_equal(run_trained(model, ev.test, batch_size=6), out)
    a_out, a_hidden = run_trained_layers(model, dense.test.X)
    b_out, b_hidden = run_trained_layers(model, ev.test, batch_size=6)
    assert np.array_equal(a_out, b_out) and np.array_equal(a_out, out)
    assert all(np.array_equal(a, b) for a, b in zip(a_hidden, b_hidden, strict=True))


def test_a_contiguous_batch_reads_as_the_per_sample_batches(twins):
    src = open_dataset(twins[1]).train
    dense = load_dataset(twins[0]).train.X
    assert np.array_equal(src.batch(np.arange(3, 17)), dense[3:17])  # one read
    assert np.array_equal(src.batch(np.array([16, 3, 9])), dense[[16, 3, 9]])  # one a sample
