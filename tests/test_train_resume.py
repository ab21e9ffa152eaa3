"""`spiketime train`: the run folder, resume after a real SIGKILL, and its one-line errors.

Resume is proved on real processes: one run goes uninterrupted; another is killed
with SIGKILL in the middle of an epoch (inside an optimizer step), resumed, killed
again half-way through writing a checkpoint, and resumed to the end. Both must end
with bit-identical parameters, optimizer state, random states and history.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from support import assert_one_line_error, call, spiketime

from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset
from spiketime.train.config import TrainConfig, lr_factor
from spiketime.train.model import ModelConfig, SpikingNet, load_checkpoint, read_checkpoint

# Runs `spiketime` after arranging its own SIGKILL: "step N" dies inside the N-th
# optimizer step, "save N" writes half of the N-th checkpoint, then dies.
KILLER = r"""
import io, os, signal, sys, torch
from spiketime.cli import main
mode, n, count = sys.argv[1], int(sys.argv[2]), [0]
if mode == "step":
    step = torch.optim.Adam.step
    def killing_step(self, *a, **k):
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return step(self, *a, **k)
    torch.optim.Adam.step = killing_step
else:
    save = torch.save
    def killing_save(obj, f, *a, **k):
        count[0] += 1
        if count[0] == n:
            buf = io.BytesIO(); save(obj, buf)
            with open(f, "wb") as out:
                out.write(buf.getvalue()[:len(buf.getvalue()) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return save(obj, f, *a, **k)
    torch.save = killing_save
sys.exit(main(sys.argv[3:]))
"""


def _data(path, n=60, channels=6, steps=30, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.random((n, channels, steps)) < 0.1).astype(np.uint8)
    y = (np.arange(n) % 2).astype(np.int64)
    X[y == 1, 0, :5] = 1  # something to learn
    meta = DatasetMeta(task="toy", variant="standard", dt_ms=1.0, class_names=["a", "b"])
    save_dataset(Dataset(Split(X, y), Split(X[:10], y[:10]), meta), path)
    return path


def _killed(*args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NXSDKHOST"} | {"CI": "1"}
    return subprocess.run([sys.executable, "-c", KILLER, *map(str, args)], capture_output=True,
                          text=True, timeout=600, env=env)


def _same_tree(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_tree(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_tree(x, y) for x, y in zip(a, b))
    return a == b


def test_a_run_killed_mid_epoch_and_mid_write_resumes_bit_identical(tmp_path):
    data = _data(tmp_path / "d.h5")
    opts = ["--data", data, "--hidden", "12,8", "--delays", "hidden", "--epochs", "3",
            "--batch-size", "16", "--checkpoint-every", "1", "--threads", "1",
            "--delay-lr", "2", "--decay-lr", "20", "--schedule", "cosine", "--channel-shift", "2"]
    whole = spiketime("train", *opts, "--out", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    cut = tmp_path / "cut"
    # 54 training samples (6 held out) in batches of 16: 4 steps per epoch, 12 in all
    first = _killed("step", 6, "train", *opts, "--out", cut)
    assert first.returncode == -signal.SIGKILL, first.stderr
    at = read_checkpoint(cut / "last.pt")["resume"]
    assert (at["epoch"], at["batch"]) == (1, 1)  # mid-epoch: epoch 2, after its first batch
    second = _killed("save", 3, "train", *opts, "--out", cut, "--resume")
    assert second.returncode == -signal.SIGKILL, second.stderr
    assert list(cut.glob(".last.pt.*.tmp")), "the write was not interrupted"
    third = spiketime("train", *opts, "--out", cut, "--resume")
    assert third.returncode == 0, third.stderr
    a, b = read_checkpoint(tmp_path / "whole" / "last.pt"), read_checkpoint(cut / "last.pt")
    assert _same_tree(a["state"], b["state"])  # weights, decays, delays
    assert _same_tree(a["resume"], b["resume"])  # optimizer, RNG states, position, history
    assert a["resume"]["epoch"] == 3 and a["extra"]["history"] == b["extra"]["history"]
    best_a = read_checkpoint(tmp_path / "whole" / "best.pt")
    assert _same_tree(best_a["state"], read_checkpoint(cut / "best.pt")["state"])
    assert (tmp_path / "whole" / "history.json").read_text() == (cut / "history.json").read_text()
    # the cosine schedule took its last step (11 of 12) at its last factor, in every group
    lrs = [g["lr"] for g in a["resume"]["optimizer"]["param_groups"]]
    factor = lr_factor(TrainConfig(schedule="cosine"), 11, 12)
    assert lrs == [base * factor for base in (0.003, 20.0, 2.0)]  # weights, decays, delays


def test_the_cosine_schedule_runs_from_the_full_step_towards_zero():
    cosine, constant = TrainConfig(schedule="cosine"), TrainConfig()
    assert lr_factor(cosine, 0, 100) == 1.0 and lr_factor(cosine, 50, 100) == pytest.approx(0.5)
    assert 0 < lr_factor(cosine, 99, 100) < 0.001
    assert {lr_factor(constant, s, 100) for s in (0, 50, 99)} == {1.0}


def test_run_folder_contents_and_export(tmp_path, capsys):
    data = _data(tmp_path / "d.h5")
    out = tmp_path / "run"
    r = call(capsys, "train", "--data", data, "--out", out, "--hidden", "8", "--epochs", "2",
             "--threads", "1", "--val-fraction", "0.2")
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} == {"best.pt", "last.pt", "history.json", "curve.png"}
    hist = read_checkpoint(out / "last.pt")["extra"]["history"]
    assert len(hist) == 2 and all("val_accuracy" in h for h in hist)
    assert sum(h["best"] for h in hist) >= 1
    r = call(capsys, "export", out / "best.pt", "--out", tmp_path / "m.net")
    assert r.returncode == 0 and "6-8-2 without delays" in r.stdout
    from spiketime.export.netx import read_netx

    net = read_netx(tmp_path / "m.net")
    assert net.metadata["task"]["name"] == "toy" and net.input_size == 6


def test_version_1_checkpoints_still_load(tmp_path):
    cfg = ModelConfig(inputs=4, hidden=(5,), outputs=2)
    model = SpikingNet(cfg)
    from dataclasses import asdict

    torch.save({"version": 1, "config": asdict(cfg), "state": model.state_dict(), "extra": {}},
               tmp_path / "v1.pt")
    loaded = load_checkpoint(tmp_path / "v1.pt")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    assert read_checkpoint(tmp_path / "v1.pt")["resume"] is None


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    data = _data(tmp / "d.h5")
    from spiketime.cli import main

    assert main(["train", "--data", str(data), "--out", str(tmp / "run"), "--hidden", "8",
                 "--epochs", "1", "--threads", "1"]) == 0
    return data, tmp / "run"


@pytest.mark.parametrize("args, fragments", [
    (["--resume"], ("no run to resume",)),
    (["--hidden", "9", "--resume", "@run"], ("6-8-2 without delays", "6-9-2")),
    (["--delays", "hidden", "--resume", "@run"], ("with delays",)),
    (["--lr", "0.1", "--resume", "@run"], ("lr",)),
    ([], ("already holds a run",)),
    (["--val-fraction", "1.5"], ("--val-fraction",)),
    (["--hidden", "0"], ("hidden",)),
    (["--device", "tpu"], ("device",)),
])
def test_bad_input_is_one_line(finished_run, tmp_path, capsys, args, fragments):
    data, run = finished_run
    out = run if ("@run" in args or not args) else tmp_path / "new"
    args = [a for a in args if a != "@run"]
    r = call(capsys, "train", "--data", data, "--out", out, "--hidden", "8", "--epochs", "1",
             "--threads", "1", *args)
    assert r.returncode == 2
    assert_one_line_error(r, *fragments)
    if out != run:
        assert not out.exists()


def test_export_refuses_what_is_not_a_checkpoint(tmp_path, capsys):
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    r = call(capsys, "export", tmp_path / "x.pt", "--out", tmp_path / "m.net")
    assert r.returncode == 2
    assert_one_line_error(r, "not a spiketime checkpoint")
    assert not (tmp_path / "m.net").exists()
