"""report.json as typed dataclasses: the one module that writes and reads it.

Two kinds of report share one schema version: `PipelineReport` (`spiketime
pipeline`) and `CompareReport` (`spiketime compare`); the experiment grid's
`ExperimentResults` (results.json) has its own, at the end of this module. Each
class has `to_dict` and `from_dict`, driven by its field types (`spiketime.records`); the
dict is exactly the JSON on disk. `parity.report_files.write_report` writes report.json,
report.md and the plots (`parity.render`); `read_report` reads report.json back, refusing
an unknown schema version with one clear line. This module imports no renderer.

Version 1 is the format spiketime has always written; its pipeline reports carry
no "kind" key, so a version-1 report without one is a pipeline report. Version 2
adds the evidence behind a verdict: per-layer activity and degeneracy of both
sides (`Evidence`), a three-valued verdict with its reasons (`Decision`), and the
resolution of each statistical row. Version-1 reports read back with those fields
None and write back without them. Artefact paths in a report are relative to the
report's own folder.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spiketime.errors import UserError
from spiketime.parity.chance import at_chance, sensitivity_at_chance
from spiketime.records import Record, json_field

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 has no evidence, decision or row resolution

# The verdicts, their one home (parity.verdict decides which; render and the CLI name them).
PASSED, FAILED, INCONCLUSIVE = "PASSED", "FAILED", "INCONCLUSIVE"


def relative(path: str | os.PathLike, base: str | os.PathLike) -> str:
    return os.path.relpath(Path(path).resolve(), Path(base).resolve())


# --- the pieces both kinds share -------------------------------------------------
# Each class's JSON is its fields by type (`spiketime.records`); `json_field` and
# `json_order` keep the shapes report.json has always had.


@dataclass(frozen=True)
class Task(Record):
    name: str
    variant: str
    classes: int
    class_names: tuple[str, ...]
    channels: int
    steps: int
    data: str  # the dataset file, relative to the report's folder
    test_samples: int
    netx_format_version: int
    split: str | None = json_field(default=None, omit_none=True)  # compare: the split compared

    json_order = ("name", "variant", "classes", "class_names", "channels", "steps", "data",
                  "split")


@dataclass(frozen=True)
class Accuracy(Record):
    """One side's accuracy on the original and the time-reversed samples."""

    accuracy: float
    accuracy_reversed: float
    reversal_sensitivity: float  # accuracy - accuracy_reversed
    backend: str | None = json_field(default=None, omit_none=True)  # the deployed side's

    json_order = ("backend",)


@dataclass(frozen=True)
class Confirmation(Record):
    """A confirming backend's rerun of some samples of one condition."""

    backend: str
    samples: int
    identical: bool
    mismatched_samples: tuple[int, ...]
    condition: str


@dataclass(frozen=True)
class LayerActivity(Record):
    """One layer's spikes on a set of samples (`parity.activity` defines the terms)."""

    layer: str  # "hidden 1", ..., "output"
    neurons: int
    # spikes per neuron per sample: the mean, and percentiles over every (sample, neuron)
    mean: float = json_field(group="spikes_per_neuron_per_sample")
    p5: float = json_field(group="spikes_per_neuron_per_sample")
    p50: float = json_field(group="spikes_per_neuron_per_sample")
    p95: float = json_field(group="spikes_per_neuron_per_sample")
    silent_fraction: float = json_field()  # neurons that never fire on any sample
    saturated_fraction: float = json_field()  # fire on (nearly) every step once they start


@dataclass(frozen=True)
class Activity(Record):
    """One side's activity on the original samples: every layer, the output last."""

    samples: int
    steps: int
    no_output_fraction: float  # samples on which no output neuron fires
    predicted_classes: int  # distinct classes predicted over the samples
    layers: tuple[LayerActivity, ...]


