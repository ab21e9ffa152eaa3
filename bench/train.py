"""Training throughput: forward + backward time per sample-step of the speech network.

    .venv/bin/python bench/train.py [--json] [--batch 32] [--steps 250] [--repeats 3]
                                    [--device cpu|cuda|all] [--threads N]

Network: 700 -> 128 -> 128 -> 20 CUBA (spiketime's SpikingNet, i.e. slayer
cuba.Dense blocks), with and without trainable delays after both hidden layers;
inputs Bernoulli at 5% density (SHD binned to 250 steps of 4 ms has about that).
One timed unit is one training step as `spiketime train` does it: forward pass,
count loss, backward pass, Adam step (the step is timed apart too). Beside it, in
the same run, slayer's own blocks on their own: one cuba.Dense 700 -> 128 (with and
without its delay) forward + backward on the same input, so the network's figure
can be read against the block-level cost. Each figure is the median of `repeats`
timed steps after one warm-up. `shd_epoch_seconds`: one epoch of SHD's 8,156
training samples at this batch, from the measured per-batch time. CUDA rows appear
when a GPU is present. Not part of the test run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import torch

from spiketime.train.model import ModelConfig, SpikingNet
from spiketime.train.trainer import TrainConfig, _param_groups, loss_function

SHD_TRAIN_SAMPLES = 8156


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device, repeats: int) -> float:
    fn()  # warm-up
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_network(delays: bool, device: torch.device, batch: int, steps: int,
                  repeats: int) -> dict:
    model = SpikingNet(ModelConfig(inputs=700, hidden=(128, 128), outputs=20, delays=delays))
    model.to(device).train()
    cfg = TrainConfig(loss="count")
    loss_fn, opt = loss_function(cfg), torch.optim.Adam(_param_groups(model, cfg))
    rng = np.random.default_rng(0)
    x = torch.as_tensor((rng.random((batch, 700, steps)) < 0.05).astype(np.float32),
                        device=device)
    y = torch.as_tensor(rng.integers(0, 20, batch), device=device)

    def fwd_bwd():
        opt.zero_grad()
        loss_fn(model(x), y).backward()

    def step():
        fwd_bwd()
        opt.step()
        model.clamp_delays()

    t_fb = _time(fwd_bwd, device, repeats)
    t_step = _time(step, device, repeats)
    per = batch * steps
    return {"network": "700-128-128-20", "delays": delays, "device": device.type,
            "batch": batch, "steps": steps, "fwd_bwd_s": t_fb, "train_step_s": t_step,
            "us_per_sample_step": 1e6 * t_fb / per,
            "shd_epoch_seconds": t_step * -(-SHD_TRAIN_SAMPLES // batch)}


def bench_block(delay: bool, device: torch.device, batch: int, steps: int, repeats: int) -> dict:
    import lava.lib.dl.slayer as slayer

    neuron = dict(threshold=1.0, current_decay=0.25, voltage_decay=0.03, tau_grad=1.0,
                  scale_grad=1.0, requires_grad=True)
    block = slayer.block.cuba.Dense(neuron, 700, 128, weight_scale=2, delay=delay).to(device)
    rng = np.random.default_rng(0)
    x = torch.as_tensor((rng.random((batch, 700, steps)) < 0.05).astype(np.float32),
                        device=device)

    def fwd_bwd():
        block.zero_grad()
        block(x).sum().backward()

    t = _time(fwd_bwd, device, repeats)
    return {"block": "slayer cuba.Dense 700-128", "delay": delay, "device": device.type,
            "fwd_bwd_s": t, "us_per_sample_step": 1e6 * t / (batch * steps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    rows, blocks = [], []
    for device in devices:
        for delays in (False, True):
            rows.append(bench_network(delays, device, args.batch, args.steps, args.repeats))
            blocks.append(bench_block(delays, device, args.batch, args.steps, args.repeats))
    result = {"machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                          "torch": torch.__version__, "python": platform.python_version(),
                          "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available()
                          else None},
              "networks": rows, "blocks": blocks}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"batch {args.batch}, T = {args.steps}, {torch.get_num_threads()} torch threads")
    for r in rows:
        print(f"{r['network']} {'with' if r['delays'] else 'without':>7} delays on "
              f"{r['device']}: forward+backward {r['us_per_sample_step']:.2f} us per "
              f"sample-step ({r['fwd_bwd_s']:.3f} s a batch; with the Adam step "
              f"{r['train_step_s']:.3f} s); one SHD epoch ({SHD_TRAIN_SAMPLES} samples) "
              f"{r['shd_epoch_seconds']:.0f} s")
    for b in blocks:
        print(f"{b['block']} {'with' if b['delay'] else 'without':>7} delay on {b['device']}: "
              f"forward+backward {b['us_per_sample_step']:.2f} us per sample-step")


if __name__ == "__main__":
    main()
