"""A network trained with lava-dl its own way, brought in by `--model-factory`.

The worked example (examples/lava_dl_network.py, docs/train.md): a lava-dl Network
with delays, exported by lava-dl's own `export_hdf5`, compared by `spiketime compare`
through the factory; and `spiketime export --model-factory` writes the same integers.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support import assert_one_line_error, call

from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset
from spiketime.export.netx import read_netx

ROOT = Path(__file__).resolve().parents[1]
FACTORY = "examples.lava_dl_network:trained"


@pytest.fixture()
def lava_dl_run(tmp_path, monkeypatch):
    """A trained-looking lava-dl network: weights saved, NetX written by lava-dl itself."""
    monkeypatch.chdir(ROOT)
    from examples.lava_dl_network import Network

    torch.manual_seed(0)
    net = Network()
    net(torch.zeros(1, 6, 10))  # lava-dl sizes neurons and delays in a first forward pass
    with torch.no_grad():
        for block in net.blocks:
            block.synapse.weight.mul_(3)
            if block.delay is not None:  # lava-dl starts delays in U[0, 1): give them some
                block.delay.delay.copy_(torch.randint(0, 12, block.delay.delay.shape).float())
    torch.save(net.state_dict(), tmp_path / "trained.pt")
    monkeypatch.setenv("LAVA_DL_WEIGHTS", str(tmp_path / "trained.pt"))
    net.export_hdf5(str(tmp_path / "net.net"))
    rng = np.random.default_rng(0)
    X = (rng.random((40, 6, 40)) < 0.2).astype(np.uint8)
    y = (np.arange(40) % 2).astype(np.int64)
    meta = DatasetMeta(task="toy", variant="standard", dt_ms=1.0, class_names=["a", "b"])
    save_dataset(Dataset(Split(X, y), Split(X, y), meta), tmp_path / "d.h5")
    return tmp_path


def test_compare_runs_a_lava_dl_network_through_its_factory(lava_dl_run, capsys):
    tmp = lava_dl_run
    r = call(capsys, "compare", "--model-factory", FACTORY, "--netx", tmp / "net.net",
             "--data", tmp / "d.h5", "--backends", "emulator", "--jitter", "none",
             "--neuron-jitter", "none", "--deletion", "none", "--resamples", "100",
             "--allow-degenerate", "--out", tmp / "cmp")
    assert r.returncode in (0, 3), r.stderr  # 3: an untrained net may sit at chance
    report = json.loads((tmp / "cmp" / "report.json").read_text())
    rows = report["conditions"]
    assert rows and all(row["spike_exact_fraction"] == 1.0 for row in rows)
    assert report["models"][0]["checkpoint"] == f"factory {FACTORY}"


def test_export_through_the_factory_matches_lava_dls_own_export(lava_dl_run, capsys):
    tmp = lava_dl_run
    r = call(capsys, "export", "--model-factory", FACTORY, "--out", tmp / "ours.net")
    assert r.returncode == 0, r.stderr
    ours, theirs = read_netx(tmp / "ours.net"), read_netx(tmp / "net.net")
    for a, b in zip(ours.layers, theirs.layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and a.neuron == b.neuron
        assert (a.delay is None) == (b.delay is None)
        if a.delay is not None:
            assert np.array_equal(a.delay, b.delay) and a.delay.max() > 0


@pytest.mark.parametrize("factory, fragment", [
    ("nocolon", "package.module:function"),
    ("no_such_module_xyz:f", "cannot import"),
    ("examples.lava_dl_network:missing", "no function missing"),
    ("examples.lava_dl_network:Network", "has no `blocks`"),
])
def test_bad_factories_are_one_line(tmp_path, capsys, monkeypatch, factory, fragment):
    monkeypatch.chdir(ROOT)
    if factory.endswith(":Network"):  # returns a module, but a class with blocks: make it not
        import examples.lava_dl_network as ex

        monkeypatch.setattr(ex, "Network", lambda: torch.nn.Linear(2, 2))
    r = call(capsys, "export", "--model-factory", factory, "--out", tmp_path / "m.net")
    assert r.returncode == 2
    assert_one_line_error(r, fragment)
    assert not (tmp_path / "m.net").exists()
