"""The trained network: feed-forward lava-dl SLAYER CUBA blocks, optional axonal delays.

Decays are learnable and quantized to 12 bits by slayer itself, weights to 8 bits
(`quantize_8bit`), delays shift by whole steps (floor), so the forward pass is
the integer dynamics the chip runs. Delays sit after every hidden layer. Per-synapse
delays (`synaptic_delays`, train/synaptic_delay.py) sit on every layer's synapses instead.
"""
from __future__ import annotations

import os
import pickle
import re
from dataclasses import asdict, fields
from pathlib import Path

import torch

from spiketime import loihi2
from spiketime.errors import UserError
from spiketime.fileio import atomic_path
from spiketime.train.config import SURROGATES, ModelConfig  # noqa: F401 (re-exported)
from spiketime.train.kernels import kernel_mode, use_kernels
from spiketime.train.registers import use_chip_registers
from spiketime.train.surrogate import use_fast_sigmoid
from spiketime.train.synaptic_delay import SynapticDelayDense

CHECKPOINT_VERSION = 2  # 2 added the trainer's resume state
READABLE_VERSIONS = (1, 2)
def _slayer():
    import lava.lib.dl.slayer as slayer  # heavy import, only when a model is built

    return slayer


class SpikingNet(torch.nn.Module):
    """inputs -> hidden... -> outputs, spikes in and out in NCT order."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        slayer = _slayer()
        self.config = config
        torch.manual_seed(config.seed)
        neuron = dict(
            threshold=config.threshold,
            current_decay=config.current_decay,
            voltage_decay=config.voltage_decay,
            tau_grad=config.tau_grad,
            scale_grad=config.scale_grad,
            requires_grad=True,  # learnable decays
        )
        sizes = (config.inputs, *config.hidden, config.outputs)
        kernels = kernel_mode()  # SPIKETIME_KERNELS: compiled CPU kernels, or slayer's own
        blocks = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            is_hidden = i < len(sizes) - 2
            block = slayer.block.cuba.Dense(
                neuron, n_in, n_out, weight_scale=config.weight_scale,
                delay=config.delays and is_hidden,
            )
            use_chip_registers(block.neuron)  # u and v in the chip's 24 bits
            use_kernels(block, kernels, config.surrogate, config.alpha)  # compiled, CPU
            if config.surrogate == "fast-sigmoid":
                use_fast_sigmoid(block.neuron, config.alpha)
            if block.delay is not None:
                assert block.delay.max_delay == loihi2.MAX_DELAY  # slayer's cap is the chip's
                block.delay.delay.data = torch.rand(n_out) * config.delay_init_max
                block.delay.init = True
            if config.synaptic_delays:
                block = SynapticDelayDense(block, config, kernels)
            blocks.append(block)
        self.blocks = torch.nn.ModuleList(blocks)

    def clamp_delays(self) -> None:
        """Keep stored delays in [0, MAX_DELAY], the range slayer's forward pass uses."""
        for block in self.blocks:
            if block.delay is not None:
                block.delay.clamp()
            if isinstance(block, SynapticDelayDense):
                block.synaptic_delay.clamp()

    def on_epoch(self, epoch: int, epochs: int) -> None:
        """The trainer calls this before each (0-based) epoch of `epochs`: schedules that
        follow training's progress (per-synapse delays' annealed width) take their value."""
        for block in self.blocks:
            if isinstance(block, SynapticDelayDense):
                block.synaptic_delay.on_epoch(epoch, epochs)

    def forward(self, x: torch.Tensor, hidden: bool = False):
        """Output spikes [N, outputs, T]; with hidden=True also each hidden layer's."""
        dropout = self.config.dropout if self.training else 0.0
        return run_blocks(self.blocks, x, hidden, dropout=dropout)


