"""Trained vs deployed: run both sides on the very same samples and compare.

The trained side is slayer's forward pass of the checkpoint; the deployed side is
a NetX file on a backend. A *condition* is a named transform of the test set
(original, time-reversed, ...); both sides see its output. The primary backend
runs every sample; an optional confirming backend (Lava, when the primary is the
emulator) reruns a subset, and any spike it disagrees on is a failure.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from spiketime.sim.backend import Backend
from spiketime.readout import predict
from spiketime.train.evaluate import run_trained
from spiketime.train.model import SpikingNet
from spiketime.train.perturb import reverse


@dataclass(frozen=True)
class Condition:
    name: str  # e.g. "original", "reversed", "jitter"
    transform: Callable[[np.ndarray], np.ndarray]
    level: float | None = None  # perturbation strength, where it has one


ORIGINAL = Condition("original", lambda X: X)
REVERSED = Condition("reversed", reverse)


@dataclass
class ConditionResult:
    condition: Condition
    labels: np.ndarray
    trained: np.ndarray  # output spikes [N, K, T]
    deployed: np.ndarray
    confirm: dict = field(default_factory=dict)  # confirming backend's verdict on a subset

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


def confirm_subset(n: int, size: int, seed: int) -> np.ndarray:
    """Indices of the samples the confirming backend reruns (sorted, seeded)."""
    size = min(max(size, 0), n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def run_condition(model: SpikingNet, netx_file: str | os.PathLike, X: np.ndarray, y: np.ndarray,
                  condition: Condition, backend: Backend, confirm: Backend | None = None,
                  confirm_size: int = 0, seed: int = 0) -> ConditionResult:
    Xc = condition.transform(X)
    deployed = backend.run(netx_file, Xc).output
    result = ConditionResult(condition, y, run_trained(model, Xc), deployed)
    if confirm is not None and confirm_size > 0:
        idx = confirm_subset(len(Xc), confirm_size, seed)
        check = confirm.run(netx_file, Xc[idx]).output
        same = (check == deployed[idx]).reshape(len(idx), -1).all(axis=1)
        result.confirm = {"backend": confirm.name, "samples": int(len(idx)),
                          "identical": bool(same.all()), "mismatched_samples": idx[~same].tolist()}
    return result


def summarize(results: list[ConditionResult], backend_name: str) -> dict:
    """The pipeline's per-model block: accuracies, reversal sensitivity, agreement."""
    by_name = {r.condition.name: r for r in results}
    orig, rev = by_name["original"], by_name["reversed"]

    def side(pred_of: Callable[[ConditionResult], np.ndarray]) -> dict:
        acc = float((pred_of(orig) == orig.labels).mean())
        acc_r = float((pred_of(rev) == rev.labels).mean())
        return {"accuracy": acc, "accuracy_reversed": acc_r, "reversal_sensitivity": acc - acc_r}

    agree = np.concatenate([r.trained_pred == r.deployed_pred for r in results])
    exact = np.concatenate([r.spike_exact for r in results])
    return {
        "trained": side(lambda r: r.trained_pred),
        "deployed": {"backend": backend_name, **side(lambda r: r.deployed_pred)},
        "prediction_agreement": float(agree.mean()),
        "spike_exact_fraction": float(exact.mean()),
        "samples": int(len(orig.labels)),
        "confirm": [r.confirm | {"condition": r.condition.name} for r in results if r.confirm],
    }


def exact_parity(summary: dict) -> bool:
    """Integer arithmetic on both sides: parity means every spike identical."""
    confirmed = all(c["identical"] for c in summary["confirm"])
    return summary["spike_exact_fraction"] == 1.0 and confirmed
