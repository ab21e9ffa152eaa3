"""Where a conversion goes wrong: per layer, how far the deployed spikes follow the reference's.

For the same input, the float reference (a NIR graph's own dynamics) and the
deployed NetX network (on the emulator) give every layer's spikes [N, n, T]. Per
layer: spikes per sample on each side, spike agreement (spikes in both / spikes in
either, 1.0 when both are silent), the fraction of samples whose whole layer is
identical, and the earliest step at which any spike differs. A conversion that
breaks layer k shows agreement falling at layer k, not only at the output.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from spiketime.fileio import write_text
from spiketime.sim.emulator import EmulatorBackend
from spiketime.sim.nir_reference import NirReference


@dataclass(frozen=True)
class LayerAgreement:
    layer: str  # e.g. "layer 0 (linear_0, cuba_0, delay_0)"
    neurons: int
    reference_spikes: float  # per sample
    deployed_spikes: float
    agreement: float  # |both| / |either|
    identical_samples: float  # fraction of samples with every spike of the layer equal
    first_difference: int | None  # earliest step with a differing spike; None: none differ


def agreement(names: Sequence[str], reference: Sequence[np.ndarray],
              deployed: Sequence[np.ndarray]) -> tuple[LayerAgreement, ...]:
    """One row per layer from both sides' spikes uint8 [N, n_i, T], in layer order."""
    rows = []
    for name, ref, dep in zip(names, reference, deployed):
        ref, dep = np.asarray(ref, bool), np.asarray(dep, bool)
        if ref.shape != dep.shape:
            raise ValueError(f"{name}: reference spikes {ref.shape} vs deployed {dep.shape}")
        n = max(len(ref), 1)
        either = int((ref | dep).sum())
        differ = ref != dep
        steps = np.flatnonzero(differ.any(axis=(0, 1)))
        rows.append(LayerAgreement(
            layer=name, neurons=int(ref.shape[1]),
            reference_spikes=float(ref.sum() / n), deployed_spikes=float(dep.sum() / n),
            agreement=float((ref & dep).sum() / either) if either else 1.0,
            identical_samples=float((~differ.reshape(len(ref), -1).any(axis=1)).mean())
            if len(ref) else 1.0,
            first_difference=int(steps[0]) if steps.size else None))
    return tuple(rows)


def table(rows: Sequence[LayerAgreement]) -> str:
    """The rows as a markdown table."""
    lines = ["| layer | neurons | reference spikes/sample | deployed spikes/sample | "
             "spike agreement | identical samples | first differing step |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        first = "-" if r.first_difference is None else str(r.first_difference)
        lines.append(f"| {r.layer} | {r.neurons} | {r.reference_spikes:.1f} | "
                     f"{r.deployed_spikes:.1f} | {100 * r.agreement:.1f}% | "
                     f"{100 * r.identical_samples:.1f}% | {first} |")
    return "\n".join(lines)


# The files `write` puts in its folder: what compare --nir checks before its work starts.
LAYER_FILES = ("layers.json", "layers.md")


def write(folder: str | os.PathLike, rows: Sequence[LayerAgreement], heading: str) -> Path:
    """layers.md and layers.json in `folder`; returns the markdown's path."""
    folder = Path(folder)
    write_text(folder / "layers.json", json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    path = folder / "layers.md"
    write_text(path, f"# Per-layer spike agreement\n\n{heading}\n\n{table(rows)}\n")
    return path


def nir_vs_netx(reference: NirReference, netx: str | os.PathLike,
                X: np.ndarray) -> tuple[LayerAgreement, ...]:
    """Every layer of a NIR graph's float reference against the NetX network on the
    emulator, on spike trains X uint8 [N, C, T]."""
    ref = reference.run_layers(X)
    ran = EmulatorBackend().run(netx, X, hidden=True)
    names = [f"layer {i} ({', '.join(layer.names)})"
             for i, layer in enumerate(reference.net.layers)]
    return agreement(names, ref, [*ran.hidden, ran.output])
