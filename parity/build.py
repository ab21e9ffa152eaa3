"""Train one model on a dataset and export it: the checkpoint and NetX file every job compares.

Shared by `spiketime pipeline` and `spiketime experiment`, so both write the same
metadata (model name, task, steps, classes, dt, training configuration) into the
checkpoint and the NetX file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spiketime.data.dataset import Dataset
from spiketime.data.sources import ArraySource
from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import write_netx
from spiketime.parity.delay_plot import plot_learned_delays
from spiketime.train.history import Epoch
from spiketime.train.model import ModelConfig, SpikingNet, load_checkpoint, save_checkpoint
from spiketime.train.run import FILES, metadata, train_run  # noqa: F401 (metadata re-exported)
from spiketime.train.trainer import TrainConfig

# what train_and_export writes in its folder (delays.png: for a model with delays)
BUILT_FILES = (*FILES, "model.pt", "model.net", "delays.png")


@dataclass(frozen=True)
class Built:
    name: str
    model: SpikingNet
    checkpoint: Path
    netx: Path
    history: list[Epoch]


def train_and_export(name: str, ds: Dataset, mcfg: ModelConfig, tcfg: TrainConfig,
                     folder: Path, desc: str | None = None, device: str = "cpu") -> Built:
    """Train `mcfg` on ds.train as `spiketime train` does (folder/best.pt, last.pt,
    history.json, curve.png), then write the exported model as folder/model.pt and
    folder/model.net: the best epoch's when tcfg.val_fraction holds out a validation
    split, else the last epoch's; for a model with delays, folder/delays.png (initial vs
    final delays)."""
    meta = metadata(name, ds, mcfg, tcfg)
    run = train_run(ArraySource(ds.train.X, ds.train.y), mcfg, tcfg, folder, meta=meta,
                    overwrite=True, device=device, desc=desc or f"train {name}")
    model, history = run.model, run.history
    if tcfg.val_fraction > 0:
        model = load_checkpoint(run.best)
        meta["epoch"] = run.best_epoch
    ckpt = save_checkpoint(model, folder / "model.pt",
                           extra={"history": [r.to_dict() for r in history], **meta})
    netx = write_netx(to_netx(model, meta), folder / "model.net")
    plot_learned_delays({name: model}, folder / "delays.png")
    return Built(name, model, ckpt, netx, history)
