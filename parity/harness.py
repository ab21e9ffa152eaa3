"""Trained vs deployed on the very same samples: the one loop every parity job runs.

The trained side is slayer's forward pass of a checkpoint (or a `Reference` that runs
itself: a NIR graph's float dynamics); the deployed side is a NetX file on a backend.
A *condition* (`parity.conditions`) is a named transform of the test set; both sides
see its output. `run_grid` is the loop the pipeline and `spiketime compare` share:
per condition, the input is transformed once; per
checkpoint, the trained side runs once; per backend, the deployed side runs on the
rows that backend covers (every sample, or a seeded subset). An optional
confirming backend (Lava, when the primary is the emulator) reruns a subset, and
any spike it disagrees on is a failure. Results are found by condition label
(`find`), never by position. For the conditions named in `activity` (the original
by default) both sides also return their hidden layers, summarized at once
(`parity.activity`) so no spike array outlives its step: the trained side in the
same forward pass, the deployed side in the same backend run (no extra runs).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from spiketime.parity import verdict
from spiketime.parity.activity import measure
from spiketime.parity.conditions import Condition
from spiketime.parity.reports import Accuracy, Activity, Confirmation, ModelSummary
from spiketime.progress import progress
from spiketime.readout import predict
from spiketime.sim.backend import Backend
from spiketime.train.evaluate import run_trained, run_trained_layers
from spiketime.train.model import SpikingNet


@dataclass
class ConditionResult:
    condition: Condition
    labels: np.ndarray
    trained: np.ndarray  # output spikes [N, K, T]
    deployed: np.ndarray
    confirm: Confirmation | None = None  # confirming backend's verdict on a subset
    trained_activity: Activity | None = None  # on these rows, for conditions in `activity`
    deployed_activity: Activity | None = None

    @property
    def trained_pred(self) -> np.ndarray:
        return predict(self.trained)

    @property
    def deployed_pred(self) -> np.ndarray:
        return predict(self.deployed)

    @property
    def spike_exact(self) -> np.ndarray:
        """Per sample: are the two output spike trains identical?"""
        return (self.trained == self.deployed).reshape(len(self.labels), -1).all(axis=1)


@runtime_checkable
class Reference(Protocol):
    """A trained side that is not a slayer model: it runs itself (a NIR graph's float
    dynamics, say) and returns (output spikes [N, K, T], hidden layers' if asked)."""

    def reference_run(self, X: np.ndarray, hidden: bool = False
                      ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        ...


@dataclass(frozen=True)
class Deployment:
    """One model to compare: its name in reports, its trained side, its NetX file."""

    name: str
    model: SpikingNet | Reference  # deployments of one model share one object, and its runs
    netx: str | os.PathLike


@dataclass(frozen=True)
class Rows:
    """A backend and the samples it runs (None: every sample)."""

    backend: Backend
    rows: np.ndarray | None = None


def confirm_subset(n: int, size: int, seed: int) -> np.ndarray:
    """Indices of the samples a subset backend (re)runs (sorted, seeded)."""
    size = min(max(size, 0), n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


Grid = dict[tuple[str, str], list[ConditionResult]]  # (model, backend) -> per condition


def run_grid(deployments: Sequence[Deployment], X: np.ndarray, y: np.ndarray,
             conditions: Sequence[Condition], runs: Sequence[Rows], *,
             confirm: Rows | None = None, desc: str | None = None,
             activity: Collection[str] = ("original",)) -> Grid:
    """Every condition for every deployment on every backend, both sides on the same input.

    `confirm` reruns its rows on another backend and records whether every output
    spike agrees with the primary run (which must then cover every sample).
    `desc` names a progress bar over (condition, model) steps; None shows none.
    `activity` names the condition labels whose results carry both sides' activity.
    """
    if confirm is not None and any(r.rows is not None for r in runs):
        raise ValueError("a confirming backend needs primary runs over every sample")
    results: Grid = {}
    steps: Iterable = [(c, d) for c in conditions for d in deployments]
    if desc is not None:
        steps = progress(steps, desc=desc, total=len(conditions) * len(deployments))
    Xc, current, trained_of = X, None, {}
    for cond, dep in steps:
        if cond is not current:  # perturb once per condition, for every model and backend
            Xc, current, trained_of = cond.transform(X), cond, {}
        layers = cond.label in activity
        if id(dep.model) not in trained_of:
            trained_of[id(dep.model)] = _reference_side(dep.model, Xc, layers)
        trained, trained_hidden = trained_of[id(dep.model)]
        for run in runs:
            idx = np.arange(len(y)) if run.rows is None else run.rows
            ran = run.backend.run(dep.netx, Xc[idx], hidden=layers)
            deployed = ran.output
            result = ConditionResult(cond, y[idx], trained[idx], deployed)
            if layers:
                result.trained_activity = measure(trained[idx],
                                                  [h[idx] for h in trained_hidden])
                result.deployed_activity = measure(deployed, ran.hidden)
            if confirm is not None and len(confirm.rows):
                result.confirm = _confirm(confirm, dep.netx, Xc, deployed, cond)
            results.setdefault((dep.name, run.backend.name), []).append(result)
    return results


def _reference_side(model: SpikingNet | Reference, X: np.ndarray, hidden: bool
                    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The trained side's output (and hidden layers' when asked): slayer's forward pass of a
    checkpoint, or a float reference's own run (`sim.nir_reference.NirReference`)."""
    if isinstance(model, Reference):
        return model.reference_run(X, hidden=hidden)
    return run_trained_layers(model, X) if hidden else (run_trained(model, X), ())


def _confirm(confirm: Rows, netx: str | os.PathLike, Xc: np.ndarray, deployed: np.ndarray,
             cond: Condition) -> Confirmation:
    idx = confirm.rows
    check = confirm.backend.run(netx, Xc[idx]).output
    same = (check == deployed[idx]).reshape(len(idx), -1).all(axis=1)
    return Confirmation(backend=confirm.backend.name, samples=int(len(idx)),
                        identical=bool(same.all()),
                        mismatched_samples=tuple(int(i) for i in idx[~same]),
                        condition=cond.label)


def find(results: Iterable[ConditionResult], label: str) -> ConditionResult:
    """The result of the condition labelled `label` (e.g. "reversed", "jitter sigma=2")."""
    for r in results:
        if r.condition.label == label:
            return r
    raise KeyError(f"no result for condition {label!r}")


def summarize(results: list[ConditionResult], backend_name: str,
              confidence: float = 0.95) -> ModelSummary:
    """One model's trained-vs-deployed block: accuracies, reversal sensitivity, agreement,
    over its original and reversed results; with the evidence (`parity.verdict.assess`)
    when the original result carries activity."""
    orig, rev = find(results, "original"), find(results, "reversed")
    pair = [orig, rev]

    def side(pred_of: Callable[[ConditionResult], np.ndarray],
             backend: str | None = None) -> Accuracy:
        acc = float((pred_of(orig) == orig.labels).mean())
        acc_r = float((pred_of(rev) == rev.labels).mean())
        return Accuracy(acc, acc_r, acc - acc_r, backend)

    agree = np.concatenate([r.trained_pred == r.deployed_pred for r in pair])
    exact = np.concatenate([r.spike_exact for r in pair])
    return ModelSummary(
        trained=side(lambda r: r.trained_pred),
        deployed=side(lambda r: r.deployed_pred, backend_name),
        prediction_agreement=float(agree.mean()),
        spike_exact_fraction=float(exact.mean()),
        samples=int(len(orig.labels)),
        confirm=tuple(r.confirm for r in pair if r.confirm is not None),
        evidence=(verdict.assess(orig, orig.trained.shape[1], confidence)
                  if orig.trained_activity is not None else None),
    )


def exact_parity(summary: ModelSummary) -> bool:
    """Integer arithmetic on both sides: parity means every spike identical."""
    confirmed = all(c.identical for c in summary.confirm)
    return summary.spike_exact_fraction == 1.0 and confirmed
