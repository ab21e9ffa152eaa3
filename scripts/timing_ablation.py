"""Scratch ablations behind docs/experiments.md: which training set-up learns cue-free timing.

A two-layer slayer CUBA network trained on a dataset file written by
`spiketime data generate` (or an .npz with Xtr, ytr, Xte, yte), printing train and
test accuracy per epoch. Unlike `spiketime train` it can put trainable delays on the
inputs (`--in-delay`, one delay per input channel, which the NetX export does not
carry) as well as after the hidden layer (`--hid-delay`), and it can use slayer's
SpikeMax (`--temp 0`) or the count loss. The accuracies are the trained network's
(slayer's forward pass); nothing here is exported or deployed.

    python scripts/timing_ablation.py data.h5 --epochs 25 --temp 1 --hid-delay 30
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def load(path: str) -> tuple[np.ndarray, ...]:
    if path.endswith(".npz"):
        d = np.load(path)
        return d["Xtr"], d["ytr"], d["Xte"], d["yte"]
    from spiketime.data.dataset import load_dataset

    ds = load_dataset(path)
    return ds.train.X, ds.train.y, ds.test.X, ds.test.y


def main() -> None:
    import lava.lib.dl.slayer as slayer

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--in-delay", type=float, default=0, help="input delays ~ U[0, x); 0: none")
    p.add_argument("--hid-delay", type=float, default=0, help="hidden delays ~ U[0, x); 0: none")
    p.add_argument("--cd", type=float, default=0.25, help="initial current decay")
    p.add_argument("--vd", type=float, default=0.03, help="initial voltage decay")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--delay-lr", type=float, default=0.1)
    p.add_argument("--decay-lr", type=float, default=0.3)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--th", type=float, default=1.0)
    p.add_argument("--temp", type=float, default=0, help="count-loss temperature; 0: SpikeMax")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="")
    a = p.parse_args()
    torch.set_num_threads(1)
    Xtr, ytr, Xte, yte = load(a.data)
    channels, classes = Xtr.shape[1], int(ytr.max()) + 1
    torch.manual_seed(a.seed)
    neuron = dict(threshold=a.th, current_decay=a.cd, voltage_decay=a.vd, tau_grad=1,
                  scale_grad=1, requires_grad=True)
    in_delay = None
    if a.in_delay:
        in_delay = slayer.axon.Delay(max_delay=62)
        in_delay.delay.data = torch.rand(channels) * a.in_delay
        in_delay.init = True
    b1 = slayer.block.cuba.Dense(neuron, channels, a.hidden, weight_scale=2,
                                 delay=bool(a.hid_delay))
    if a.hid_delay:
        b1.delay.delay.data = torch.rand(a.hidden) * a.hid_delay
        b1.delay.init = True
    b2 = slayer.block.cuba.Dense(neuron, a.hidden, classes, weight_scale=2)
    net = torch.nn.ModuleList([m for m in (in_delay, b1, b2) if m is not None])

    def forward(x: torch.Tensor) -> torch.Tensor:
        for m in net:
            x = m(x)
        return x

    groups: dict[str, list] = {"w": [], "decay": [], "delay": []}
    for name, param in net.named_parameters():
        kind = "delay" if name.endswith("delay") else "decay" if name.endswith("_decay") else "w"
        groups[kind].append(param)
    lrs = {"w": a.lr, "decay": a.decay_lr, "delay": a.delay_lr}
    opt = torch.optim.Adam([{"params": v, "lr": lrs[k]} for k, v in groups.items() if v])
    spikemax = slayer.loss.SpikeMax(mode="logsoftmax")

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if a.temp == 0:
            return spikemax(out, y)
        return torch.nn.functional.cross_entropy(out.sum(-1) / a.temp, y, reduction="sum")

    def accuracy(X: np.ndarray, y: np.ndarray) -> float:
        net.eval()
        with torch.no_grad():
            counts = torch.cat([forward(torch.as_tensor(X[i:i + 200], dtype=torch.float32))
                                .sum(-1) for i in range(0, len(X), 200)])
        net.train()
        return float((counts.argmax(1).numpy() == y).mean())  # ties: lowest index

    rng = np.random.default_rng(a.seed)
    Xt, yt = torch.as_tensor(Xtr, dtype=torch.float32), torch.as_tensor(ytr)
    t0, hist = time.time(), []
    for ep in range(a.epochs):
        order, total = rng.permutation(len(Xt)), 0.0
        for s in range(0, len(order), a.bs):
            idx = torch.as_tensor(order[s:s + a.bs])
            loss = loss_fn(forward(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            for m in net.modules():
                if isinstance(m, slayer.axon.Delay):
                    m.clamp()
            total += float(loss) * len(idx)
        hist.append(accuracy(Xte, yte))
        print(f"{a.tag} ep{ep + 1} loss {total / len(Xt):.3f} test {hist[-1]:.3f} "
              f"t {time.time() - t0:.0f}s", flush=True)
    print("RESULT", json.dumps({"args": vars(a), "final": hist[-1], "best": max(hist)}))


if __name__ == "__main__":
    main()