def run_blocks(blocks, x: torch.Tensor, hidden: bool = False, *, dropout: float = 0.0):
    """Feed x through feed-forward blocks: the output, and with hidden=True also
    (output, [each hidden block's output]). With `dropout` > 0 (training only: the chip
    has none) each hidden layer's spikes are dropped at that rate on their way to the
    next block, the rest scaled by 1 / (1 - dropout) (torch's dropout, its seeded RNG);
    what hidden=True returns are the spikes before the drop."""
    layers = []
    for i, block in enumerate(blocks):
        if i and dropout:
            x = torch.nn.functional.dropout(x, dropout, training=True)
        x = block(x)
        layers.append(x)
    return (x, layers[:-1]) if hidden else x


def save_checkpoint(model: SpikingNet, path: str | os.PathLike, extra: dict | None = None,
                    resume: dict | None = None) -> Path:
    """Write the model (config and parameters, on the CPU) atomically: a crash during the
    write leaves the previous file at `path` intact. `resume` is the trainer's state
    (`spiketime.train.trainer.Resume.to_dict()`), present in a run's last.pt."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"version": CHECKPOINT_VERSION, "config": asdict(model.config),
                    "state": state, "extra": extra or {}, "resume": resume}, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint's contents, any version we know, as version 2's keys: version,
    config, state, extra, resume (None for version 1, which had no trainer state)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"checkpoint {path} is a folder, not a file")
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:  # weights_only: tensors and plain data only; unpickling never runs the file's code
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+) was not an allowed global", str(exc))
        if found:  # the file names a callable: unpickling it would run code
            raise UserError(f"{path} holds Python objects besides tensors and plain data "
                            f"({found.group(1)}); spiketime does not load them (unpickling "
                            "them could run code from the file)") from None
        raise UserError(f"{path} is not a spiketime checkpoint (unreadable or truncated)") \
            from None
    except Exception:
        raise UserError(f"{path} is not a spiketime checkpoint (unreadable or truncated)") \
            from None
    if not isinstance(data, dict) or "version" not in data:
        raise UserError(f"{path} is not a spiketime checkpoint")
    if data["version"] not in READABLE_VERSIONS:
        raise UserError(f"{path} is a spiketime checkpoint of version {data['version']}; this "
                        f"spiketime reads versions {', '.join(map(str, READABLE_VERSIONS))}")
    return {"resume": None, "extra": {}, **data}


def config_of(data: dict, path: str | os.PathLike) -> ModelConfig:
    known = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(data["config"]) - known)
    if unknown:
        raise UserError(f"{path} has model settings this spiketime does not know: "
                        f"{', '.join(unknown)}")
    return ModelConfig(**data["config"])


def check_finite(parameters, source: str | os.PathLike) -> None:
    """Refuse NaN or infinite parameters, naming the first such tensor: a network with
    them is not a trained network (its spikes, and any parity verdict, mean nothing)."""
    for name, value in parameters:
        if torch.is_tensor(value) and value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                raise UserError(f"{source}: parameter {name} holds {bad} NaN or infinite "
                                f"value{'s' if bad > 1 else ''}; this is not a trained network")


def architecture(c: ModelConfig) -> str:
    """'20-32-2 with delays': how errors and summaries name a network's shape."""
    return "-".join(map(str, (c.inputs, *c.hidden, c.outputs))) + (
        " with delays" if c.delays else
        " with per-synapse delays" if c.synaptic_delays else " without delays")


def load_checkpoint(path: str | os.PathLike, expect: ModelConfig | None = None) -> SpikingNet:
    """The trained model, in eval mode. With `expect`, a checkpoint of another
    architecture (sizes, delays) is refused with one line naming both."""
    data = read_checkpoint(path)
    config = config_of(data, path)
    if expect is not None and (
            (config.inputs, config.hidden, config.outputs, config.delays, config.synaptic_delays)
            != (expect.inputs, expect.hidden, expect.outputs, expect.delays,
                expect.synaptic_delays)):
        raise UserError(f"{path} holds a {architecture(config)} network, not the "
                        f"{architecture(expect)} asked for")
    check_finite(data["state"].items(), path)
    model = SpikingNet(config)
    try:
        model.load_state_dict(data["state"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise UserError(f"{path}: parameters do not fit a {architecture(config)} network "
                        f"({first})") from None
    model.eval()
    return model
