"""report.json as typed dataclasses: the one module that writes and reads it.

Two kinds of report share one schema version: `PipelineReport` (`spiketime
pipeline`) and `CompareReport` (`spiketime compare`); the experiment grid's
`ExperimentResults` (results.json) has its own, at the end of this module. Each
class has `to_dict` and `from_dict`; the dict is exactly the JSON on disk. `write_report` writes
report.json, report.md and the plots (`parity.render`); `read_report` reads
report.json back, refusing an unknown schema version with one clear line.

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
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from spiketime.errors import UserError
from spiketime.fileio import write_text

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 has no evidence, decision or row resolution

PASSED, FAILED, INCONCLUSIVE = "PASSED", "FAILED", "INCONCLUSIVE"


def relative(path: str | os.PathLike, base: str | os.PathLike) -> str:
    return os.path.relpath(Path(path).resolve(), Path(base).resolve())


# --- the pieces both kinds share -------------------------------------------------


@dataclass(frozen=True)
class Task:
    name: str
    variant: str
    classes: int
    class_names: tuple[str, ...]
    channels: int
    steps: int
    data: str  # the dataset file, relative to the report's folder
    test_samples: int
    netx_format_version: int
    split: str | None = None  # compare reports: the split compared

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "variant": self.variant, "classes": self.classes,
             "class_names": list(self.class_names), "channels": self.channels,
             "steps": self.steps, "data": self.data}
        if self.split is not None:
            d["split"] = self.split
        return d | {"test_samples": self.test_samples,
                    "netx_format_version": self.netx_format_version}

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        return cls(name=d["name"], variant=d["variant"], classes=int(d["classes"]),
                   class_names=tuple(d["class_names"]), channels=int(d["channels"]),
                   steps=int(d["steps"]), data=d["data"], test_samples=int(d["test_samples"]),
                   netx_format_version=int(d["netx_format_version"]), split=d.get("split"))


@dataclass(frozen=True)
class Accuracy:
    """One side's accuracy on the original and the time-reversed samples."""

    accuracy: float
    accuracy_reversed: float
    reversal_sensitivity: float  # accuracy - accuracy_reversed
    backend: str | None = None  # the deployed side names its backend

    def to_dict(self) -> dict[str, Any]:
        d = {} if self.backend is None else {"backend": self.backend}
        return d | {"accuracy": self.accuracy, "accuracy_reversed": self.accuracy_reversed,
                    "reversal_sensitivity": self.reversal_sensitivity}

    @classmethod
    def from_dict(cls, d: dict) -> Accuracy:
        return cls(d["accuracy"], d["accuracy_reversed"], d["reversal_sensitivity"],
                   d.get("backend"))


@dataclass(frozen=True)
class Confirmation:
    """A confirming backend's rerun of some samples of one condition."""

    backend: str
    samples: int
    identical: bool
    mismatched_samples: tuple[int, ...]
    condition: str

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "samples": self.samples, "identical": self.identical,
                "mismatched_samples": list(self.mismatched_samples), "condition": self.condition}

    @classmethod
    def from_dict(cls, d: dict) -> Confirmation:
        return cls(d["backend"], int(d["samples"]), bool(d["identical"]),
                   tuple(d["mismatched_samples"]), d["condition"])


@dataclass(frozen=True)
class LayerActivity:
    """One layer's spikes on a set of samples (`parity.activity` defines the terms)."""

    layer: str  # "hidden 1", ..., "output"
    neurons: int
    mean: float  # spikes per neuron per sample
    p5: float  # percentiles of spikes per neuron per sample, over every (sample, neuron)
    p50: float
    p95: float
    silent_fraction: float  # neurons that never fire on any sample
    saturated_fraction: float  # neurons that fire on (nearly) every step once they start

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "neurons": self.neurons,
                "spikes_per_neuron_per_sample": {"mean": self.mean, "p5": self.p5,
                                                 "p50": self.p50, "p95": self.p95},
                "silent_fraction": self.silent_fraction,
                "saturated_fraction": self.saturated_fraction}

    @classmethod
    def from_dict(cls, d: dict) -> LayerActivity:
        r = d["spikes_per_neuron_per_sample"]
        return cls(d["layer"], int(d["neurons"]), r["mean"], r["p5"], r["p50"], r["p95"],
                   d["silent_fraction"], d["saturated_fraction"])


