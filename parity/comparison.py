"""`spiketime compare`: trained vs deployed under a perturbation sweep, with a verdict.

For every model, condition and backend, the trained model (slayer's forward pass)
and the deployed NetX network classify the very same samples: the condition's
input is made once, with a fixed seed, and fed to both sides. The emulator runs
every sample; Lava-based backends (lava-cpu, loihi2) run a seeded subset, the
same subset in every condition. Each (model, condition, backend) gets a paired
comparison (`parity.stats`), and each (model, backend) a reversal-sensitivity
comparison. Parity passes when every confidence interval lies inside the
tolerance and the evidence can carry a pass (`parity.verdict`: no degenerate
network, no sensitivity at chance, enough samples wherever the statistics alone
decide). The conditions run through `parity.harness.run_grid`, the loop the
pipeline uses too.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spiketime import guards
from spiketime.data.dataset import Dataset, load_dataset
from spiketime.deploy.registry import BACKENDS, select_backend
from spiketime.errors import UserError
from spiketime.export.from_slayer import check_architecture
from spiketime.export.netx import FORMAT_VERSION, NetxNetwork, read_netx
from spiketime.export.nir_graph import chain, read_nir
from spiketime.parity import verdict
from spiketime.parity.conditions import REVERSED
from spiketime.parity.harness import (
    ConditionResult,
    Deployment,
    Grid,
    Rows,
    confirm_subset,
    find,
    run_grid,
    summarize,
)
from spiketime.parity.reports import (
    CompareReport,
    CompareSettings,
    ConditionVerdict,
    ModelResult,
    ModelSummary,
    SensitivityVerdict,
    Task,
    ToleranceParity,
    read_report,
    relative,
)
from spiketime.parity.stats import (
    Comparison,
    SensitivityComparison,
    compare_correctness,
    compare_sensitivity,
)
from spiketime.parity.sweep import DEFAULT_LEVELS, derive_seed, sweep_conditions
from spiketime.sim.backend import Backend, check_input
from spiketime.sim.nir_reference import ChipReference, NirReference, reference
from spiketime.sim.registry import SIM_BACKENDS
from spiketime.train.foreign import ForeignNet, load_factory
from spiketime.train.model import SpikingNet, check_finite, load_checkpoint

FULL_SET_BACKENDS = ("emulator",)  # every other backend runs the subset


@dataclass(frozen=True)
class ModelSpec:
    """The trained side (exactly one of checkpoint, factory, module, nir) and its deployment."""

    name: str
    checkpoint: Path | None  # a spiketime checkpoint, or None with another source
    netx: Path
    factory: str | None = None  # package.module:function returning a lava-dl network
    nir: Any = None  # a NIR graph (a .nir path or a nir.NIRGraph), run by its reference
    nir_arithmetic: str = "float"  # the reference's: "float" (NIR's equations) or "chip"
    module: torch.nn.Module | None = None  # a network in memory: a SpikingNet or lava-dl's


@dataclass(frozen=True)
class CompareConfig:
    models: tuple[ModelSpec, ...]
    data: Path
    out: Path | None = None  # the report's folder: its paths are relative to it (None: cwd)
    backends: tuple[str, ...] = ("emulator", "lava-cpu")
    tolerance_pp: float = 1.0  # percentage points
    lava_subset: int = 32
    seed: int = 0
    levels: dict[str, tuple[float, ...]] = field(default_factory=lambda: dict(DEFAULT_LEVELS))
    resamples: int = 2000
    confidence: float = 0.95
    split: str = "test"
    limit: int | None = None
    exact: bool = True  # on the bit-exact simulators, also require every output spike identical
    allow_degenerate: bool = False  # degenerate evidence warns instead of INCONCLUSIVE

    def __post_init__(self) -> None:
        if not np.isfinite(self.tolerance_pp) or not 0 <= self.tolerance_pp <= 100:
            raise UserError(f"--tolerance must be a number of percentage points in [0, 100], "
                            f"got {self.tolerance_pp:g}")
        if self.lava_subset < 1:
            raise UserError(f"--lava-subset must be at least 1, got {self.lava_subset}")
        if self.resamples < 100:
            raise UserError(f"--resamples must be at least 100, got {self.resamples}")
        if not 0.5 <= self.confidence < 1:
            raise UserError(f"--confidence must lie in [0.5, 1), got {self.confidence:g}")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be at least 1, got {self.limit}")
        if not self.backends:
            raise UserError("--backends names no backend")
        unknown = [b for b in self.backends if b not in BACKENDS]
        if unknown:
            raise UserError(f"unknown backend '{unknown[0]}'; choose from {', '.join(BACKENDS)}")
        twice = sorted({b for b in self.backends if self.backends.count(b) > 1})
        if twice:
            raise UserError(f"--backends lists {twice[0]} twice")
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise UserError(f"two models share the name {names[0]!r}")


def _say(msg: str) -> None:
    print(f"[spiketime] {msg}", file=sys.stderr, flush=True)


def models_from_report(report_path: str | os.PathLike) -> tuple[tuple[ModelSpec, ...], Path]:
    """The models and dataset a pipeline (or compare) report names, paths made absolute."""
    path = Path(report_path)
    report = read_report(path)
    base = path.parent
    models = tuple(ModelSpec(m.name, base / m.checkpoint, base / m.netx) for m in report.models)
    if not models:
        raise UserError(f"{path} names no models")
    return models, base / report.task.data


def model_name(netx_meta: dict, netx_path: Path) -> str:
    name = netx_meta.get("model")
    return str(name) if name else netx_path.stem


@dataclass
class _Loaded:
    spec: ModelSpec
    model: SpikingNet | NirReference | ChipReference  # shared by every deployment of one checkpoint
    net: NetxNetwork


def _load(cfg: CompareConfig) -> tuple[Dataset, np.ndarray, np.ndarray, list[_Loaded]]:
    """Everything read and cross-checked before any work starts."""
    ds = load_dataset(cfg.data)
    split = ds.splits()[cfg.split]
    X, y = split.X[:cfg.limit], split.y[:cfg.limit]
    loaded, checkpoints = [], {}
    for spec in cfg.models:
        net = read_netx(spec.netx)
        if spec.nir is not None:
            loaded.append(_Loaded(spec, nir_reference(spec.nir, net, ds, cfg.data,
                                                      spec.nir_arithmetic), net))
            check_input(net, X[:1], f"{cfg.data} ({cfg.split} split)")
            continue
        key = spec.factory or (id(spec.module) if spec.module is not None
                               else Path(spec.checkpoint).resolve())
        if key not in checkpoints:  # one model object per checkpoint file
            checkpoints[key] = _trained(spec)
        model = checkpoints[key]
        c, source = model.config, spec.factory or spec.checkpoint or _source(spec, None)
        check_finite(model.named_parameters(), source)
        check_architecture(model, net, source, spec.netx)
        if c.inputs != ds.channels:
            raise UserError(f"model {source} expects {c.inputs} inputs but {cfg.data} "
                            f"has {ds.channels} channels")
        if c.outputs != ds.n_classes:
            raise UserError(f"model {source} has {c.outputs} outputs but {cfg.data} "
                            f"has {ds.n_classes} classes")
        if net.output_size != ds.n_classes:
            raise UserError(f"{spec.netx} has {net.output_size} outputs but {cfg.data} "
                            f"has {ds.n_classes} classes")
        check_input(net, X[:1], f"{cfg.data} ({cfg.split} split)")
        loaded.append(_Loaded(spec, model, net))
    return ds, X, y, loaded


def _trained(spec: ModelSpec) -> SpikingNet | ForeignNet:
    if spec.factory:
        return load_factory(spec.factory)
    if spec.module is None:
        return load_checkpoint(spec.checkpoint)
    if isinstance(spec.module, (SpikingNet, ForeignNet)):
        return spec.module.eval()
    return ForeignNet(spec.module.eval(), f"the model ({type(spec.module).__name__})")


def nir_reference(path: Any, net: NetxNetwork, ds: Dataset, data: Path,
                  arithmetic: str = "float") -> NirReference | ChipReference:
    """The reference of a NIR graph (a .nir path or a nir.NIRGraph), in `arithmetic`
    (`sim.nir_reference.reference`: "float" or "chip"), at the
    deployment's time step (the NetX file's dt_ms, which `spiketime import` records; else
    the graph's), checked against the deployment and the dataset."""
    if isinstance(path, (str, os.PathLike)):
        graph = read_nir(path)
    else:
        graph, path = chain(path), "the NIR graph"
    dt_ms = net.metadata.get("dt_ms", None if graph.dt is None else graph.dt * 1000)
    if dt_ms is None:
        raise UserError(f"neither {path} nor the NetX file records a time step (dt)")
    if graph.input_size != ds.channels or graph.input_size != net.input_size:
        raise UserError(f"{path} has {graph.input_size} inputs, {data} {ds.channels} channels "
                        f"and the NetX file {net.input_size} inputs; they must agree")
    if graph.output_size != ds.n_classes or graph.output_size != net.output_size:
        raise UserError(f"{path} has {graph.output_size} outputs, {data} {ds.n_classes} "
                        f"classes and the NetX file {net.output_size} outputs; they must agree")
    return reference(graph, float(dt_ms), arithmetic)


