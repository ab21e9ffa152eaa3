"""Per-synapse delay recovery: a student learns a teacher's known integer delays.

A teacher, one layer of coincidence-detecting CUBA neurons (no current memory, voltage
decay 0.5, positive weights so two or three coincident inputs fire a neuron) with
integer per-synapse delays drawn from 0..max_delay, labels random Poisson inputs with
its output spike trains. A student with the teacher's weights (fixed) and random
delays learns only its delay positions, DCLS-style (spiketime.train.synaptic_delay),
from a loss on the exponentially filtered spike trains; then the learned integer
delays are compared with the teacher's.

    .venv/bin/python scripts/delay_recovery.py [--seeds 3] [--epochs 30] ...

prints, per seed, the share of delays within one step of the teacher's (and exactly
equal), before and after training. tests/test_synaptic_delays.py runs a short version.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from spiketime.train.model import ModelConfig, SpikingNet

FILTER_STEPS = 30  # the loss's exponential filter: support and time constant
FILTER_TAU = 5.0


@dataclass(frozen=True)
class Recovery:
    synapses: int
    initial_within_one: float  # share of delays within one step of the teacher's, at the start
    within_one: float  # ... after training
    exact: float  # share equal to the teacher's after training
    teacher_spikes: float  # output spikes per sample (the labels are not empty)


def _filtered(spikes: torch.Tensor) -> torch.Tensor:
    n, k, steps = spikes.shape
    kernel = torch.exp(-torch.arange(float(FILTER_STEPS)) / FILTER_TAU).flip(0).view(1, 1, -1)
    x = F.pad(spikes.reshape(n * k, 1, steps), (FILTER_STEPS - 1, 0))
    return F.conv1d(x, kernel).reshape(n, k, steps)


def recover(*, seed: int = 0, inputs: int = 8, outputs: int = 4, max_delay: int = 20,
            steps: int = 100, samples: int = 32, rate: float = 0.1, epochs: int = 10,
            batch: int = 8, lr: float = 0.5, sigma: float = 4.0, anneal: float = 1.0) -> Recovery:
    """Train a student's delays against a teacher's (see the module docstring)."""
    def config(s: int) -> ModelConfig:
        return ModelConfig(inputs, (), outputs, synaptic_delays=True, delay_init_max=max_delay,
                           delay_sigma=sigma, delay_anneal=anneal, current_decay=1.0,
                           voltage_decay=0.5, seed=s)

    teacher = SpikingNet(config(seed)).eval()
    g = torch.Generator().manual_seed(seed + 1000)
    truth = torch.randint(0, max_delay + 1, (outputs, inputs), generator=g)
    with torch.no_grad():
        weight = teacher.blocks[0].synapse.weight
        weight.copy_(0.2 + 0.2 * torch.rand(weight.shape, generator=g))
        teacher.blocks[0].synaptic_delay.position.copy_(truth.float())
    rng = np.random.default_rng(seed)
    X = torch.as_tensor((rng.random((samples, inputs, steps)) < rate).astype(np.float32))
    with torch.no_grad():
        target = _filtered(teacher(X))
        teacher_spikes = float(teacher(X).sum()) / samples

    student = SpikingNet(config(seed + 1))
    with torch.no_grad():
        student.blocks[0].synapse.weight.copy_(teacher.blocks[0].synapse.weight)
    delay = student.blocks[0].synaptic_delay
    initial = delay.steps()
    optimizer = torch.optim.Adam([delay.position], lr=lr)
    order = torch.Generator().manual_seed(seed)
    student.train()
    for epoch in range(epochs):
        student.on_epoch(epoch, epochs)
        if delay.exact:
            break  # annealed: positions are rounded and no longer learn
        for idx in torch.randperm(samples, generator=order).split(batch):
            loss = ((_filtered(student(X[idx])) - target[idx]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            student.clamp_delays()
    learned = delay.steps()
    return Recovery(
        synapses=truth.numel(),
        initial_within_one=float(((initial - truth).abs() <= 1).float().mean()),
        within_one=float(((learned - truth).abs() <= 1).float().mean()),
        exact=float((learned == truth).float().mean()),
        teacher_spikes=teacher_spikes)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--inputs", type=int, default=16)
    p.add_argument("--outputs", type=int, default=4)
    p.add_argument("--max-delay", type=int, default=40)
    p.add_argument("--samples", type=int, default=48)
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--sigma", type=float, default=8.0, help="initial Gaussian width, steps")
    args = p.parse_args()
    torch.set_num_threads(1)
    for seed in range(args.seeds):
        start = time.time()
        r = recover(seed=seed, inputs=args.inputs, outputs=args.outputs,
                    max_delay=args.max_delay, samples=args.samples, steps=args.steps,
                    epochs=args.epochs, sigma=args.sigma)
        print(f"seed {seed}: {r.synapses} synapses, delays 0..{args.max_delay}: within one step "
              f"{100 * r.initial_within_one:.1f}% -> {100 * r.within_one:.1f}%, exact "
              f"{100 * r.exact:.1f}% ({r.teacher_spikes:.0f} teacher spikes per sample, "
              f"{time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
