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
    """Train in place on uint8 spikes [N, C, T]; return per-epoch loss and accuracy."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    loss_fn = loss_function(cfg)
    optimizer = torch.optim.Adam(_param_groups(model, cfg))
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    history = []
    model.train()
    for epoch in progress(range(cfg.epochs), desc=desc, total=cfg.epochs):
        order = rng.permutation(len(Xt))
        total_loss, correct = 0.0, 0
        for start in range(0, len(order), cfg.batch_size):
            idx = torch.as_tensor(order[start:start + cfg.batch_size])
            out = model(Xt[idx])
            loss = loss_fn(out, yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.clamp_delays()  # the stored delay is the one the forward pass uses
            total_loss += float(loss.detach()) * len(idx)
            correct += int((predict(out.detach().numpy()) == y[idx.numpy()]).sum())
        history.append({"epoch": epoch + 1, "loss": total_loss / len(Xt),
                        "accuracy": correct / len(Xt)})
    model.eval()
    return history