@dataclass(frozen=True)
class Activity:
    """One side's activity on the original samples: every layer, the output last."""

    samples: int
    steps: int
    no_output_fraction: float  # samples on which no output neuron fires
    predicted_classes: int  # distinct classes predicted over the samples
    layers: tuple[LayerActivity, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "steps": self.steps,
                "no_output_fraction": self.no_output_fraction,
                "predicted_classes": self.predicted_classes,
                "layers": [lay.to_dict() for lay in self.layers]}

    @classmethod
    def from_dict(cls, d: dict) -> Activity:
        return cls(int(d["samples"]), int(d["steps"]), d["no_output_fraction"],
                   int(d["predicted_classes"]),
                   tuple(LayerActivity.from_dict(lay) for lay in d["layers"]))


@dataclass(frozen=True)
class Evidence:
    """Is there anything to compare? The chance interval and both sides' activity."""

    confidence: float
    chance: tuple[float, float]  # accuracy a no-information predictor reaches (`parity.verdict`)
    trained: Activity
    deployed: Activity
    degenerate: tuple[str, ...]  # why the evidence is degenerate; () when it is not

    def at_chance(self, accuracy: float) -> bool:
        eps = 1e-12
        return self.chance[0] - eps <= accuracy <= self.chance[1] + eps

    def to_dict(self) -> dict[str, Any]:
        return {"confidence": self.confidence, "chance": list(self.chance),
                "trained": self.trained.to_dict(), "deployed": self.deployed.to_dict(),
                "degenerate": list(self.degenerate)}

    @classmethod
    def from_dict(cls, d: dict) -> Evidence:
        return cls(d["confidence"], (d["chance"][0], d["chance"][1]),
                   Activity.from_dict(d["trained"]), Activity.from_dict(d["deployed"]),
                   tuple(d["degenerate"]))


@dataclass(frozen=True)
class Decision:
    """A verdict with its reasons: PASSED, FAILED or INCONCLUSIVE (`parity.verdict.decide`)."""

    verdict: str
    reasons: tuple[str, ...] = ()  # what failed, or why the evidence cannot decide
    warnings: tuple[str, ...] = ()  # degenerate evidence let through by --allow-degenerate
    allow_degenerate: bool = False

    def __post_init__(self) -> None:
        if self.verdict not in (PASSED, FAILED, INCONCLUSIVE):
            raise ValueError(f"unknown verdict {self.verdict!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": list(self.reasons),
                "warnings": list(self.warnings), "allow_degenerate": self.allow_degenerate}

    @classmethod
    def from_dict(cls, d: dict) -> Decision:
        return cls(d["verdict"], tuple(d.get("reasons", ())), tuple(d.get("warnings", ())),
                   bool(d.get("allow_degenerate", False)))


def _decision(d: dict) -> Decision | None:
    return Decision.from_dict(d) if "verdict" in d else None


@dataclass(frozen=True)
class ModelSummary:
    """Trained vs deployed for one model on the original and reversed samples."""

    trained: Accuracy
    deployed: Accuracy
    prediction_agreement: float
    spike_exact_fraction: float
    samples: int
    confirm: tuple[Confirmation, ...] = ()
    evidence: Evidence | None = None  # None in version-1 reports

    def to_dict(self) -> dict[str, Any]:
        d = {"trained": self.trained.to_dict(), "deployed": self.deployed.to_dict(),
             "prediction_agreement": self.prediction_agreement,
             "spike_exact_fraction": self.spike_exact_fraction, "samples": self.samples,
             "confirm": [c.to_dict() for c in self.confirm]}
        return d if self.evidence is None else d | {"evidence": self.evidence.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> ModelSummary:
        evidence = Evidence.from_dict(d["evidence"]) if "evidence" in d else None
        return cls(Accuracy.from_dict(d["trained"]), Accuracy.from_dict(d["deployed"]),
                   d["prediction_agreement"], d["spike_exact_fraction"], int(d["samples"]),
                   tuple(Confirmation.from_dict(c) for c in d.get("confirm", [])), evidence)


@dataclass(frozen=True)
class Training:
    epochs: int
    final_loss: float
    final_train_accuracy: float
    final_silent_fraction: float | None = None  # training samples with no output spike
    final_predicted_classes: int | None = None  # (both None in version-1 reports)

    def to_dict(self) -> dict[str, Any]:
        d = {"epochs": self.epochs, "final_loss": self.final_loss,
             "final_train_accuracy": self.final_train_accuracy}
        if self.final_silent_fraction is not None:
            d["final_silent_fraction"] = self.final_silent_fraction
        if self.final_predicted_classes is not None:
            d["final_predicted_classes"] = self.final_predicted_classes
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Training:
        classes = d.get("final_predicted_classes")
        return cls(int(d["epochs"]), d["final_loss"], d["final_train_accuracy"],
                   d.get("final_silent_fraction"), None if classes is None else int(classes))


@dataclass(frozen=True)
class ModelResult:
    """One model: its files (relative to the report) and its summary."""

    name: str
    checkpoint: str
    netx: str
    summary: ModelSummary
    training: Training | None = None  # pipeline reports: how training ended

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "checkpoint": self.checkpoint, "netx": self.netx}
        if self.training is not None:
            d["training"] = self.training.to_dict()
        return d | self.summary.to_dict()

    @classmethod
    def from_dict(cls, d: dict) -> ModelResult:
        training = Training.from_dict(d["training"]) if "training" in d else None
        return cls(str(d["name"]), d["checkpoint"], d["netx"], ModelSummary.from_dict(d),
                   training)