@dataclass(frozen=True)
class Evidence(Record):
    """Is there anything to compare? The chance interval and both sides' activity."""

    confidence: float
    chance: tuple[float, float]  # accuracy a no-information predictor reaches (`parity.verdict`)
    trained: Activity
    deployed: Activity
    degenerate: tuple[str, ...]  # why the evidence is degenerate; () when it is not

    def at_chance(self, accuracy: float) -> bool:
        return at_chance(accuracy, self.chance)

    def sensitivity_at_chance(self, side: Accuracy) -> bool:
        """Is this side's reversal sensitivity undefined (both accuracies at chance)?"""
        return sensitivity_at_chance(self.chance, (side.accuracy, side.accuracy_reversed))


@dataclass(frozen=True)
class Decision(Record):
    """A verdict with its reasons: PASSED, FAILED or INCONCLUSIVE (`parity.verdict.decide`)."""

    verdict: str
    reasons: tuple[str, ...] = ()  # what failed, or why the evidence cannot decide
    warnings: tuple[str, ...] = ()  # degenerate evidence let through by --allow-degenerate
    allow_degenerate: bool = False

    def __post_init__(self) -> None:
        if self.verdict not in (PASSED, FAILED, INCONCLUSIVE):
            raise ValueError(f"unknown verdict {self.verdict!r}")


@dataclass(frozen=True)
class ModelSummary(Record):
    """Trained vs deployed for one model on the original and reversed samples."""

    trained: Accuracy
    deployed: Accuracy
    prediction_agreement: float
    spike_exact_fraction: float
    samples: int
    confirm: tuple[Confirmation, ...] = ()
    evidence: Evidence | None = json_field(default=None, omit_none=True)  # None in version 1


@dataclass(frozen=True)
class Training(Record):
    epochs: int
    final_loss: float
    final_train_accuracy: float
    # training samples with no output spike, classes predicted (both None in version 1)
    final_silent_fraction: float | None = json_field(default=None, omit_none=True)
    final_predicted_classes: int | None = json_field(default=None, omit_none=True)


@dataclass(frozen=True)
class ModelResult(Record):
    """One model: its files (relative to the report) and its summary."""

    name: str
    checkpoint: str
    netx: str
    summary: ModelSummary = json_field(flatten=True)
    training: Training | None = json_field(default=None, omit_none=True)  # pipeline reports

    json_order = ("name", "checkpoint", "netx", "training")


# --- pipeline reports ---------------------------------------------------------------


@dataclass(frozen=True)
class ExactParity(Record):
    """The pipeline's rule: integer arithmetic on both sides, so every spike identical;
    `passed` is true only when the verdict is PASSED."""

    passed: bool
    tolerance: dict[str, Any] = field(init=False, default_factory=lambda: {
        "spike_exact_fraction": 1.0, "confirming_backend_mismatches": 0})  # the rule: a constant
    decision: Decision | None = json_field(default=None, flatten=True)  # None in version 1

    @property
    def verdict(self) -> str:
        return verdict_of(self.passed, self.decision)


def verdict_of(passed: bool, decision: Decision | None) -> str:
    """PASSED, FAILED or INCONCLUSIVE (version-1 reports knew only the first two)."""
    if decision is not None:
        return decision.verdict
    return PASSED if passed else FAILED


class _Report(Record):
    """report.json's two header keys, then the report's fields."""

    kind = ""

    def to_dict(self) -> dict[str, Any]:
        return {"report_version": SCHEMA_VERSION, "kind": self.kind, **super().to_dict()}


@dataclass(frozen=True)
class PipelineReport(_Report):
    task: Task
    models: tuple[ModelResult, ...]
    parity: ExactParity
    plots: tuple[str, ...] = ()  # file names beside report.json, set when written

    kind = "pipeline"


# --- compare reports ---------------------------------------------------------------


