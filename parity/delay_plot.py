"""Each model's learned delays: histograms of the initial and the final integer delays.

The delays are the ones the chip runs (`to_netx`: axonal delays floored, per-synapse
delays rounded), per delayed layer; the initial ones are those of a fresh model built
from the same config (its seed fixes the initialisation).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from spiketime import loihi2
from spiketime.export.from_slayer import to_netx
from spiketime.parity.render import pyplot, save_figure
from spiketime.train.model import SpikingNet


def deployed_delays(model: torch.nn.Module) -> dict[int, np.ndarray]:
    """Layer index -> the layer's integer delays as exported ([out] or [out, in])."""
    return {i: layer.delay for i, layer in enumerate(to_netx(model).layers)
            if layer.delay is not None}


def initial_and_final(model: SpikingNet) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Layer index -> (initial, final) integer delays of a trained SpikingNet."""
    with torch.random.fork_rng(devices=[]):  # building a model seeds torch's generator
        start = deployed_delays(SpikingNet(model.config))
    return {i: (start[i], final) for i, final in deployed_delays(model).items()}


def plot_learned_delays(models: dict[str, SpikingNet], path: Path) -> Path | None:
    """One row per model with delays, one panel per delayed layer: the initial and the
    final delays' histograms over 0..MAX_DELAY, with the mean move. None (and no file)
    when no model has delays."""
    rows = {name: initial_and_final(m) for name, m in models.items()}
    rows = {name: layers for name, layers in rows.items() if layers}
    if not rows:
        return None
    plt = pyplot()
    cols = max(len(layers) for layers in rows.values())
    fig, axes = plt.subplots(len(rows), cols, figsize=(4.2 * cols, 2.8 * len(rows)),
                             squeeze=False)
    bins = np.arange(loihi2.MAX_DELAY + 2) - 0.5
    for r, (name, layers) in enumerate(rows.items()):
        for c in range(cols):
            ax = axes[r][c]
            if c >= len(layers):
                ax.axis("off")
                continue
            index, (start, final) = list(layers.items())[c]
            ax.hist(start.ravel(), bins=bins, alpha=0.5, label="initial")
            ax.hist(final.ravel(), bins=bins, alpha=0.5, label="final")
            moved = float(np.abs(final.astype(np.int64) - start).mean())
            kind = "per synapse" if final.ndim == 2 else "axonal"
            ax.set_title(f"layer {index} ({kind}): mean move {moved:.1f} steps", fontsize=9)
            ax.set_xlabel("delay (steps)")
            if c == 0:  # the model's name once per row, so long names cannot overlap
                ax.set_ylabel(f"{name}\n{'synapses' if final.ndim == 2 else 'neurons'}",
                              fontsize=9)
            ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(plt, fig, path)
    return path
