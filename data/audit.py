"""Shortcut audits: can the class be found without reading spike timing?

Two classifiers, each a standardised multinomial logistic regression scored by
stratified k-fold cross-validation over both splits pooled (folds shrink to the
smallest class size):
- rate: each channel's spike count (time summed away);
- position: each channel's first- and last-spike step (a silent channel gets
  first = T, last = -1). No interval between spikes enters, so a classifier that
  beats chance on these reads where spikes sit in the window, the cue that
  in-window event placement leaves (the leading channel of a pair never fires in
  the last d steps).
On speech (SHD/SSC-derived tasks) when a channel fires is itself the timing the
experiment asks about, so there the position read-out is reported as a linear timing
baseline, not a shortcut: only rate can be one.
On a synthetic dataset that tests timing both sit at chance (the majority-class fraction);
`p_value` is the one-sided binomial probability of doing at least this well by
guessing. A shortcut is called open when its accuracy is more than
`SHORTCUT_MARGIN` above chance (the tolerance the timing experiments are held to)
and that is unlikely to be sampling noise (p < `SHORTCUT_P`): with a few hundred
samples a classifier on pure noise can land 3 points above chance.

The features come from one pass over the data, `AUDIT_BATCH` samples made dense at
a time (`audit_features`): given an `OpenDataset`, an events file is never dense
whole. The classifier then holds the feature matrix, N x 3C float64 (1.6 GB for
SSC's 95,382 samples x 700 channels), and the copies scikit-learn makes of it.

Beside the shortcuts, what the data allows: `reference_audit` trains a small
non-spiking recurrent network (`spiketime.data.reference`) on the train split and
scores it on the test split, so a spiking network's accuracy has a ceiling to be read
against as well as a floor.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from spiketime.data.dataset import Dataset, OpenDataset, Split
from spiketime.data.reference import ReferenceConfig, ReferenceResult, train_reference
from spiketime.data.sources import ArraySource, Source
from spiketime.data.speech import N_CLASSES
from spiketime.errors import UserError
from spiketime.records import Record, json_field

SHORTCUT_MARGIN = 0.03  # accuracy above chance that counts as an open shortcut ...
SHORTCUT_P = 0.01  # ... when a guess at chance would do that well less often than this
SPEECH_TASKS = frozenset(N_CLASSES)  # where first/last spike times are timing, not a cue
AUDIT_BATCH = 256  # samples made dense at a time: 256 x 700 x 250 bytes is 45 MB


def _sources(ds: Dataset | OpenDataset) -> tuple[Source, Source]:
    """Both splits as batch sources: a dense `Dataset`'s arrays, or an `OpenDataset`'s
    sources as they are (an events file stays on disk)."""
    return tuple(ArraySource(s.X, s.y) if isinstance(s, Split) else s
                 for s in (ds.train, ds.test))


def _per_batch(ds: Dataset | OpenDataset, *features) -> tuple[list[np.ndarray], np.ndarray]:
    """Each feature function applied to every batch of both splits in turn, its rows
    filled into one float64 array, and the labels: only one batch is ever dense, and
    beyond it only the feature arrays themselves are held."""
    sources = _sources(ds)
    n = sum(len(src) for src in sources)
    out: list[np.ndarray] = []
    row = 0
    for src in sources:
        for lo in range(0, len(src), AUDIT_BATCH):
            X = src.batch(np.arange(lo, min(lo + AUDIT_BATCH, len(src))))
            parts = [f(X) for f in features]
            if not out:
                out = [np.empty((n, part.shape[1]), np.float64) for part in parts]
            for dest, part in zip(out, parts):
                dest[row:row + len(X)] = part
            row += len(X)
    labels = np.concatenate([np.asarray(src.labels, np.int64) for src in sources])
    return out, labels


def audit_features(ds: Dataset | OpenDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts [N, C], positions [N, 2C] (float64) and labels [N] over both splits, from
    one pass over the data a batch at a time (what `shortcut_audit` classifies)."""
    (counts, positions), y = _per_batch(ds, _counts, _positions)
    return counts, positions, y


def _counts(X: np.ndarray) -> np.ndarray:
    return X.sum(axis=2, dtype=np.int64)


