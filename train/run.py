"""A training run in a folder: best.pt, last.pt, history.json and curve.png, resumable.

    last.pt       the model after the latest epoch (or mid-epoch resume point) with the
                  trainer's full state: optimizer, random states, data position
    best.pt       the model of the epoch with the best validation accuracy (the
                  training accuracy when no validation split is held out)
    history.json  one record per epoch, the configuration, the best epoch (every epoch)
    curve.png     loss and accuracy per epoch, training and validation (at the end)

Every file is written atomically, best.pt before last.pt: a run killed at any moment,
even inside a write, leaves a last.pt from which `resume=True` continues to the same
model, bit for bit, that an uninterrupted run reaches (same seed, same thread count,
same device; `tests/test_train_resume.py` kills a real process to show it).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from spiketime import guards
from spiketime.data.sources import Source, fingerprint
from spiketime.errors import UserError
from spiketime.fileio import atomic_path, write_text
from spiketime.train.distributed import Comm
from spiketime.train.history import Epoch, best_epoch
from spiketime.train.model import (
    ModelConfig,
    SpikingNet,
    architecture,
    config_of,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from spiketime.train.trainer import Resume, TrainConfig, fit

HISTORY_VERSION = 1
FILES = ("best.pt", "last.pt", "history.json", "curve.png")
# Trainer settings a resumed run may change: only how long it goes on and how often
# it saves. Anything else would make the result differ from an uninterrupted run.
RESUMABLE_CHANGES = ("epochs", "checkpoint_every")


@dataclass(frozen=True)
class RunResult:
    model: SpikingNet  # the last epoch's model (in memory, eval mode)
    history: list[Epoch]
    best: Path
    last: Path
    best_epoch: int


def resolve_device(name: str, comm: Comm | None = None) -> torch.device:
    """auto: CUDA when present, else the CPU; under torchrun, this rank's GPU."""
    if name not in ("auto", "cpu", "cuda"):
        raise UserError(f"unknown device {name!r}; choose auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available to this torch "
                        f"({torch.__version__}); use --device cpu or auto")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def training_bytes(mcfg: ModelConfig, tcfg: TrainConfig, steps: int) -> float:
    """A lower bound on a training step's memory: the float32 input batch, and per layer
    the four [batch, neurons, steps] tensors slayer keeps for the backward pass (synaptic
    input, current, voltage, spikes)."""
    neurons = sum(mcfg.hidden) + mcfg.outputs
    return 4.0 * tcfg.batch_size * steps * (mcfg.inputs + 4 * neurons)


def metadata(name: str, ds, mcfg: ModelConfig, tcfg: TrainConfig) -> dict:
    """What the checkpoint and the NetX file say about where the model came from: the
    run metadata `train`, `pipeline`, the grid and the Python API all write (`ds` is a
    Dataset or an OpenDataset)."""
    return {"model": name, "task": {"name": ds.meta.task, "variant": ds.meta.variant,
                                    "params": ds.meta.params},
            "steps": ds.steps, "classes": ds.meta.class_names, "dt_ms": ds.meta.dt_ms,
            "training": {"model": asdict(mcfg), "trainer": asdict(tcfg)}}


def train_run(source: Source, mcfg: ModelConfig, tcfg: TrainConfig, out: str | os.PathLike, *,
              meta: dict | None = None, resume: bool = False, overwrite: bool = False,
              device: torch.device | str = "cpu", comm: Comm | None = None,
              desc: str = "train") -> RunResult:
    """Train `mcfg` on `source` into the folder `out` (see the module docstring).

    `meta` (task, steps, classes, ...) goes into every checkpoint, for export. Without
    `resume`, a folder that already holds a run is refused unless `overwrite`."""
    out, comm = Path(out), comm or Comm()
    last, best = out / "last.pt", out / "best.pt"
    if mcfg.inputs != source.channels:
        raise UserError(f"the data has {source.channels} channels but the network's input is "
                        f"{mcfg.inputs} wide ({architecture(mcfg)})")
    guards.memory(training_bytes(mcfg, tcfg, source.steps),
                  f"training {architecture(mcfg)} on batches of {tcfg.batch_size} samples x "
                  f"{source.steps} steps")
    state, data_id = None, fingerprint(source)
    if resume:
        state = _resume_state(last, mcfg, tcfg, data_id)
    elif last.exists() and not overwrite:
        raise UserError(f"{out} already holds a run (last.pt); pass --resume to continue it "
                        f"or choose another --out")
    model = load_checkpoint(last, expect=mcfg) if state is not None else SpikingNet(mcfg)
    extra = {**(meta or {}), "training": {"model": asdict(mcfg), "trainer": asdict(tcfg)},
             "threads": torch.get_num_threads(), "world_size": comm.world,
             "data_fingerprint": data_id}
    if state is not None and state.epoch >= tcfg.epochs:
        _note(comm, f"{last} has finished all {tcfg.epochs} epochs; nothing to resume")
        return RunResult(model, state.history, best, last, best_epoch(state.history))

    def on_checkpoint(st: Resume, record: Epoch | None) -> None:
        if not comm.is_main:
            return
        history = [r.to_dict() for r in st.history]  # as checkpoints have always held it
        if record is not None and record.best:
            save_checkpoint(model, best, extra={**extra, "history": history, "epoch": st.epoch})
        save_checkpoint(model, last, extra={**extra, "history": history, "epoch": st.epoch},
                        resume=st.to_dict())
        if record is not None:
            write_history(out, st.history, mcfg, tcfg, curve=st.epoch == tcfg.epochs)

    if comm.is_main:
        out.mkdir(parents=True, exist_ok=True)
    history = fit(model, source, tcfg, desc=desc, device=device, comm=comm, resume=state,
                  on_checkpoint=on_checkpoint)
    model.to("cpu")
    comm.barrier()  # every rank returns after rank 0 has written the final files
    return RunResult(model, history, best, last, best_epoch(history))


