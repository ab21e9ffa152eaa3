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
from dataclasses import dataclass

import numpy as np
import torch

from spiketime.errors import UserError
from spiketime.progress import progress
from spiketime.readout import predict
from spiketime.train.model import SpikingNet


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.003
    delay_lr: float = 0.1  # delays are in steps: they need a larger step size
    decay_lr: float = 0.3  # slayer holds decays in 1/4096 units
    loss: str = "spikemax"  # or "count"; see the module docstring
    temperature: float = 1.0  # "count" loss: spikes per unit of logit
    seed: int = 0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise UserError(f"unknown loss '{self.loss}'; choose from {', '.join(LOSSES)}")
        if not self.temperature > 0:
            raise UserError(f"temperature must be positive, got {self.temperature}")


LOSSES = ("spikemax", "count")


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
        kind = ("delays" if name.endswith("delay.delay")
                else "decays" if name.endswith("_decay") else "weights")
        groups[kind].append(p)
    lrs = {"weights": cfg.lr, "decays": cfg.decay_lr, "delays": cfg.delay_lr}
    return [{"params": ps, "lr": lrs[k]} for k, ps in groups.items() if ps]


def train(model: SpikingNet, X: np.ndarray, y: np.ndarray, cfg: TrainConfig,
          desc: str = "train") -> list[dict]:
    """Train in place on uint8 spikes [N, C, T]; return per epoch the loss, accuracy, the
    fraction of samples with no output spike and the number of classes predicted (all
    measured on the epoch's own forward passes); warn on stderr when it goes nowhere."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    loss_fn = loss_function(cfg)
    optimizer = torch.optim.Adam(_param_groups(model, cfg))
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    history, warned = [], False
    model.train()
    for epoch in progress(range(cfg.epochs), desc=desc, total=cfg.epochs):
        order = rng.permutation(len(Xt))
        total_loss, correct, silent, predicted = 0.0, 0, 0, set()
        for start in range(0, len(order), cfg.batch_size):
            idx = torch.as_tensor(order[start:start + cfg.batch_size])
            out = model(Xt[idx])
            loss = loss_fn(out, yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.clamp_delays()  # the stored delay is the one the forward pass uses
            total_loss += float(loss.detach()) * len(idx)
            spikes = out.detach().numpy()
            pred = predict(spikes)
            correct += int((pred == y[idx.numpy()]).sum())
            silent += int((spikes.reshape(len(spikes), -1) == 0).all(axis=1).sum())
            predicted.update(pred.tolist())
        history.append({"epoch": epoch + 1, "loss": total_loss / len(Xt),
                        "accuracy": correct / len(Xt), "silent_fraction": silent / len(Xt),
                        "predicted_classes": len(predicted)})
        warned = warn_if_going_nowhere(history, model, Xt.shape[-1], warned=warned,
                                       last=epoch + 1 == cfg.epochs, desc=desc)
    model.eval()
    return history


def going_nowhere(record: dict, model: SpikingNet, steps: int) -> str | None:
    """A one-line warning when an epoch's network is silent or predicts one class, with
    the likely causes; None when it is not."""
    c = model.config
    if record["silent_fraction"] > 0.5:
        what = f"no output spikes on {100 * record['silent_fraction']:.0f}% of samples"
    elif c.outputs > 1 and record["predicted_classes"] == 1:
        what = "predicts one class for every sample"
    else:
        return None

    def tau(decay: float) -> str:
        return f"~{1 / decay:.0f} steps" if decay > 0 else "no decay"

    return (f"epoch {record['epoch']}: {what}; likely causes: threshold {c.threshold:g} too "
            f"high for the initial weight scale {c.weight_scale:g}, or decays that forget "
            f"within the {steps}-step window (current {c.current_decay:g}: {tau(c.current_decay)}"
            f", voltage {c.voltage_decay:g}: {tau(c.voltage_decay)})")


def warn_if_going_nowhere(history: list[dict], model: SpikingNet, steps: int, *, warned: bool,
                          last: bool, desc: str = "train") -> bool:
    """Print the warning on stderr the first time an epoch goes nowhere, and again if the
    last epoch still does; return whether it has warned."""
    message = going_nowhere(history[-1], model, steps)
    if message and (not warned or last):
        print(f"[spiketime] warning: {desc}: {message}", file=sys.stderr, flush=True)
    return warned or message is not None