def _positions(X: np.ndarray) -> np.ndarray:
    steps = X.shape[2]
    fired = X.any(axis=2)
    first = np.where(fired, X.argmax(axis=2), steps)
    last = np.where(fired, steps - 1 - X[:, :, ::-1].argmax(axis=2), -1)
    return np.concatenate([first, last], axis=1)


def count_features(ds: Dataset | OpenDataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel spike counts [N, C] (float) and labels [N] over both splits."""
    (feats,), y = _per_batch(ds, _counts)
    return feats, y


def position_features(ds: Dataset | OpenDataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel first- and last-spike steps [N, 2C] (float) and labels [N]."""
    (feats,), y = _per_batch(ds, _positions)
    return feats, y


def _check_cv(folds: int, seed: int) -> None:
    if not (isinstance(folds, (int, np.integer)) and not isinstance(folds, bool) and folds >= 2):
        raise UserError(f"folds must be an integer >= 2, got {folds!r}")
    if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise UserError(f"seed must be an integer >= 0, got {seed!r}")


def _cross_validate(feats: np.ndarray, y: np.ndarray, n_classes: int, folds: int,
                    seed: int) -> dict[str, Any]:
    """Accuracy (mean and fold spread), chance and binomial p of one feature set."""
    from scipy.stats import binomtest
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _check_cv(folds, seed)
    per_class = np.bincount(y, minlength=n_classes)
    k = min(int(folds), int(per_class.min()))  # a valid Dataset has >= 2 per class
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=int(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pred = cross_val_predict(model, feats, y, cv=cv)
    correct = pred == y
    fold_acc = [float(correct[test].mean()) for _, test in cv.split(feats, y)]
    chance = float(per_class.max() / per_class.sum())
    p_value = binomtest(int(correct.sum()), len(y), chance, alternative="greater").pvalue
    return {"accuracy": float(correct.mean()), "accuracy_std": float(np.std(fold_acc)),
            "chance": chance, "p_value": float(p_value), "folds": k}


@dataclass(frozen=True)
class AuditedData(Record):
    """What was audited: both splits pooled."""

    n_samples: int
    n_classes: int
    channels: int
    steps: int
    task: str
    variant: str


@dataclass(frozen=True)
class RateAudit(Record):
    """The counts-only classifier: accuracy (mean and fold spread), chance, binomial p."""

    rate_accuracy: float
    rate_accuracy_std: float
    chance: float
    p_value: float
    folds: int
    data: AuditedData = json_field(flatten=True)


@dataclass(frozen=True)
class PositionAudit(Record):
    """The first/last-spike-position classifier, the same measures as `RateAudit`."""

    position_accuracy: float
    position_accuracy_std: float
    chance: float
    position_p_value: float
    folds: int
    data: AuditedData = json_field(flatten=True)


@dataclass(frozen=True, kw_only=True)
class AuditResult(Record):
    """`shortcut_audit`'s result: both audits (written as one flat object, the keys
    `data audit --json` has always printed), the reference when one was trained, the
    shortcuts left open and the one-line verdict."""

    rate: RateAudit = json_field(flatten=True)
    position: PositionAudit = json_field(flatten=True)
    reference: ReferenceResult | None = json_field(default=None, omit_none=True)
    shortcuts: tuple[str, ...]
    best_audit_accuracy: float
    verdict: str

    @property
    def data(self) -> AuditedData:
        return self.rate.data

    @property
    def chance(self) -> float:
        return self.rate.chance

    @classmethod
    def of(cls, rate: RateAudit, position: PositionAudit,
           reference: ReferenceResult | None = None) -> AuditResult:
        """The result of these audits: the shortcuts they leave open and the verdict."""
        open_ = open_shortcuts(rate, position)
        accuracy = {"rate": rate.rate_accuracy, "position": position.position_accuracy}
        chance = rate.chance
        if open_:
            detail = " and ".join(f"{n} ({accuracy[n]:.3f})" for n in open_)
            verdict = (f"shortcut open: {detail} beats chance ({chance:.3f}) by more "
                       f"than {SHORTCUT_MARGIN:.2f} (p < {SHORTCUT_P}); accuracy here "
                       f"does not show timing")
        elif rate.data.task in SPEECH_TASKS:
            verdict = (f"no rate shortcut found: counts do not beat chance ({chance:.3f}) "
                       f"by more than {SHORTCUT_MARGIN:.2f} at p < {SHORTCUT_P}; first/"
                       f"last spike times reach {accuracy['position']:.3f}, a "
                       f"linear timing baseline (on speech, when a channel fires is "
                       f"timing)")
        else:
            verdict = (f"no rate or position shortcut found: neither beats chance "
                       f"({chance:.3f}) by more than {SHORTCUT_MARGIN:.2f} at p < "
                       f"{SHORTCUT_P}")
        return cls(rate=rate, position=position, reference=reference,
                   shortcuts=tuple(open_), best_audit_accuracy=max(accuracy.values()),
                   verdict=verdict)


def _describe(ds: Dataset | OpenDataset, n: int) -> AuditedData:
    return AuditedData(n_samples=n, n_classes=ds.n_classes, channels=ds.channels,
                       steps=ds.steps, task=ds.meta.task, variant=ds.meta.variant)


def _rate(ds: Dataset | OpenDataset, feats: np.ndarray, y: np.ndarray, folds: int,
          seed: int) -> RateAudit:
    r = _cross_validate(feats, y, ds.n_classes, folds, seed)
    return RateAudit(rate_accuracy=r["accuracy"], rate_accuracy_std=r["accuracy_std"],
                     chance=r["chance"], p_value=r["p_value"], folds=r["folds"],
                     data=_describe(ds, len(y)))


def _position(ds: Dataset | OpenDataset, feats: np.ndarray, y: np.ndarray, folds: int,
              seed: int) -> PositionAudit:
    r = _cross_validate(feats, y, ds.n_classes, folds, seed)
    return PositionAudit(position_accuracy=r["accuracy"],
                         position_accuracy_std=r["accuracy_std"], chance=r["chance"],
                         position_p_value=r["p_value"], folds=r["folds"],
                         data=_describe(ds, len(y)))


def rate_audit(ds: Dataset | OpenDataset, *, folds: int = 5, seed: int = 0) -> RateAudit:
    """Cross-validated accuracy of a counts-only classifier beside chance."""
    return _rate(ds, *count_features(ds), folds, seed)


def position_audit(ds: Dataset | OpenDataset, *, folds: int = 5,
                   seed: int = 0) -> PositionAudit:
    """Cross-validated accuracy of a first/last-spike-position classifier beside chance."""
    return _position(ds, *position_features(ds), folds, seed)


def shortcut_audit(ds: Dataset | OpenDataset, *, folds: int = 5, seed: int = 0,
                   reference: ReferenceConfig | None = None) -> AuditResult:
    """Both audits (their features from one pass over the data), the shortcuts they
    leave open, and a one-line verdict. `ds` may be an `OpenDataset`: an events file
    is then read a batch at a time and never made dense whole. With `reference`, also
    the non-spiking reference trained on the train split and scored on the test split
    (`reference_audit`)."""
    _check_cv(folds, seed)  # before a pass over a large file, not after
    counts, positions, y = audit_features(ds)
    rate, position = _rate(ds, counts, y, folds, seed), _position(ds, positions, y, folds, seed)
    trained = None if reference is None else reference_audit(ds, seed=seed, config=reference)
    return AuditResult.of(rate, position, trained)


def reference_audit(ds: Dataset | OpenDataset, *, seed: int = 0,
                    config: ReferenceConfig | None = None) -> ReferenceResult:
    """The non-spiking reference (`spiketime.data.reference`; its defaults without
    `config`) on the dataset's own train/test split, its batches read from the split's
    source (never dense whole)."""
    train, test = _sources(ds)
    return train_reference(train, test, ds.n_classes, seed=seed, config=config)


def open_shortcuts(rate: RateAudit, position: PositionAudit) -> list[str]:
    """The shortcuts these audits leave open (see the module docstring): on speech
    tasks only rate can be one."""
    found = {"rate": (rate.rate_accuracy, rate.p_value),
             "position": (position.position_accuracy, position.position_p_value)}
    names = ("rate",) if rate.data.task in SPEECH_TASKS else ("rate", "position")
    return [name for name in names
            if found[name][0] - rate.chance > SHORTCUT_MARGIN and found[name][1] < SHORTCUT_P]
