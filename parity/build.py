"""Train one model on a dataset and export it: the checkpoint and NetX file every job compares.

Shared by `spiketime pipeline` and `spiketime experiment`, so both write the same
metadata (model name, task, steps, classes, dt, training configuration) into the
checkpoint and the NetX file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import write_netx
from spiketime.train.dataset import Dataset
from spiketime.train.model import ModelConfig, SpikingNet, save_checkpoint
from spiketime.train.trainer import TrainConfig, train


@dataclass(frozen=True)
class Built:
    name: str
    model: SpikingNet
    checkpoint: Path
    netx: Path
    history: list[dict]


def metadata(name: str, ds: Dataset, mcfg: ModelConfig, tcfg: TrainConfig) -> dict:
    """What the checkpoint and the NetX file say about where the model came from."""
    return {"model": name, "task": {"name": ds.meta.task, "variant": ds.meta.variant,
                                    "params": ds.meta.params},
            "steps": ds.steps, "classes": ds.meta.class_names, "dt_ms": ds.meta.dt_ms,
            "training": {"model": asdict(mcfg), "trainer": asdict(tcfg)}}


def train_and_export(name: str, ds: Dataset, mcfg: ModelConfig, tcfg: TrainConfig,
                     folder: Path, desc: str | None = None) -> Built:
    """Train `mcfg` on ds.train, then write folder/model.pt and folder/model.net."""
    model = SpikingNet(mcfg)
    history = train(model, ds.train.X, ds.train.y, tcfg, desc=desc or f"train {name}")
    meta = metadata(name, ds, mcfg, tcfg)
    ckpt = save_checkpoint(model, folder / "model.pt", extra={"history": history, **meta})
    netx = write_netx(to_netx(model, meta), folder / "model.net")
    return Built(name, model, ckpt, netx, history)