def _backends(names: tuple[str, ...]) -> list[Backend]:
    out = []
    for name in names:
        sel = select_backend(name)
        if sel.note:
            print(sel.note, file=sys.stderr)
        out.append(sel.backend)
    resolved = [b.name for b in out]
    if len(set(resolved)) != len(resolved):
        raise UserError(f"--backends {','.join(names)} names one backend twice "
                        f"(they resolve to {', '.join(resolved)})")
    return out


def run_compare(cfg: CompareConfig) -> tuple[CompareReport, tuple]:
    """Run the sweep; return the report (not yet written) and the raster sample for it."""
    started = time.perf_counter()
    base = cfg.out if cfg.out is not None else Path.cwd()
    ds, X, y, loaded = _load(cfg)
    backends = _backends(cfg.backends)
    try:
        conditions = sweep_conditions(cfg.levels, cfg.seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    subset = confirm_subset(len(y), cfg.lava_subset, cfg.seed)
    runs = [Rows(b, None if b.name in FULL_SET_BACKENDS else subset) for b in backends]
    guards.memory(_grid_bytes(X, len(ds.meta.class_names), len(conditions), len(loaded), runs),
                  f"compare: {len(y)} samples x {len(conditions)} conditions x {len(loaded)} "
                  f"model(s) x {len(runs)} backend(s)")
    _say(f"{len(loaded)} model(s) x {len(conditions)} conditions; "
         + ", ".join(f"{r.backend.name} on {len(y) if r.rows is None else len(r.rows)} samples"
                     for r in runs))
    grid = run_grid([Deployment(m.spec.name, m.model, m.spec.netx) for m in loaded], X, y,
                    conditions, runs, desc="compare")

    primary = backends[0].name
    summaries = {m.spec.name: summarize(grid[(m.spec.name, primary)], primary, cfg.confidence)
                 for m in loaded}
    entries, sens = _statistics(cfg, loaded, backends, grid)
    failed = [f"{e.model}/{e.label}/{e.backend}" for e in entries if e.verdict == "fail"]
    failed += [f"{s.model}/reversal sensitivity/{s.backend}" for s in sens
               if s.verdict == "fail"]
    decision = verdict.decide(failed, *_unresolved(entries, sens, summaries),
                              allow_degenerate=cfg.allow_degenerate)
    models = tuple(ModelResult(m.spec.name, _source(m.spec, base),
                               relative(m.spec.netx, base), summaries[m.spec.name])
                   for m in loaded)
    rule = (f"every {100 * cfg.confidence:g}% paired bootstrap interval of deployed minus "
            f"trained (accuracy per condition, reversal sensitivity per model) lies within "
            f"+/-{cfg.tolerance_pp:g} percentage points (an equivalence test: an interval "
            f"wholly outside fails, one that straddles the tolerance is inconclusive)"
            + (", and on the bit-exact simulators every output spike is identical"
               if cfg.exact else "")
            + "; rows judged by their interval alone must have enough samples to detect a "
              "difference of the tolerance, and no network may be degenerate")
    report = CompareReport(
        task=_task(ds, cfg, len(y), base),
        models=models,
        conditions=tuple(entries),
        sensitivity=tuple(sens),
        parity=ToleranceParity(passed=decision.verdict == verdict.PASSED, rule=rule,
                               difference_pp=cfg.tolerance_pp, confidence=cfg.confidence,
                               resamples=cfg.resamples, exact_spikes=cfg.exact,
                               failed=tuple(failed), decision=decision),
        settings=CompareSettings(
            backends=tuple(b.name for b in backends), lava_subset=cfg.lava_subset,
            subset_samples=tuple(int(i) for i in subset), seed=cfg.seed,
            levels={k: tuple(v) for k, v in cfg.levels.items()}, split=cfg.split,
            elapsed_s=round(time.perf_counter() - started, 1)),
    )
    raster = (X[0], REVERSED.transform(X[:1])[0],
              f"{cfg.split} sample 0 (class {ds.meta.class_names[y[0]]})")
    return report, raster


def rebase(report: CompareReport, cfg: CompareConfig, folder: str | os.PathLike
           ) -> CompareReport:
    """`report` (of `run_compare(cfg)`) with its file paths relative to `folder`."""
    models = tuple(replace(m, checkpoint=_source(spec, folder), netx=relative(spec.netx, folder))
                   for m, spec in zip(report.models, cfg.models))
    return replace(report, models=models,
                   task=replace(report.task, data=relative(cfg.data, folder)))


def _source(spec: ModelSpec, out: str | os.PathLike | None) -> str:
    """What a report names as the trained side (paths relative to `out`; None: as given)."""
    def rel(path: str | os.PathLike) -> str:
        return str(path) if out is None else relative(path, out)

    if spec.nir is not None:
        kind = f"{spec.nir_arithmetic} reference"
        if not isinstance(spec.nir, (str, os.PathLike)):
            return f"NIR graph in memory ({kind})"
        return f"NIR {rel(spec.nir)} ({kind})"
    if spec.factory:
        return f"factory {spec.factory}"
    if spec.module is not None:
        return f"{type(spec.module).__name__} in memory"
    return rel(spec.checkpoint)


def _grid_bytes(X: np.ndarray, classes: int, conditions: int, models: int,
                runs: list[Rows]) -> float:
    """A lower bound on what `run_grid` holds: the input and one perturbed copy, and the
    trained and deployed output spikes (uint8 [rows, classes, steps]) it keeps for every
    condition, model and backend."""
    n, _, steps = X.shape
    rows = sum(n if r.rows is None else len(r.rows) for r in runs)
    return 2.0 * X.size + 2.0 * conditions * models * rows * classes * steps


def _unresolved(entries: list[ConditionVerdict], sens: list[SensitivityVerdict],
                summaries: dict[str, ModelSummary]) -> tuple[list[str], list[str]]:
    """(rows too small to resolve the tolerance, degenerate evidence) as verdict reasons."""
    by_note: dict[str, list[str]] = {}  # rows of one size share one note: one line each
    for name, row in [(f"{e.model}/{e.label}/{e.backend}", e) for e in entries] + [
            (f"{s.model}/reversal sensitivity/{s.backend}", s) for s in sens]:
        if row.verdict == "inconclusive":
            by_note.setdefault(row.resolution.note, []).append(name)
    small = [f"{names[0]}: {note}" if len(names) == 1
             else f"{len(names)} rows ({', '.join(names[:2])}"
                  f"{', ...' if len(names) > 2 else ''}): {note}"
             for note, names in by_note.items()]
    degenerate = [f"{name}, {r}" for name, s in summaries.items() for r in s.evidence.degenerate]
    degenerate += [f"{s.model}/reversal sensitivity/{s.backend}: undefined at chance (original "
                   f"and reversed accuracies within the chance interval)" for s in sens
                   if s.verdict == verdict.UNDEFINED_AT_CHANCE and s.resolution.statistical]
    return small, degenerate


def _statistical(cfg: CompareConfig, backend: str) -> bool:
    """Is a row judged by its interval alone (no spike identity on every sample)?"""
    return not cfg.exact or backend not in SIM_BACKENDS


def _statistics(cfg: CompareConfig, loaded: list[_Loaded], backends: list[Backend],
                grid: Grid) -> tuple[list[ConditionVerdict], list[SensitivityVerdict]]:
    tol = cfg.tolerance_pp / 100
    entries, sens = [], []
    for m in loaded:
        for b in backends:
            per_cond = grid[(m.spec.name, b.name)]
            for r in per_cond:
                c = r.condition
                seed = derive_seed(cfg.seed, "bootstrap", m.spec.name, b.name, c.name, c.level)
                cmp = compare_correctness(r.labels, r.trained_pred, r.deployed_pred,
                                          r.spike_exact, cfg.resamples, cfg.confidence, seed)
                entries.append(_condition_verdict(m.spec.name, r, b.name, cmp, tol, cfg))
            orig, rev = find(per_cond, "original"), find(per_cond, "reversed")
            s = compare_sensitivity(orig.labels, orig.trained_pred, rev.trained_pred,
                                    orig.deployed_pred, rev.deployed_pred, cfg.resamples,
                                    cfg.confidence,
                                    derive_seed(cfg.seed, "sensitivity", m.spec.name, b.name))
            sens.append(_sensitivity_verdict(m.spec.name, b.name, s, tol, cfg, orig, rev))
    return entries, sens


def _accuracy(r: ConditionResult, pred: np.ndarray) -> float:
    return float((pred == r.labels).mean()) if len(r.labels) else 0.0


def _finite(*values: float) -> bool:
    """A row with a NaN or infinite statistic fails: it is never evidence of parity."""
    return all(math.isfinite(v) for v in values)


def _condition_verdict(model: str, r: ConditionResult, backend: str, c: Comparison,
                       tol: float, cfg: CompareConfig) -> ConditionVerdict:
    exact = cfg.exact
    within = c.within(tol)
    rule = not exact or backend not in SIM_BACKENDS or c.spike_exact_fraction == 1.0
    rule = rule and _finite(c.trained, c.deployed, c.difference, c.ci.low, c.ci.high)
    res = verdict.resolution(c.samples, tol, cfg.confidence,
                             statistical=_statistical(cfg, backend), rule_passed=rule,
                             interval=(c.difference, c.ci.low, c.ci.high))
    cond = r.condition
    return ConditionVerdict(
        model=model, name=cond.name, level=cond.level, label=cond.label,
        backend=backend, samples=c.samples,
        trained_accuracy=c.trained, deployed_accuracy=c.deployed,
        difference=c.difference, ci=(c.ci.low, c.ci.high),
        mcnemar_p=c.test.p, mcnemar_test=c.test.test,
        deployed_worse=c.test.worse, deployed_better=c.test.better,
        agreement=c.agreement, spike_exact_fraction=c.spike_exact_fraction,
        within_tolerance=within, passed=res.verdict == "pass", resolution=res,
    )


def _sensitivity_verdict(model: str, backend: str, s: SensitivityComparison, tol: float,
                         cfg: CompareConfig, orig: ConditionResult,
                         rev: ConditionResult) -> SensitivityVerdict:
    chance = verdict.chance_interval(orig.labels, cfg.confidence)
    at_chance = verdict.sensitivity_at_chance(
        chance, (_accuracy(orig, orig.trained_pred), _accuracy(rev, rev.trained_pred)),
        (_accuracy(orig, orig.deployed_pred), _accuracy(rev, rev.deployed_pred)))
    res = verdict.resolution(s.samples, tol, cfg.confidence,
                             statistical=_statistical(cfg, backend),
                             rule_passed=_finite(s.trained, s.deployed, s.difference,
                                                 s.ci.low, s.ci.high),
                             at_chance_=at_chance,
                             interval=(s.difference, s.ci.low, s.ci.high))
    return SensitivityVerdict(
        model=model, backend=backend, samples=s.samples, trained=s.trained,
        deployed=s.deployed, difference=s.difference, ci=(s.ci.low, s.ci.high),
        sign_test_p=s.test.p, sign_test=s.test.test, passed=res.verdict == "pass",
        resolution=res)


def _task(ds: Dataset, cfg: CompareConfig, samples: int, base: Path) -> Task:
    return Task(name=ds.meta.task, variant=ds.meta.variant, classes=ds.n_classes,
                class_names=tuple(ds.meta.class_names), channels=ds.channels, steps=ds.steps,
                data=relative(cfg.data, base), split=cfg.split, test_samples=samples,
                netx_format_version=FORMAT_VERSION)