def _note(comm: Comm, message: str) -> None:
    if comm.is_main:
        print(f"[spiketime] {message}", file=sys.stderr, flush=True)


# what the recipe fills (train/config.py RECIPES) must match too: runs begun before it
RECIPE_HINT = " and --recipe (a run begun before --recipe existed: --recipe base)"


def _resume_state(last: Path, mcfg: ModelConfig, tcfg: TrainConfig, data_id: str) -> Resume:
    """The saved trainer state, after checking that the run is the one asked for."""
    if not last.is_file():
        raise UserError(f"--resume: there is no run to resume in {last.parent} (no last.pt)")
    data = read_checkpoint(last)
    saved = config_of(data, last)
    if (saved.inputs, saved.hidden, saved.outputs, saved.delays) != (
            mcfg.inputs, mcfg.hidden, mcfg.outputs, mcfg.delays):
        raise UserError(f"--resume: {last} holds a {architecture(saved)} network, not the "
                        f"{architecture(mcfg)} asked for{RECIPE_HINT}")
    if data.get("resume") is None:
        raise UserError(f"--resume: {last} has no trainer state (a checkpoint from before "
                        f"resumable runs, or not a run's last.pt)")
    if saved != mcfg:
        diff = [f.name for f in fields(ModelConfig) if getattr(saved, f.name)
                != getattr(mcfg, f.name)]
        raise UserError(f"--resume: the model settings differ from the saved run's "
                        f"({', '.join(diff)}); resume with the same options{RECIPE_HINT}")
    trainer = data["extra"].get("training", {}).get("trainer", {})
    diff = [f.name for f in fields(TrainConfig) if f.name not in RESUMABLE_CHANGES
            and f.name in trainer and trainer[f.name] != getattr(tcfg, f.name)]
    if diff:
        raise UserError(f"--resume: the training settings differ from the saved run's "
                        f"({', '.join(diff)}); resume with the same options{RECIPE_HINT}")
    saved_id = data["extra"].get("data_fingerprint")  # absent in runs from before it
    if saved_id is not None and saved_id != data_id:
        raise UserError(f"--resume: the data differs from the saved run's (fingerprint "
                        f"{data_id}, the run's {saved_id}); resume with the same --data")
    threads = data["extra"].get("threads")
    if threads is not None and threads != torch.get_num_threads():
        print(f"[spiketime] note: the run used {threads} torch threads, this process "
              f"{torch.get_num_threads()}; pass --threads {threads} for a bit-identical result",
              file=sys.stderr, flush=True)
    return Resume.from_dict(data["resume"])


def write_history(out: Path, history: list[Epoch], mcfg: ModelConfig, tcfg: TrainConfig, *,
                  curve: bool = True) -> None:
    """history.json (every epoch) and curve.png (with `curve`: at the end), atomically."""
    doc = {"version": HISTORY_VERSION, "best_epoch": best_epoch(history),
           "model": asdict(mcfg), "trainer": asdict(tcfg),
           "history": [r.to_dict() for r in history]}
    write_text(out / "history.json", json.dumps(doc, indent=1) + "\n")
    if curve:
        plot_curve(history, out / "curve.png")


def read_history(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    if doc.get("version") != HISTORY_VERSION:
        raise UserError(f"{path} has history version {doc.get('version')}; this spiketime "
                        f"reads version {HISTORY_VERSION}")
    return doc


def plot_curve(history: list[Epoch], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r.epoch for r in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(epochs, [r.loss for r in history], label="train")
    if history and history[0].val_loss is not None:
        left.plot(epochs, [r.val_loss for r in history], label="validation")
    left.set(xlabel="epoch", ylabel="loss per sample", title="loss")
    right.plot(epochs, [100 * r.accuracy for r in history], label="train")
    if history and history[0].val_accuracy is not None:
        right.plot(epochs, [100 * r.val_accuracy for r in history], label="validation")
    best = best_epoch(history)
    right.axvline(best, color="grey", ls=":", label=f"best (epoch {best})")
    right.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (left, right):
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