@dataclass(frozen=True)
class Resolution(Record):
    """What one statistical row could tell, and what it says (`parity.verdict`)."""

    verdict: str  # "pass", "fail", "inconclusive" or "undefined at chance"
    statistical: bool  # judged by its interval alone (no spike identity to lean on)
    # smallest rate of changed decisions these samples reveal (fraction)
    detectable: float = json_field(key="detectable_difference")
    samples_needed: int | None = json_field()  # to resolve the tolerance (None: no number does)
    note: str = ""


@dataclass(frozen=True)
class ConditionVerdict(Record):
    """Deployed minus trained for one (model, condition, backend), paired."""

    model: str
    name: str
    level: float | None
    label: str
    backend: str
    samples: int
    trained_accuracy: float
    deployed_accuracy: float
    difference: float
    ci: tuple[float, float]
    mcnemar_p: float
    mcnemar_test: str
    deployed_worse: int = json_field(group="discordant")
    deployed_better: int = json_field(group="discordant")
    agreement: float = json_field()
    spike_exact_fraction: float = json_field()
    within_tolerance: bool = json_field()
    passed: bool = json_field()  # the row's verdict is "pass"
    resolution: Resolution | None = json_field(default=None, flatten=True)  # None in version 1

    @property
    def verdict(self) -> str:
        return self.resolution.verdict if self.resolution else ("pass" if self.passed else "fail")


@dataclass(frozen=True)
class SensitivityVerdict(Record):
    """Reversal sensitivity, deployed minus trained, for one (model, backend)."""

    model: str
    backend: str
    samples: int
    trained: float
    deployed: float
    difference: float
    ci: tuple[float, float]
    sign_test_p: float
    sign_test: str
    passed: bool  # the row's verdict is "pass"
    resolution: Resolution | None = json_field(default=None, flatten=True)  # None in version 1

    @property
    def verdict(self) -> str:
        return self.resolution.verdict if self.resolution else ("pass" if self.passed else "fail")


@dataclass(frozen=True)
class ToleranceParity(Record):
    """The compare rule: every paired interval inside +/- difference_pp (and exact spikes)."""

    passed: bool
    rule: str
    difference_pp: float = json_field(group="tolerance")
    confidence: float = json_field(group="tolerance")
    resamples: int = json_field(group="tolerance")
    exact_spikes: bool = json_field(group="tolerance")
    failed: tuple[str, ...] = json_field()  # "model/condition/backend" of every failed verdict
    decision: Decision | None = json_field(default=None, flatten=True)  # None in version 1

    @property
    def tolerance(self) -> dict[str, Any]:
        return {"difference_pp": self.difference_pp, "confidence": self.confidence,
                "resamples": self.resamples, "exact_spikes": self.exact_spikes}

    @property
    def verdict(self) -> str:
        return verdict_of(self.passed, self.decision)


@dataclass(frozen=True)
class CompareSettings(Record):
    backends: tuple[str, ...]
    lava_subset: int
    subset_samples: tuple[int, ...]
    seed: int
    levels: dict[str, tuple[float, ...]]
    split: str
    elapsed_s: float


@dataclass(frozen=True)
class CompareReport(_Report):
    task: Task
    models: tuple[ModelResult, ...]
    conditions: tuple[ConditionVerdict, ...]
    sensitivity: tuple[SensitivityVerdict, ...]
    parity: ToleranceParity
    settings: CompareSettings
    plots: tuple[str, ...] = ()

    kind = "compare"


Report = PipelineReport | CompareReport
KINDS: dict[str, type[PipelineReport] | type[CompareReport]] = {
    PipelineReport.kind: PipelineReport, CompareReport.kind: CompareReport}


# --- reading and writing ---------------------------------------------------------------


def from_dict(d: dict) -> Report:
    """The report a report.json dict holds (ValueError/KeyError/TypeError when it is not one)."""
    if not isinstance(d, dict) or "report_version" not in d:
        raise ValueError("no report_version")
    version = d["report_version"]
    if type(version) is not int or version not in READABLE_VERSIONS:  # True == 1, 1.0 == 1
        raise _UnknownVersion(version)
    kind = d.get("kind", PipelineReport.kind)  # version 1 pipeline reports carry no kind
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    return KINDS[kind].from_dict(d)


