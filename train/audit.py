"""Rate-only audit: how well do per-channel spike counts alone predict the class?

Features are each sample's spike count per channel (time is summed away), standardised
and fed to a multinomial logistic regression, scored by stratified k-fold
cross-validation over both splits pooled (folds shrink to the smallest class size). On a dataset that tests timing the accuracy
should sit at chance (the majority-class fraction); `p_value` is the one-sided
binomial probability of doing at least this well by guessing at chance.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from spiketime.errors import UserError
from spiketime.train.dataset import Dataset


def count_features(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel spike counts [N, C] (float) and labels [N] over both splits."""
    X = np.concatenate([s.X.sum(axis=2, dtype=np.int64) for s in (ds.train, ds.test)])
    y = np.concatenate([ds.train.y, ds.test.y])
    return X.astype(np.float64), y


def rate_audit(ds: Dataset, *, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Cross-validated accuracy of a counts-only classifier beside chance."""
    from scipy.stats import binomtest
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not (isinstance(folds, (int, np.integer)) and folds >= 2):
        raise UserError(f"folds must be an integer >= 2, got {folds!r}")
    feats, y = count_features(ds)
    per_class = np.bincount(y, minlength=ds.n_classes)
    k = min(int(folds), int(per_class.min()))  # a valid Dataset has >= 2 per class
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pred = cross_val_predict(model, feats, y, cv=cv)
    correct = pred == y
    fold_acc = [float(correct[test].mean()) for _, test in cv.split(feats, y)]
    chance = float(per_class.max() / per_class.sum())
    p_value = binomtest(int(correct.sum()), len(y), chance, alternative="greater").pvalue
    return {
        "rate_accuracy": float(correct.mean()),
        "rate_accuracy_std": float(np.std(fold_acc)),
        "chance": chance,
        "p_value": float(p_value),
        "folds": k,
        "n_samples": int(len(y)),
        "n_classes": ds.n_classes,
        "channels": ds.channels,
        "steps": ds.steps,
        "task": ds.meta.task,
        "variant": ds.meta.variant,
    }
