"""Trained SLAYER model -> NetxNetwork, with the numbers the chip will hold."""
from __future__ import annotations

import numpy as np
import torch

from spiketime import loihi2
from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork


def to_netx(model: torch.nn.Module, metadata: dict | None = None) -> NetxNetwork:
    """Read each slayer CUBA Dense block's quantized parameters (no clamping here:
    `write_netx` refuses anything out of range)."""
    layers = []
    with torch.no_grad():
        for block in model.blocks:
            syn = block.synapse
            w = syn.pre_hook_fx(syn.weight, descale=True).reshape(syn.weight.shape[:2])
            neuron = block.neuron
            delay = None
            if block.delay is not None:
                delay = loihi2.quantize_delay(block.delay.delay.detach().cpu().numpy().reshape(-1))
            layers.append(DenseLayer(
                weight=np.round(w.cpu().numpy()).astype(np.int64),
                neuron=CubaNeuron(
                    i_decay=int(neuron.cx_current_decay),
                    v_decay=int(neuron.cx_voltage_decay),
                    vth_mant=int(neuron.v_th_mant),
                    ref_delay=int(neuron.ref_delay),
                    graded_spike=bool(neuron.graded_spike),
                ),
                delay=delay,
            ))
    return NetxNetwork(tuple(layers), dict(metadata or {}))