# --- pipeline reports ---------------------------------------------------------------


@dataclass(frozen=True)
class ExactParity:
    """The pipeline's rule: integer arithmetic on both sides, so every spike identical;
    `passed` is true only when the verdict is PASSED."""

    passed: bool
    decision: Decision | None = None  # None in version-1 reports

    @property
    def tolerance(self) -> dict[str, Any]:
        return {"spike_exact_fraction": 1.0, "confirming_backend_mismatches": 0}

    @property
    def verdict(self) -> str:
        return verdict_of(self.passed, self.decision)

    def to_dict(self) -> dict[str, Any]:
        d = {"passed": self.passed, "tolerance": self.tolerance}
        return d if self.decision is None else d | self.decision.to_dict()

    @classmethod
    def from_dict(cls, d: dict) -> ExactParity:
        return cls(bool(d["passed"]), _decision(d))


def verdict_of(passed: bool, decision: Decision | None) -> str:
    """PASSED, FAILED or INCONCLUSIVE (version-1 reports knew only the first two)."""
    if decision is not None:
        return decision.verdict
    return PASSED if passed else FAILED


@dataclass(frozen=True)
class PipelineReport:
    task: Task
    models: tuple[ModelResult, ...]
    parity: ExactParity
    plots: tuple[str, ...] = ()  # file names beside report.json, set when written

    kind = "pipeline"

    def to_dict(self) -> dict[str, Any]:
        return {"report_version": SCHEMA_VERSION, "kind": self.kind,
                "task": self.task.to_dict(), "models": [m.to_dict() for m in self.models],
                "parity": self.parity.to_dict(), "plots": list(self.plots)}

    @classmethod
    def from_dict(cls, d: dict) -> PipelineReport:
        return cls(Task.from_dict(d["task"]), tuple(ModelResult.from_dict(m) for m in d["models"]),
                   ExactParity.from_dict(d["parity"]), tuple(d.get("plots", ())))


# --- compare reports ---------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """What one statistical row could tell, and what it says (`parity.verdict`)."""

    verdict: str  # "pass", "fail", "inconclusive" or "undefined at chance"
    statistical: bool  # judged by its interval alone (no spike identity to lean on)
    detectable: float  # smallest rate of changed decisions these samples reveal (fraction)
    samples_needed: int | None  # samples needed to resolve the tolerance (None: no number does)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "statistical": self.statistical,
                "detectable_difference": self.detectable, "samples_needed": self.samples_needed,
                "note": self.note}

    @classmethod
    def from_dict(cls, d: dict) -> Resolution:
        needed = d.get("samples_needed")
        return cls(d["verdict"], bool(d["statistical"]), d["detectable_difference"],
                   None if needed is None else int(needed), d.get("note", ""))


