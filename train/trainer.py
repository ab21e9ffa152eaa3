"""Training loop: Adam on weights, decays and delays, with a spike-count loss.

Two losses, both a cross-entropy over the output neurons' spike counts:
- "spikemax": slayer's SpikeMax (logsoftmax mode), which softmaxes the mean rate
  count / T, i.e. counts at temperature T. Over a 1,000-step window a few output
  spikes move the logits by ~0.001, so the probabilities stay near uniform and the
  gradient shrinks like 1 / T: measured here, 1,000-step CCISI stays at chance.
- "count": softmax over count / `temperature` (spikes), independent of T; the
  class decision (most spikes) is the same.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from spiketime.data.sources import ArraySource, Source, Subset, validation_split
from spiketime.errors import UserError
from spiketime.readout import predict
from spiketime.train.config import LOSSES, TrainConfig, lr_factor  # noqa: F401 (re-exported)
from spiketime.train.distributed import Comm
from spiketime.train.history import Epoch
from spiketime.train.model import SpikingNet


def loss_function(cfg: TrainConfig):
    """(output spikes [N, K, T], labels [N]) -> summed loss over the batch."""
    if cfg.loss == "spikemax":
        import lava.lib.dl.slayer as slayer

        return slayer.loss.SpikeMax(mode="logsoftmax")

    def count_loss(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = out.sum(dim=-1) / cfg.temperature
        return torch.nn.functional.cross_entropy(logits, labels, reduction="sum")

    return count_loss


def _param_groups(model: SpikingNet, cfg: TrainConfig) -> list[dict]:
    """Weights, decays and delays live on different scales: one step size each."""
    groups: dict[str, list] = {"weights": [], "decays": [], "delays": []}
    for name, p in model.named_parameters():
        kind = ("delays" if name.endswith(("delay.delay", "synaptic_delay.position"))
                else "decays" if name.endswith("_decay") else "weights")
        groups[kind].append(p)
    lrs = {"weights": cfg.lr, "decays": cfg.decay_lr, "delays": cfg.delay_lr}
    return [{"params": ps, "lr": lrs[k]} for k, ps in groups.items() if ps]


def train(model: SpikingNet, X: np.ndarray, y: np.ndarray, cfg: TrainConfig,
          desc: str = "train") -> list[Epoch]:
    """Train in place on uint8 spikes [N, C, T]; return per epoch (an `Epoch`) the loss (mean per
    sample), accuracy, the
    fraction of samples with no output spike and the number of classes predicted (all
    measured on the epoch's own forward passes); warn on stderr when it goes nowhere.
    With cfg.val_fraction > 0 a seeded part of (X, y) is held out and each record also
    has val_loss and val_accuracy. `fit` is the same loop with resume, checkpoints,
    devices and several processes."""
    return fit(model, ArraySource(X, y), cfg, desc=desc)


@dataclass
class Resume:
    """Everything besides the model's parameters that the loop needs to continue exactly
    where it stopped: the position (epoch, next batch), the optimizer, every random
    state, the epoch's running totals and the history so far. Plain data, so it travels
    inside a checkpoint (`to_dict` / `from_dict`)."""

    epoch: int  # epochs finished
    batch: int  # batches of epoch `epoch` finished (0 at an epoch boundary)
    optimizer: dict
    order_rng: dict  # numpy Generator state at the start of epoch `epoch`
    torch_rng: torch.Tensor
    cuda_rng: list | None
    totals: dict
    history: list[Epoch]
    best: dict | None  # {"epoch", "score"} of the best epoch so far

    def to_dict(self) -> dict:
        """Plain data (the history as the dicts history.json holds)."""
        return {**self.__dict__, "history": [r.to_dict() for r in self.history]}

    @classmethod
    def from_dict(cls, d: dict) -> Resume:
        return cls(**{**d, "history": [Epoch.from_dict(r) for r in d["history"]]})


def _new_totals(classes: int) -> dict:
    return {"loss": 0.0, "correct": 0, "silent": 0, "predicted": [0] * classes, "seen": 0}


def fit(model: SpikingNet, source: Source, cfg: TrainConfig, *, desc: str = "train",
        device: torch.device | str = "cpu", comm: Comm | None = None,
        resume: Resume | None = None,
        on_checkpoint: Callable[[Resume, Epoch | None], None] | None = None) -> list[Epoch]:
    """Train `model` in place on `source` (see `train`); return the history.

    `resume` continues a run from a saved `Resume`, bit for bit: the same data order,
    optimizer moments and random states as if it had never stopped. `on_checkpoint(state,
    record)` is called after every epoch (record = that epoch's history entry) and, with
    cfg.checkpoint_every = k, after every k-th batch inside an epoch (record None); it is
    where the caller writes checkpoints (rank 0 only, under `comm`). With `comm`, every
    rank runs this with the same arguments and trains on its share of each global batch.
    """
    comm = comm or Comm()
    device = torch.device(device)
    model.to(device)
    classes = model.config.outputs
    train_idx, val_idx = validation_split(source.labels, cfg.val_fraction, cfg.seed)
    if cfg.val_fraction > 0 and len(val_idx) == 0:
        raise UserError(f"val_fraction {cfg.val_fraction} holds out no sample of "
                        f"{len(source)}: use a larger fraction or 0")
    train_src = source if len(val_idx) == 0 else Subset(source, train_idx)
    val_src = Subset(source, val_idx) if len(val_idx) else None
    n = len(train_src)
    y = train_src.labels
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    loss_fn = loss_function(cfg)
    optimizer = torch.optim.Adam(_param_groups(model, cfg))
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    history: list[Epoch] = []
    best = None
    start_epoch, start_batch, totals = 0, 0, _new_totals(classes)
    if resume is not None:
        optimizer.load_state_dict(resume.optimizer)
        rng.bit_generator.state = resume.order_rng
        torch.set_rng_state(resume.torch_rng)
        if resume.cuda_rng is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(resume.cuda_rng)
        history, best = list(resume.history), resume.best
        start_epoch, start_batch = resume.epoch, resume.batch
        totals = dict(resume.totals) if resume.batch else _new_totals(classes)
    batches = -(-n // cfg.batch_size)
    warned = any(going_nowhere(r, model, source.steps) for r in history)
    bar = _bar(desc, cfg.epochs * batches, start_epoch * batches + start_batch, comm)
    model.train()
    for epoch in range(start_epoch, cfg.epochs):
        order_rng = rng.bit_generator.state
        order = rng.permutation(n)
        first = start_batch if epoch == start_epoch else 0
        model.on_epoch(epoch, cfg.epochs)  # per-epoch schedules (per-synapse delays' width)
        for b in range(first, batches):
            bar.update()
            batch = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            idx = comm.shard(batch)
            optimizer.zero_grad()
            if len(idx):
                xb = torch.as_tensor(train_src.batch(idx), dtype=torch.float32, device=device)
                xb = shift_channels(xb, cfg.channel_shift)
                yb = torch.as_tensor(y[idx], dtype=torch.long, device=device)
                out = model(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                spikes = out.detach().cpu().numpy()
                pred = predict(spikes)
                part = torch.tensor([float(loss.detach()), (pred == y[idx]).sum(),
                                     (spikes.reshape(len(spikes), -1) == 0).all(axis=1).sum(),
                                     *np.bincount(pred, minlength=classes)],
                                    dtype=torch.float64)
            else:
                part = torch.zeros(3 + classes, dtype=torch.float64)
            comm.sum_gradients(model)
            factor = lr_factor(cfg, epoch * batches + b, cfg.epochs * batches)
            for group, lr in zip(optimizer.param_groups, base_lrs):
                group["lr"] = lr * factor
            optimizer.step()
            model.clamp_delays()  # the stored delay is the one the forward pass uses
            part = comm.sum_(part).tolist()
            totals = {"loss": totals["loss"] + part[0], "correct": totals["correct"]
                      + int(part[1]), "silent": totals["silent"] + int(part[2]),
                      "predicted": [a + int(c) for a, c in zip(totals["predicted"], part[3:])],
                      "seen": totals["seen"] + 1}
            bar.set_postfix(epoch=epoch + 1, loss=f"{part[0] / len(batch):.3g}",
                            **({"val": f"{history[-1].val_accuracy:.3f}"}
                               if history and history[-1].val_accuracy is not None else {}),
                            refresh=False)
            if (on_checkpoint and cfg.checkpoint_every and b + 1 < batches
                    and (b + 1) % cfg.checkpoint_every == 0):
                on_checkpoint(Resume(epoch, b + 1, optimizer.state_dict(), order_rng,
                                     torch.get_rng_state(), _cuda_rng(device), dict(totals),
                                     list(history), best), None)
        val = {}
        if val_src is not None:
            val = evaluate(model, val_src, loss_fn, device=device, comm=comm,
                           batch_size=max(cfg.batch_size, 64))
            model.train()
        record = Epoch(epoch=epoch + 1, loss=totals["loss"] / n, accuracy=totals["correct"] / n,
                       silent_fraction=totals["silent"] / n,
                       predicted_classes=sum(1 for c in totals["predicted"] if c), **val)
        if best is None or record.score > best["score"]:
            best = {"epoch": epoch + 1, "score": record.score}
        record = replace(record, best=best["epoch"] == epoch + 1)
        history.append(record)
        totals = _new_totals(classes)
        if comm.is_main:
            warned = warn_if_going_nowhere(history, model, source.steps, warned=warned,
                                           last=epoch + 1 == cfg.epochs, desc=desc)
        if on_checkpoint:
            on_checkpoint(Resume(epoch + 1, 0, optimizer.state_dict(), rng.bit_generator.state,
                                 torch.get_rng_state(), _cuda_rng(device), totals,
                                 list(history), best), record)
    bar.close()
    model.eval()
    return history


def shift_channels(x: torch.Tensor, most: int) -> torch.Tensor:
    """x [N, C, T] with sample i's channel c moved to c + s_i, s_i ~ U{-most..most} drawn
    from torch's seeded RNG (saved in every Resume), channels moved past either end dropped
    and the ones left empty zero; `most` = 0 returns x untouched and draws nothing."""
    if most == 0:
        return x
    n, c, _ = x.shape
    shift = torch.randint(-most, most + 1, (n, 1), device=x.device)
    source = torch.arange(c, device=x.device) - shift  # [N, C]: where each channel comes from
    inside = (source >= 0) & (source < c)
    moved = x.gather(1, source.clamp(0, c - 1)[..., None].expand_as(x))
    return moved * inside[..., None]


def _bar(desc: str, total: int, initial: int, comm: Comm):
    """A batch-level progress bar (loss, last validation accuracy) on rank 0's terminal;
    quiet in CI, when piped, on other ranks, and in the Python API unless it asks for bars
    (spiketime.progress's rule)."""
    from tqdm import tqdm

    from spiketime.progress import shown

    quiet = not shown() or not comm.is_main
    return tqdm(total=total, initial=initial, desc=desc, disable=quiet, leave=False,
                unit="batch")


def _cuda_rng(device: torch.device) -> list | None:
    return torch.cuda.get_rng_state_all() if device.type == "cuda" else None


def evaluate(model: SpikingNet, source: Source, loss_fn, *, device: torch.device | str = "cpu",
             comm: Comm | None = None, batch_size: int = 64) -> dict:
    """val_loss (mean per sample) and val_accuracy of `model` on `source`, in batches;
    under `comm` each rank takes every world-th sample and the sums are combined."""
    comm = comm or Comm()
    model.eval()
    mine = comm.shard(np.arange(len(source)))
    loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(mine), batch_size):
            idx = mine[start:start + batch_size]
            out = model(torch.as_tensor(source.batch(idx), dtype=torch.float32, device=device))
            labels = source.labels[idx]
            loss += float(loss_fn(out, torch.as_tensor(labels, device=device)))
            correct += int((predict(out.cpu().numpy()) == labels).sum())
    total = comm.sum_(torch.tensor([loss, correct], dtype=torch.float64)).tolist()
    return {"val_loss": total[0] / len(source), "val_accuracy": total[1] / len(source)}


def going_nowhere(record: Epoch, model: SpikingNet, steps: int) -> str | None:
    """A one-line warning when an epoch's network is silent or predicts one class, with
    the likely causes; None when it is not."""
    c = model.config
    if record.silent_fraction > 0.5:
        what = f"no output spikes on {100 * record.silent_fraction:.0f}% of samples"
    elif c.outputs > 1 and record.predicted_classes == 1:
        what = "predicts one class for every sample"
    else:
        return None

    def tau(decay: float) -> str:
        return f"~{1 / decay:.0f} steps" if decay > 0 else "no decay"

    return (f"epoch {record.epoch}: {what}; likely causes: threshold {c.threshold:g} too "
            f"high for the initial weight scale {c.weight_scale:g}, or decays that forget "
            f"within the {steps}-step window (current {c.current_decay:g}: {tau(c.current_decay)}"
            f", voltage {c.voltage_decay:g}: {tau(c.voltage_decay)})")


def warn_if_going_nowhere(history: list[Epoch], model: SpikingNet, steps: int, *, warned: bool,
                          last: bool, desc: str = "train") -> bool:
    """Print the warning on stderr the first time an epoch goes nowhere, and again if the
    last epoch still does; return whether it has warned."""
    message = going_nowhere(history[-1], model, steps)
    if message and (not warned or last):
        print(f"[spiketime] warning: {desc}: {message}", file=sys.stderr, flush=True)
    return warned or message is not None
