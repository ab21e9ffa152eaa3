"""`torchrun --nproc-per-node 2 -m spiketime train`: data-parallel on two CPU processes (gloo).

The two ranks split every global batch and sum their gradients with all_reduce, so
they must reach the single-process run's model with the same global batch. Only the
order of floating-point additions differs, so the tolerance is stated: every
parameter within 1e-5 relative, 1e-6 absolute (torch.allclose; decays are held in
1/4096 units, so a difference of one float32 rounding at ~1,000 is 6e-5 absolute;
measured here: 1.5e-5 absolute on a decay, 5e-7 on weights and delays, after 2
epochs), the same per-epoch accuracies, losses within a relative 1e-6.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch
from support import spiketime
from test_train_resume import _data

from spiketime.train.model import read_checkpoint

RTOL, ATOL = 1e-5, 1e-6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_with_the_same_global_batch(tmp_path):
    data = _data(tmp_path / "d.h5")
    opts = ["train", "--data", data, "--hidden", "12,8", "--delays", "hidden", "--epochs", "2",
            "--batch-size", "16", "--threads", "1", "--delay-lr", "2", "--decay-lr", "20"]
    one = spiketime(*opts, "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    env = {k: v for k, v in os.environ.items() if k != "NXSDKHOST"} | {"CI": "1"}
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
         "-m", "spiketime", *map(str, opts), "--out", str(tmp_path / "two")],
        capture_output=True, text=True, timeout=600, env=env)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("trained ") == 1  # rank 0 alone reports
    a, b = read_checkpoint(tmp_path / "one" / "last.pt"), read_checkpoint(tmp_path / "two" /
                                                                           "last.pt")
    assert b["extra"]["world_size"] == 2
    for k in a["state"]:
        assert torch.allclose(a["state"][k], b["state"][k], rtol=RTOL, atol=ATOL), k
    for r1, r2 in zip(a["extra"]["history"], b["extra"]["history"], strict=True):
        for key in ("accuracy", "val_accuracy", "silent_fraction", "predicted_classes"):
            assert r1[key] == r2[key], key
        assert r2["loss"] == pytest.approx(r1["loss"], rel=1e-6)
