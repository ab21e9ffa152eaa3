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


def _layer_parts(spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (sample, neuron) spike counts int64 [N, n] and per neuron the summed stretch
    from first spike to window end int64 [n]: all `layer_activity` needs of the spikes."""
    steps = spikes.shape[-1]
    counts = spikes.sum(axis=-1, dtype=np.int64)  # [N, n]
    first = spikes.argmax(axis=-1)  # first spike step, where the neuron fires
    span = np.where(counts > 0, steps - first, 0)
    return counts, span.sum(axis=0, dtype=np.int64)


def _summarize(name: str, counts: np.ndarray, stretch: np.ndarray, steps: int) -> LayerActivity:
    n_samples, neurons = counts.shape
    total = counts.sum(axis=0)
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


def layer_activity(name: str, spikes: np.ndarray) -> LayerActivity:
    """Summarize one layer's spikes uint8 [N, n, T]."""
    spikes = np.asarray(spikes)
    return _summarize(name, *_layer_parts(spikes), spikes.shape[-1])


def measure(output: np.ndarray, hidden: Sequence[np.ndarray] = ()) -> Activity:
    """One side's activity from its output spikes [N, K, T] and hidden layers' [N, n_i, T]."""
    tally = ActivityTally()
    tally.add(output, hidden)
    return tally.result()


class ActivityTally:
    """`measure` over samples that come a batch at a time: `add` each batch's output
    and hidden spikes, `result()` is what `measure` of them all concatenated gives,
    exactly, while only per-(sample, neuron) counts are kept (not the spike trains)."""

    def __init__(self) -> None:
        self._counts: list[list[np.ndarray]] = []  # per layer (hidden..., output), per batch
        self._stretch: list[np.ndarray] = []
        self._silent: list[np.ndarray] = []
        self._predicted: list[np.ndarray] = []
        self._shape: tuple[int, ...] | None = None  # (K, T), then the hidden widths

    def add(self, output: np.ndarray, hidden: Sequence[np.ndarray] = ()) -> None:
        output = np.asarray(output)
        n, k, steps = output.shape
        shape = (k, steps, *(np.shape(h)[1] for h in hidden))
        if self._shape is None:
            self._shape = shape
            self._counts = [[] for _ in range(len(hidden) + 1)]
            self._stretch = [np.zeros(w, np.int64) for w in (*shape[2:], k)]
        elif shape != self._shape:
            raise ValueError(f"batch layer shapes {shape} differ from the first batch's "
                             f"{self._shape}")
        for i, spikes in enumerate((*hidden, output)):
            counts, stretch = _layer_parts(np.asarray(spikes))
            self._counts[i].append(counts)
            self._stretch[i] += stretch
        self._silent.append(~output.reshape(n, -1).any(axis=1))
        self._predicted.append(predict(output) if n else np.zeros(0, np.int64))

    def result(self) -> Activity:
        if self._shape is None:
            raise ValueError("no batch was added")
        steps = self._shape[1]
        names = [f"hidden {i + 1}" for i in range(len(self._counts) - 1)] + ["output"]
        layers = tuple(_summarize(name, np.concatenate(c), stretch, steps)
                       for name, c, stretch in zip(names, self._counts, self._stretch))
        silent, predicted = np.concatenate(self._silent), np.concatenate(self._predicted)
        n = len(silent)
        return Activity(samples=int(n), steps=int(steps),
                        no_output_fraction=float(silent.mean()) if n else 0.0,
                        predicted_classes=int(len(np.unique(predicted))) if n else 0,
                        layers=layers)
