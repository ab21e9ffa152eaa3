"""The training job's settings: `ModelConfig` (the network) and `TrainConfig` (the loop).

Adding an option (spiketime.train.config, this file): a field with its default and its
check in `__post_init__` here; one `add_argument` in spiketime/commands/train.py
(`add_architecture`) with `default=default(ModelConfig, "name")` and the field's name as
its dest; the name in that module's MODEL_OPTIONS or TRAIN_OPTIONS; one row in
tests/test_options.py. `train`, `pipeline` and the grid then all carry it; a checkpoint
without the field reads with its default.

Every setting of a training job has its home here, and nowhere else: the CLI
(`spiketime.commands.train.add_architecture`, `configs`) takes its defaults and help
from these fields, `spiketime pipeline` and the experiment grid hold these classes
rather than copies of their fields, checkpoints and history.json store them with
`asdict`. No torch import, so `--help` stays fast. tests/test_options.py fails until
every option of every command is shown to reach its field.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, fields
from typing import Any

from spiketime import loihi2
from spiketime.errors import UserError

SURROGATES = ("slayer", "fast-sigmoid")
LOSSES = ("count", "spikemax")  # the first is the default
SCHEDULES = ("constant", "cosine")  # step sizes over the run; the first is the default
# The training job's own defaults (`spiketime train` and `spiketime.train` both read them)
# for what the configs leave to each job: the pipeline and the grid choose theirs.
TRAIN_JOB_HIDDEN = (128,)
TRAIN_JOB_VAL_FRACTION = 0.1
# Recipes: the settings a training job takes where its caller leaves them out (`spiketime
# train --recipe`, `spiketime.train(recipe=...)`); "auto" picks by the data's task. "base"
# is the configs' own defaults; "speech" is what the spoken-digit ablations measured best
# (docs/speech.md "The recipe"; docs/train.md "Recipes"): 700-128-128-20, cosine schedule,
# dropout 0.2 on the hidden spikes, channel shift 20, 80 epochs.
RECIPES: dict[str, dict[str, Any]] = {
    "base": {},
    "speech": {"hidden": (128, 128), "epochs": 80, "lr": 0.005, "schedule": "cosine",
               "dropout": 0.2, "channel_shift": 20},
}
RECIPE_CHOICES = ("auto", *RECIPES)


def recipe_for(recipe: str, task: str | None) -> str:
    """The recipe `recipe` names: itself, or for "auto" "speech" on SHD/SSC-layout data
    (`data prepare`'s tasks) and "base" on anything else (the synthetic tasks: a channel
    shift would destroy their channel-coded classes)."""
    if recipe not in RECIPE_CHOICES:
        raise UserError(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPE_CHOICES)}")
    if recipe != "auto":
        return recipe
    from spiketime.data.speech import N_CLASSES  # the speech tasks; h5py only when asked

    return "speech" if task in N_CLASSES else "base"
# The models by name, and the ModelConfig settings each name stands for.
MODELS: dict[str, dict[str, bool]] = {
    "tau": {},  # learnable decays, no delays
    "tau+delay": {"delays": True},  # trainable axonal delays after each hidden layer
    "tau+syndelay": {"synaptic_delays": True},  # per-synapse delays in every layer, DCLS-style
}


@dataclass(frozen=True)
class ModelConfig:
    inputs: int
    hidden: tuple[int, ...]
    outputs: int
    delays: bool = False  # trainable axonal delays after each hidden layer
    delay_init_max: float = 30.0  # initial delays ~ U[0, delay_init_max) steps
    synaptic_delays: bool = False  # per-synapse delays in every layer (train/synaptic_delay.py)
    delay_sigma: float = 4.0  # per-synapse delays: initial Gaussian width, steps
    delay_anneal: float = 0.5  # per-synapse delays: share of epochs annealing; exact after
    threshold: float = 1.0  # slayer units; vThMant = threshold * THRESHOLD_SCALE
    current_decay: float = 0.25  # fraction per step; learnable, 12-bit
    voltage_decay: float = 0.03
    surrogate: str = "slayer"  # "slayer" (exponential) or "fast-sigmoid" (the paper's)
    alpha: float = 100.0  # fast-sigmoid steepness, 1 / (alpha |v - theta| + 1)^2
    tau_grad: float = 1.0  # slayer surrogate-gradient width
    scale_grad: float = 1.0
    weight_scale: float = 2.0
    dropout: float = 0.0  # share of hidden spikes dropped in training (never on the chip)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if not 0 <= self.dropout < 1:  # also refuses NaN
            raise UserError(f"dropout must lie in [0, 1), got {self.dropout}")
        if not 0 <= self.delay_init_max <= loihi2.MAX_DELAY:
            raise UserError(f"delay_init_max must be within [0, {loihi2.MAX_DELAY}] steps")
        if self.delays and self.synaptic_delays:
            raise UserError("axonal delays and per-synapse delays are exclusive: choose one")
        if not self.delay_sigma > 0:
            raise UserError(f"delay_sigma must be positive (steps), got {self.delay_sigma}")
        if not 0 < self.delay_anneal <= 1:
            raise UserError(f"delay_anneal must lie in (0, 1] (a share of epochs), got "
                            f"{self.delay_anneal}")
        if self.surrogate not in SURROGATES:
            raise UserError(f"unknown surrogate '{self.surrogate}'; choose from "
                            f"{', '.join(SURROGATES)}")
        if not self.alpha > 0:
            raise UserError(f"alpha must be positive, got {self.alpha}")
        for name in ("current_decay", "voltage_decay"):
            value = getattr(self, name)
            if not 0 <= value <= 1:  # also refuses NaN
                raise UserError(f"{name} must lie in [0, 1] (a fraction per step), got {value}")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.003
    delay_lr: float = 0.1  # delays are in steps: they need a larger step size
    decay_lr: float = 0.3  # slayer holds decays in 1/4096 units
    schedule: str = SCHEDULES[0]  # every group's step size: constant, or cosine to 0 (`lr_factor`)
    loss: str = LOSSES[0]  # "count" or "spikemax"; see spiketime.train.trainer
    temperature: float = 1.0  # "count" loss: spikes per unit of logit
    seed: int = 0
    val_fraction: float = 0.0  # seeded per-class share of the training set held out
    checkpoint_every: int = 0  # batches between mid-epoch resume points (0: epoch ends only)
    channel_shift: int = 0  # training only: each sample's channels moved by U{-n..n}, zero-filled

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise UserError(f"unknown loss '{self.loss}'; choose from {', '.join(LOSSES)}")
        if self.schedule not in SCHEDULES:
            raise UserError(f"unknown schedule '{self.schedule}'; choose from "
                            f"{', '.join(SCHEDULES)}")
        if not self.temperature > 0:
            raise UserError(f"temperature must be positive, got {self.temperature}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "delay_lr", "decay_lr"):
            if not getattr(self, name) >= 0:
                raise UserError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if not 0 <= self.val_fraction < 1:
            raise UserError(f"val_fraction must lie in [0, 1), got {self.val_fraction}")
        if self.checkpoint_every < 0:
            raise UserError(f"checkpoint_every must be 0 or more, got {self.checkpoint_every}")
        if self.channel_shift < 0:
            raise UserError(f"channel_shift must be 0 or more, got {self.channel_shift}")


def lr_factor(cfg: TrainConfig, step: int, steps: int) -> float:
    """The share of each group's step size used at optimizer step `step` of `steps` (0-based):
    1 throughout for "constant"; for "cosine", 0.5 (1 + cos(pi step / steps)), from 1 at
    the first step down towards 0 at the last (computed from the position alone, so a
    resumed run takes the same steps)."""
    if cfg.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / max(steps, 1)))
    return 1.0


def model_name(config: ModelConfig) -> str:
    """The name in MODELS of the model `config` builds: the entry whose settings it has,
    the most specific one (every config has "tau"'s none)."""
    fits = [n for n, s in MODELS.items() if all(getattr(config, k) == v for k, v in s.items())]
    return max(fits, key=lambda n: len(MODELS[n]))


def default(config: type, name: str) -> Any:
    """A config field's default: `default(TrainConfig, "epochs")` -> 30."""
    for f in fields(config):
        if f.name == name:
            if f.default is MISSING:
                raise KeyError(f"{config.__name__}.{name} has no default")
            return f.default
    raise KeyError(f"{config.__name__} has no field {name!r}")
