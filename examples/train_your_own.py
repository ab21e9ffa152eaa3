"""Train a lava-dl network your own way, then check its deployment with spiketime.

A notebook in script form (each `# %%` is a cell; VS Code and Jupytext run them as
cells). Nothing here is spiketime's training: the network is examples/lava_dl_network.py's
plain lava-dl class and the loop is ordinary torch. spiketime comes in at the end, with
the network still in memory: `spiketime.export` writes it as NetX for Lava / Loihi 2, and
`spiketime.testing.assert_parity` checks that the deployed network gives the trained one's
spikes and accuracy. tests/test_examples.py runs it on a tiny task:

    python examples/train_your_own.py --out runs/own --epochs 6
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import spiketime
from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset
from spiketime.testing import assert_parity

try:
    from examples.lava_dl_network import Network
except ImportError:  # run as a script from examples/
    from lava_dl_network import Network


def main(out: Path, epochs: int) -> None:
    # %% A dataset of your own: 6 channels, 50 steps, class 1 fires three times as often.
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y = np.arange(160) % 2
    X = (rng.random((160, 6, 50)) < np.where(y == 1, 0.15, 0.05)[:, None, None]).astype(np.uint8)
    meta = DatasetMeta(task="rate", variant="standard", dt_ms=1.0, class_names=("low", "high"))
    data = out / "data.h5"
    save_dataset(Dataset(Split(X[:80], y[:80]), Split(X[80:], y[80:]), meta), data)
    ds = spiketime.load_dataset(data)

    # %% Your network and your training loop: cross-entropy on output spike counts / 5.
    torch.manual_seed(0)
    net = Network(inputs=ds.channels, classes=ds.n_classes)
    X = torch.tensor(ds.train.X, dtype=torch.float32)
    y = torch.tensor(ds.train.y)
    net(X[:1])  # lava-dl sizes its neurons and delays in the first forward pass
    with torch.no_grad():  # lava-dl starts delays in U[0, 1), which all floor to 0
        for block in net.blocks:
            if block.delay is not None:
                block.delay.delay.uniform_(0, 10)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(epochs):
        for batch in torch.randperm(len(X)).split(16):
            loss = torch.nn.functional.cross_entropy(net(X[batch]).sum(-1) / 5, y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            for block in net.blocks:  # keep delays where Loihi 2 can hold them
                if block.delay is not None:
                    block.delay.clamp()
    net.eval()

    # %% Deploy it and check parity: the network in memory against its NetX file.
    netx = spiketime.export(net, out / "own.net")
    report = assert_parity(model=net, netx=netx, data=data, backends=["emulator"],
                           tolerance_pp=1.0)
    print(f"parity {report.verdict}: {len(report.rows)} conditions, report in "
          f"{report.save(out / 'parity')}")
    accuracy = np.mean(spiketime.run(netx, ds.test.X).output.sum(-1).argmax(1) == ds.test.y)
    print(f"deployed test accuracy {accuracy:.1%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/own"))
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    main(args.out, args.epochs)
