"""Your own lava-dl SLAYER network, trained your way, on spiketime's trained side.

`--model-factory package.module:function` names a function that takes no arguments
and returns your trained network (a `torch.nn.Module`), weights loaded. The one
convention it must follow is lava-dl's own (the one its `export_hdf5` examples use):
the layers are slayer blocks in order in `network.blocks`, each a CUBA Dense block
(`slayer.block.cuba.Dense`, with or without `delay=True`). spiketime runs the blocks
in order, as lava-dl's examples' forward passes do, and reads every layer's spikes.
Example (docs/train.md has it in full):

    # mynet.py
    def trained():
        net = Network()                      # your lava-dl class with self.blocks
        net.load_state_dict(torch.load("trained.pt"))
        return net

    spiketime compare --model-factory mynet:trained --netx net.net --data data.h5
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass

import torch

from spiketime.errors import UserError
from spiketime.train.model import run_blocks


@dataclass(frozen=True)
class Shape:
    """What the harness asks of a trained model's config: its layer sizes."""

    inputs: int
    hidden: tuple[int, ...]
    outputs: int
    delays: bool


class ForeignNet(torch.nn.Module):
    """A lava-dl network's `blocks`, run in order: output spikes (and hidden layers')."""

    def __init__(self, network: torch.nn.Module, where: str = "the network"):
        super().__init__()
        blocks = getattr(network, "blocks", None)
        if not isinstance(blocks, (torch.nn.ModuleList, list, tuple)) or not len(blocks):
            raise UserError(f"{where} has no `blocks` list of slayer blocks (lava-dl's "
                            f"convention: the layers in order in network.blocks)")
        sizes = []
        for i, block in enumerate(blocks):
            weight = getattr(getattr(block, "synapse", None), "weight", None)
            if weight is None or getattr(block, "neuron", None) is None \
                    or type(block).__name__ != "Dense" or "cuba" not in type(block).__module__:
                raise UserError(f"{where}: block {i} is a {type(block).__module__}."
                                f"{type(block).__name__}; spiketime runs CUBA Dense blocks "
                                f"(slayer.block.cuba.Dense) only")
            sizes.append((int(weight.shape[1]), int(weight.shape[0])))
            delay = getattr(block, "delay", None)
            if delay is not None and not getattr(delay, "init", True):
                raise UserError(f"{where}: block {i}'s delays were never sized; slayer draws "
                                f"fresh ones in the first forward pass: run one pass on zeros "
                                f"before load_state_dict (docs/train.md)")
        for i, ((_, a), (b, _)) in enumerate(zip(sizes, sizes[1:])):
            if a != b:
                raise UserError(f"{where}: block {i} has {a} outputs but block {i + 1} "
                                f"{b} inputs")
        self.network = network
        self.blocks = torch.nn.ModuleList(blocks)
        self.config = Shape(inputs=sizes[0][0], hidden=tuple(o for _, o in sizes[:-1]),
                            outputs=sizes[-1][1],
                            delays=any(getattr(b, "delay", None) is not None for b in blocks))

    def forward(self, x: torch.Tensor, hidden: bool = False):
        return run_blocks(self.blocks, x, hidden)


def load_factory(spec: str) -> ForeignNet:
    """Import `package.module:function`, call it, wrap what it returns. The current
    folder is importable, as with `python -m`."""
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise UserError(f"--model-factory takes package.module:function, got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"--model-factory {spec}: cannot import {module_name} ({exc})") from None
    factory = getattr(module, func_name, None)
    if not callable(factory):
        raise UserError(f"--model-factory {spec}: {module_name} has no function {func_name}")
    network = factory()
    if not isinstance(network, torch.nn.Module):
        raise UserError(f"--model-factory {spec} returned a {type(network).__name__}, not a "
                        f"torch.nn.Module")
    model = ForeignNet(network, where=f"the network from {spec}")
    model.eval()
    return model
