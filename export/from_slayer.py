"""Trained SLAYER model -> NetxNetwork, with the numbers the chip will hold."""
from __future__ import annotations

import numpy as np
import torch

from spiketime import loihi2
from spiketime.errors import UserError
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
            synaptic = getattr(block, "synaptic_delay", None)
            if synaptic is not None:  # [out, in], the integers the exact forward pass uses
                delay = synaptic.steps().cpu().numpy()
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


def check_architecture(model: torch.nn.Module, net: NetxNetwork, model_source: object,
                       netx_source: object) -> None:
    """Refuse a trained model and a NetX file that are not the same network: layer sizes,
    and delays present or not, in every layer. Comparing them would report a parity
    failure where there is only a mix-up of files."""
    mine = [(int(b.synapse.weight.shape[1]), int(b.synapse.weight.shape[0]),
             _delay_kind(b.delay is not None, getattr(b, "synaptic_delay", None) is not None))
            for b in model.blocks]
    theirs = [(lay.in_features, lay.out_features,
               _delay_kind(lay.delay is not None and not lay.synaptic_delays, lay.synaptic_delays))
              for lay in net.layers]
    if mine != theirs:
        raise UserError(f"{model_source} holds the network {_shape(mine)} but {netx_source} "
                        f"holds {_shape(theirs)}: not the same network")


def _delay_kind(axonal: bool, synaptic: bool) -> str:
    return "per-synapse delays" if synaptic else "delays" if axonal else ""


def _shape(layers: list[tuple[int, int, str]]) -> str:
    sizes = "-".join(map(str, [layers[0][0], *(out for _, out, _ in layers)]))
    kinds = dict.fromkeys(kind for _, _, kind in layers if kind)
    parts = [f"{kind} in layer " + ", ".join(str(i) for i, (_, _, k) in enumerate(layers)
                                             if k == kind) for kind in kinds]
    return sizes + (" with " + " and ".join(parts) if parts else " without delays")