@dataclass(frozen=True)
class ConditionVerdict:
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
    deployed_worse: int
    deployed_better: int
    agreement: float
    spike_exact_fraction: float
    within_tolerance: bool
    passed: bool  # the row's verdict is "pass"
    resolution: Resolution | None = None  # None in version-1 reports

    @property
    def verdict(self) -> str:
        return self.resolution.verdict if self.resolution else ("pass" if self.passed else "fail")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "name": self.name, "level": self.level, "label": self.label,
            "backend": self.backend, "samples": self.samples,
            "trained_accuracy": self.trained_accuracy, "deployed_accuracy": self.deployed_accuracy,
            "difference": self.difference, "ci": list(self.ci),
            "mcnemar_p": self.mcnemar_p, "mcnemar_test": self.mcnemar_test,
            "discordant": {"deployed_worse": self.deployed_worse,
                           "deployed_better": self.deployed_better},
            "agreement": self.agreement, "spike_exact_fraction": self.spike_exact_fraction,
            "within_tolerance": self.within_tolerance, "passed": self.passed,
        } | ({} if self.resolution is None else self.resolution.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> ConditionVerdict:
        return cls(
            model=d["model"], name=d["name"], level=d["level"], label=d["label"],
            backend=d["backend"], samples=int(d["samples"]),
            trained_accuracy=d["trained_accuracy"], deployed_accuracy=d["deployed_accuracy"],
            difference=d["difference"], ci=(d["ci"][0], d["ci"][1]), mcnemar_p=d["mcnemar_p"],
            mcnemar_test=d["mcnemar_test"], deployed_worse=int(d["discordant"]["deployed_worse"]),
            deployed_better=int(d["discordant"]["deployed_better"]), agreement=d["agreement"],
            spike_exact_fraction=d["spike_exact_fraction"],
            within_tolerance=bool(d["within_tolerance"]), passed=bool(d["passed"]),
            resolution=Resolution.from_dict(d) if "verdict" in d else None)


@dataclass(frozen=True)
class SensitivityVerdict:
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
    resolution: Resolution | None = None  # None in version-1 reports

    @property
    def verdict(self) -> str:
        return self.resolution.verdict if self.resolution else ("pass" if self.passed else "fail")

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "backend": self.backend, "samples": self.samples,
                "trained": self.trained, "deployed": self.deployed,
                "difference": self.difference, "ci": list(self.ci),
                "sign_test_p": self.sign_test_p, "sign_test": self.sign_test,
                "passed": self.passed} | ({} if self.resolution is None
                                          else self.resolution.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> SensitivityVerdict:
        return cls(d["model"], d["backend"], int(d["samples"]), d["trained"], d["deployed"],
                   d["difference"], (d["ci"][0], d["ci"][1]), d["sign_test_p"], d["sign_test"],
                   bool(d["passed"]), Resolution.from_dict(d) if "verdict" in d else None)


@dataclass(frozen=True)
class ToleranceParity:
    """The compare rule: every paired interval inside +/- difference_pp (and exact spikes)."""

    passed: bool
    rule: str
    difference_pp: float
    confidence: float
    resamples: int
    exact_spikes: bool
    failed: tuple[str, ...]  # "model/condition/backend" of every failed verdict
    decision: Decision | None = None  # None in version-1 reports

    @property
    def tolerance(self) -> dict[str, Any]:
        return {"difference_pp": self.difference_pp, "confidence": self.confidence,
                "resamples": self.resamples, "exact_spikes": self.exact_spikes}

    @property
    def verdict(self) -> str:
        return verdict_of(self.passed, self.decision)

    def to_dict(self) -> dict[str, Any]:
        d = {"passed": self.passed, "rule": self.rule, "tolerance": self.tolerance,
             "failed": list(self.failed)}
        return d if self.decision is None else d | self.decision.to_dict()

    @classmethod
    def from_dict(cls, d: dict) -> ToleranceParity:
        t = d["tolerance"]
        return cls(bool(d["passed"]), d["rule"], t["difference_pp"], t["confidence"],
                   int(t["resamples"]), bool(t["exact_spikes"]), tuple(d["failed"]),
                   _decision(d))


@dataclass(frozen=True)
class CompareSettings:
    backends: tuple[str, ...]
    lava_subset: int
    subset_samples: tuple[int, ...]
    seed: int
    levels: dict[str, tuple[float, ...]]
    split: str
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"backends": list(self.backends), "lava_subset": self.lava_subset,
                "subset_samples": list(self.subset_samples), "seed": self.seed,
                "levels": {k: list(v) for k, v in self.levels.items()},
                "split": self.split, "elapsed_s": self.elapsed_s}

    @classmethod
    def from_dict(cls, d: dict) -> CompareSettings:
        return cls(tuple(d["backends"]), int(d["lava_subset"]), tuple(d["subset_samples"]),
                   int(d["seed"]), {k: tuple(v) for k, v in d["levels"].items()}, d["split"],
                   d["elapsed_s"])


