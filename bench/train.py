"""Training throughput: a training step against the dense floor of the same shapes, one run.

    .venv/bin/python bench/train.py [--json] [--batch 32] [--steps 250] [--repeats 5]
                                    [--device cpu|cuda|all] [--threads N] [--synaptic]

Network: 700 -> 128 -> 128 -> 20 CUBA (spiketime's SpikingNet), with and without
trainable delays after both hidden layers (with --synaptic also per-synapse delays on
every layer, `synaptic_width` 4 steps, as annealing starts, and 0, whole steps once
annealed; train/synaptic_delay.py); inputs Bernoulli at 5% density (SHD
binned to 250 steps of 4 ms has about that). One timed unit is what `spiketime train`
does per batch: forward pass, count loss, backward pass, Adam step. Each network is
timed on both kernel paths (`compiled`: train/kernels.py; `slayer`: slayer's own
blocks, SPIKETIME_KERNELS=slayer), interleaved so the machine's load falls on both.
The dense floor, in the same run: three plain matrix products of the same shapes
(700->128->128->20 on time-major [batch * T, features]), forward and backward, no
neuron dynamics, no delays, no input gradient. Each figure is the median of
`repeats` timed steps after three warm-up steps (numba's and torch's first calls are
slower); the load average is printed beside every figure, and `ratio_to_floor` is
the network's time over the floor's. `shd_epoch_seconds`: one epoch of SHD's 8,156
training samples at this batch. CUDA rows (slayer's CUDA path) appear when a GPU is
present. Not part of the test run.
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

from spiketime.train import kernels
from spiketime.train.model import ModelConfig, SpikingNet
from spiketime.train.trainer import TrainConfig, _param_groups, loss_function

SHD_TRAIN_SAMPLES = 8156
SIZES = (700, 128, 128, 20)
WARMUP = 3
SYNAPTIC_WIDTHS = (4.0, 0.0)  # --synaptic: the Gaussian's start (a 25-tap window), annealed


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_once(fn, device) -> tuple[float, float]:
    """(seconds of one call, the 1-minute load average after it)."""
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start, os.getloadavg()[0]


def _inputs(device: torch.device, batch: int, steps: int):
    rng = np.random.default_rng(0)
    x = torch.as_tensor((rng.random((batch, SIZES[0], steps)) < 0.05).astype(np.float32),
                        device=device)
    return x, torch.as_tensor(rng.integers(0, SIZES[-1], batch), device=device)


def network_step(delays: bool, mode: str, device: torch.device, batch: int, steps: int,
                 synaptic_width: float | None = None):
    """One training step of the speech network on kernel path `mode`, as a closure;
    `synaptic_width` (steps; 0: annealed, whole steps): per-synapse delays instead."""
    previous = os.environ.get(kernels.ENV)
    os.environ[kernels.ENV] = mode  # read when the model is built
    try:
        model = SpikingNet(ModelConfig(inputs=SIZES[0], hidden=SIZES[1:-1], outputs=SIZES[-1],
                                       delays=delays and synaptic_width is None,
                                       synaptic_delays=synaptic_width is not None))
    finally:
        if previous is None:
            del os.environ[kernels.ENV]
        else:
            os.environ[kernels.ENV] = previous
    model.to(device).train()
    if synaptic_width is not None:
        for block in model.blocks:
            block.synaptic_delay.sigma.fill_(synaptic_width)
    cfg = TrainConfig(loss="count")
    loss_fn, opt = loss_function(cfg), torch.optim.Adam(_param_groups(model, cfg))
    x, y = _inputs(device, batch, steps)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        model.clamp_delays()

    return step


def floor_step(device: torch.device, batch: int, steps: int):
    """Three plain matrix products of the network's shapes, forward and backward."""
    torch.manual_seed(0)
    weights = [(torch.randn(n_out, n_in, device=device) / n_in ** 0.5).requires_grad_()
               for n_in, n_out in zip(SIZES, SIZES[1:])]
    x, _ = _inputs(device, batch, steps)
    x = x.transpose(1, 2).reshape(-1, SIZES[0]).contiguous()

    def step():
        h = x
        for w in weights:
            w.grad = None
            h = torch.nn.functional.linear(h, w)
        h.sum().backward()

    return step


