"""How much a network fires, per layer: is there anything in its spikes to compare?

For spike trains uint8 [N, n, T] of one layer on N samples:

- spikes per neuron per sample: the spike count of every (sample, neuron) pair;
  the report gives their mean and 5th, 50th and 95th percentiles;
- a **silent** neuron fires on no step of any sample;
- a **saturated** neuron fires on nearly every step once it has started: pooled
  over the samples where it fires, its spikes cover at least `SATURATED_RATE` of
  the steps from its first spike to the end of the window, and that stretch is at
  least `SATURATED_SPAN` of the window on average. Counting from the first spike
  (not from step 0) is what lets a neuron that locks on after the first input
  spike, or behind an axonal delay and the synapse's one-step pipeline, count as
  firing every step;
- per side, the fraction of samples on which no output neuron fires and the number
  of distinct classes predicted (`spiketime.readout.predict`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spiketime.parity.reports import Activity, LayerActivity
from spiketime.readout import predict

SATURATED_RATE = 0.9  # fraction of steps fired from the first spike on
SATURATED_SPAN = 0.25  # the stretch from the first spike must cover this much of the window


def layer_activity(name: str, spikes: np.ndarray) -> LayerActivity:
    """Summarize one layer's spikes uint8 [N, n, T]."""
    spikes = np.asarray(spikes)
    n_samples, neurons, steps = spikes.shape
    counts = spikes.sum(axis=-1, dtype=np.int64)  # [N, n]
    fires = counts > 0
    first = spikes.argmax(axis=-1)  # first spike step, where the neuron fires
    span = np.where(fires, steps - first, 0)
    total, stretch = counts.sum(axis=0), span.sum(axis=0)
    silent = total == 0
    saturated = (~silent & (total >= SATURATED_RATE * stretch)
                 & (stretch >= SATURATED_SPAN * steps * n_samples))
    if counts.size:
        p5, p50, p95 = (float(v) for v in np.percentile(counts, [5, 50, 95]))
        mean = float(counts.mean())
    else:
        p5 = p50 = p95 = mean = 0.0
    frac = (lambda m: float(m.mean())) if neurons else (lambda m: 0.0)
    return LayerActivity(layer=name, neurons=int(neurons), mean=mean, p5=p5, p50=p50, p95=p95,
                         silent_fraction=frac(silent), saturated_fraction=frac(saturated))


def measure(output: np.ndarray, hidden: Sequence[np.ndarray] = ()) -> Activity:
    """One side's activity from its output spikes [N, K, T] and hidden layers' [N, n_i, T]."""
    output = np.asarray(output)
    n, _, steps = output.shape
    layers = [layer_activity(f"hidden {i + 1}", h) for i, h in enumerate(hidden)]
    layers.append(layer_activity("output", output))
    silent_samples = ~output.reshape(n, -1).any(axis=1)
    return Activity(samples=int(n), steps=int(steps),
                    no_output_fraction=float(silent_samples.mean()) if n else 0.0,
                    predicted_classes=int(len(np.unique(predict(output)))) if n else 0,
                    layers=tuple(layers))