@dataclass(frozen=True)
class CompareReport:
    task: Task
    models: tuple[ModelResult, ...]
    conditions: tuple[ConditionVerdict, ...]
    sensitivity: tuple[SensitivityVerdict, ...]
    parity: ToleranceParity
    settings: CompareSettings
    plots: tuple[str, ...] = ()

    kind = "compare"

    def to_dict(self) -> dict[str, Any]:
        return {"report_version": SCHEMA_VERSION, "kind": self.kind,
                "task": self.task.to_dict(), "models": [m.to_dict() for m in self.models],
                "conditions": [c.to_dict() for c in self.conditions],
                "sensitivity": [s.to_dict() for s in self.sensitivity],
                "parity": self.parity.to_dict(), "settings": self.settings.to_dict(),
                "plots": list(self.plots)}

    @classmethod
    def from_dict(cls, d: dict) -> CompareReport:
        return cls(Task.from_dict(d["task"]),
                   tuple(ModelResult.from_dict(m) for m in d["models"]),
                   tuple(ConditionVerdict.from_dict(c) for c in d["conditions"]),
                   tuple(SensitivityVerdict.from_dict(s) for s in d["sensitivity"]),
                   ToleranceParity.from_dict(d["parity"]), CompareSettings.from_dict(d["settings"]),
                   tuple(d.get("plots", ())))


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


def write_report(out_dir: str | os.PathLike, report: Report,
                 raster: tuple | None = None) -> Report:
    """Write report.json, report.md and the plots into out_dir; return the report as written
    (with its plot names)."""
    from spiketime.parity import render

    out = Path(out_dir)
    plots = render.plots(report, out, raster)
    report = replace(report, plots=tuple(p.name for p in plots))
    write_text(out / "report.json", json.dumps(report.to_dict(), indent=2) + "\n")
    write_text(out / "report.md", render.markdown(report))
    return report


# --- the experiment grid's results.json (`spiketime experiment`) ------------------------
# Its own schema version: these are statistics over cells (parity.claims), not one run.

EXPERIMENT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Stat:
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


@dataclass(frozen=True)
class Row:
    task: str
    model: str
    label: str
    name: str
    level: float | None
    trained: Stat
    deployed: Stat
    spike_exact: float  # lowest fraction over seeds


@dataclass(frozen=True)
class TaskAudit:
    task: str
    generator: dict
    rate: Stat
    position: Stat
    chance: float
    shortcuts: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    claim: str
    task: str
    model: str
    measure: str
    effect: Stat
    status: str  # reproduced | not reproduced | inconclusive | not enough seeds | not measured
    detail: str = ""


@dataclass(frozen=True)
class ExperimentResults:
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

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentResults:
        if d.get("kind") != "experiment" or d.get("schema_version") != EXPERIMENT_SCHEMA_VERSION:
            raise ValueError(f"not experiment results of schema version "
                             f"{EXPERIMENT_SCHEMA_VERSION}")

        def stat(x: dict) -> Stat:
            return Stat(**x)

        return cls(
            grid=d["grid"],
            audits=tuple(TaskAudit(**{**a, "rate": stat(a["rate"]),
                                      "position": stat(a["position"]),
                                      "shortcuts": tuple(a["shortcuts"])})
                         for a in d["audits"]),
            rows=tuple(Row(**{**r, "trained": stat(r["trained"]),
                              "deployed": stat(r["deployed"])}) for r in d["rows"]),
            claims=tuple(Claim(**{**c, "effect": stat(c["effect"])}) for c in d["claims"]),
            targets=tuple(Claim(**{**c, "effect": stat(c["effect"])}) for c in d["targets"]),
            cells=d["cells"], missing=tuple(d["missing"]), spike_exact=d["spike_exact"],
            lava_confirmed=tuple(d["lava_confirmed"]), seconds=d["seconds"])

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


def write_experiment_results(out: Path, results: ExperimentResults) -> list[Path]:
    """results.json, results.md and the figures, each written atomically."""
    from spiketime.parity import render

    paths = [out / "results.json", out / "results.md"]
    write_text(paths[0], json.dumps(results.to_dict(), indent=1) + "\n")
    figures = render.experiment_plots(out, results)
    write_text(paths[1], render.experiment_markdown(results, [p.name for p in figures]))
    return paths + figures