def bench_device(device: torch.device, batch: int, steps: int, repeats: int,
                 synaptic: bool = False) -> tuple:
    modes = kernels.MODES if device.type == "cpu" else ("slayer",)  # CUDA: slayer's own
    steps_by_key = {("floor", None, None): floor_step(device, batch, steps)}
    kinds = [(False, None), (True, None)] + ([(True, w) for w in SYNAPTIC_WIDTHS] if synaptic
                                             else [])
    for delays, width in kinds:
        for mode in modes:
            steps_by_key[(mode, delays, width)] = network_step(delays, mode, device, batch,
                                                               steps, width)
    for fn in steps_by_key.values():
        for _ in range(WARMUP):
            fn()
    timed = {key: [] for key in steps_by_key}
    for _ in range(repeats):  # interleaved: any load falls on every path alike
        for key, fn in steps_by_key.items():
            timed[key].append(_time_once(fn, device))
    per = batch * steps
    floor_s = statistics.median(t for t, _ in timed[("floor", None, None)])
    floor = {"device": device.type, "batch": batch, "steps": steps,
             "fwd_bwd_s": floor_s, "us_per_sample_step": 1e6 * floor_s / per,
             "load_avg": [round(load, 2) for _, load in timed[("floor", None, None)]]}
    rows = []
    for (mode, delays, width), samples in timed.items():
        if mode == "floor":
            continue
        seconds = statistics.median(t for t, _ in samples)
        rows.append({"network": "-".join(map(str, SIZES)), "delays": delays,
                     "delay_kind": "synapses" if width is not None
                     else ("axonal" if delays else "none"),
                     "synaptic_width": width, "kernels": mode,
                     "device": device.type, "batch": batch, "steps": steps,
                     "train_step_s": seconds, "us_per_sample_step": 1e6 * seconds / per,
                     "ratio_to_floor": seconds / floor_s,
                     "shd_epoch_seconds": seconds * -(-SHD_TRAIN_SAMPLES // batch),
                     "load_avg": [round(load, 2) for _, load in samples]})
    return rows, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--synaptic", action="store_true",
                        help="also per-synapse delays (widths "
                        f"{', '.join(map(str, SYNAPTIC_WIDTHS))}; slayer's path is slow)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    rows, floors = [], []
    for device in devices:
        device_rows, floor = bench_device(device, args.batch, args.steps, args.repeats,
                                           args.synaptic)
        rows += device_rows
        floors.append(floor)
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    result = {"machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                          "torch": torch.__version__, "python": platform.python_version(),
                          "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available()
                          else None, "load_avg_at_end": list(os.getloadavg()), "date": date},
              "networks": rows, "dense_floor": floors}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{date}; batch {args.batch}, T = {args.steps}, {torch.get_num_threads()} torch threads, "
          f"median of {args.repeats} after {WARMUP} warm-up steps")
    for f in floors:
        print(f"dense floor on {f['device']}: {f['us_per_sample_step']:.2f} us per sample-step "
              f"(load {f['load_avg']})")
    for r in rows:
        kind = (f"per-synapse delays, width {r['synaptic_width']:g},"
                if r["synaptic_width"] is not None
                else f"{'with' if r['delays'] else 'without':>7} delays,")
        print(f"{r['network']} {kind} "
              f"{r['kernels']:>8} kernels on {r['device']}: {r['us_per_sample_step']:.2f} us per "
              f"sample-step, {r['ratio_to_floor']:.2f}x the floor; one SHD epoch "
              f"{r['shd_epoch_seconds']:.0f} s (load {r['load_avg']})")


if __name__ == "__main__":
    main()
