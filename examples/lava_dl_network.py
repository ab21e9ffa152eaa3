"""A lava-dl SLAYER network written the lava-dl way, for `--model-factory` (docs/train.md).

This is what "trained with lava-dl your own way" looks like: your own Network class
whose layers sit in `self.blocks`, lava-dl's own `export_hdf5`, and a factory
function that rebuilds the network and loads your trained weights. spiketime needs
only the factory:

    spiketime compare --model-factory examples.lava_dl_network:trained \\
        --netx mynet.net --data data.h5

`trained()` loads the weights named by $LAVA_DL_WEIGHTS (default: trained.pt).
"""
from __future__ import annotations

import os

import h5py
import lava.lib.dl.slayer as slayer
import torch

NEURON = dict(threshold=1.0, current_decay=0.25, voltage_decay=0.03, tau_grad=1.0,
              scale_grad=1.0, requires_grad=True)


class Network(torch.nn.Module):
    """inputs -> 16 -> 8 (delays after each hidden layer) -> classes, CUBA Dense blocks."""

    def __init__(self, inputs: int = 6, classes: int = 2):
        super().__init__()
        self.blocks = torch.nn.ModuleList([
            slayer.block.cuba.Dense(NEURON, inputs, 16, weight_scale=2, delay=True),
            slayer.block.cuba.Dense(NEURON, 16, 8, weight_scale=2, delay=True),
            slayer.block.cuba.Dense(NEURON, 8, classes, weight_scale=2),
        ])

    def forward(self, spike):
        for block in self.blocks:
            spike = block(spike)
        return spike

    def export_hdf5(self, filename: str) -> None:  # as in lava-dl's tutorials
        with h5py.File(filename, "w") as h:
            layer = h.create_group("layer")
            for i, block in enumerate(self.blocks):
                block.export_hdf5(layer.create_group(f"{i}"))


def trained() -> Network:
    """The factory `--model-factory examples.lava_dl_network:trained` calls.

    slayer sizes its delays (and neuron shapes) in the first forward pass, drawing
    fresh delays then: run one pass on zeros *before* loading the trained weights,
    or load_state_dict refuses the delay shapes (and a later pass would redraw them)."""
    net = Network()
    net(torch.zeros(1, net.blocks[0].synapse.weight.shape[1], 1))
    net.load_state_dict(torch.load(os.environ.get("LAVA_DL_WEIGHTS", "trained.pt")))
    return net.eval()