class _UnknownVersion(Exception):
    def __init__(self, version: object) -> None:
        self.version = version


def read_report(path: str | os.PathLike) -> Report:
    """Read a report.json written by `write_report` (any kind); one `UserError` line if not."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"report file {path} is a folder, not a file")
    if not path.is_file():
        raise UserError(f"report file not found: {path}")
    try:
        return from_dict(json.loads(path.read_text()))
    except _UnknownVersion as exc:
        raise UserError(f"{path} has report version {exc.version!r}; this spiketime reads "
                        f"versions {', '.join(map(str, READABLE_VERSIONS))}") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise UserError(f"{path} is not a spiketime report ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


# Every file `write_report` may write into its folder (plots as `render.plots` names
# them): what a command checks before its work starts.
REPORT_FILES = ("report.json", "report.md", "accuracy.png", "activity.png", "sweep.png",
                "parity.png", "raster.png")


# --- the experiment grid's results.json (`spiketime experiment`) ------------------------
# Its own schema version: these are statistics over cells (parity.claims), not one run.

EXPERIMENT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Stat(Record):
    """Mean over seeds and its 95 % t-interval (lo = hi = None with fewer than 2 seeds)."""

    mean: float
    lo: float | None
    hi: float | None
    n: int

    def text(self, scale: float = 100.0, unit: str = "%") -> str:
        if self.n == 0:
            return "-"
        if self.lo is None:
            return f"{self.mean * scale:.1f}{unit}"
        return f"{self.mean * scale:.1f}{unit} [{self.lo * scale:.1f}, {self.hi * scale:.1f}]"


NO_STAT = Stat(math.nan, None, None, 0)  # nothing measured (files from before a field)


@dataclass(frozen=True)
class Row(Record):
    task: str
    model: str
    label: str
    name: str
    level: float | None
    trained: Stat
    deployed: Stat
    spike_exact: float  # lowest fraction over seeds


@dataclass(frozen=True)
class TaskAudit(Record):
    task: str
    generator: dict
    rate: Stat
    position: Stat
    chance: float
    shortcuts: tuple[str, ...]
    reference: Stat = NO_STAT  # the non-spiking reference's test accuracy over seeds


@dataclass(frozen=True)
class Claim(Record):
    claim: str
    task: str
    model: str
    measure: str
    effect: Stat
    status: str  # reproduced | not reproduced | inconclusive | not enough seeds | not measured
    detail: str = ""


@dataclass(frozen=True)
class ExperimentResults(Record):
    grid: dict
    audits: tuple[TaskAudit, ...]
    rows: tuple[Row, ...]
    claims: tuple[Claim, ...]
    targets: tuple[Claim, ...]
    cells: int
    missing: tuple[str, ...]
    spike_exact: bool  # every output spike identical, every cell and condition
    lava_confirmed: tuple[int, int]  # (cells whose Lava subset agreed, cells confirmed)
    seconds: float  # summed cell time
    schema_version: int = EXPERIMENT_SCHEMA_VERSION
    kind: str = "experiment"

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentResults:
        if d.get("kind") != "experiment" or d.get("schema_version") != EXPERIMENT_SCHEMA_VERSION:
            raise ValueError(f"not experiment results of schema version "
                             f"{EXPERIMENT_SCHEMA_VERSION}")
        return super().from_dict(d)

    def row(self, task: str, model: str, label: str) -> Row | None:
        for r in self.rows:
            if (r.task, r.model, r.label) == (task, model, label):
                return r
        return None


def read_experiment_results(path: str | os.PathLike) -> ExperimentResults:
    try:
        return ExperimentResults.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a spiketime experiment results file ({e})") from None
