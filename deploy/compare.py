"""`spiketime compare`: trained vs deployed under a perturbation sweep, with a verdict.

For every model, condition and backend, the trained model (slayer's forward pass)
and the deployed NetX network classify the very same samples: the condition's
input is made once, with a fixed seed, and fed to both sides. The emulator runs
every sample; Lava-based backends (lava-cpu, loihi2) run a seeded subset, the
same subset in every condition. Each (model, condition, backend) gets a paired
comparison (`deploy.stats`), and each (model, backend) a reversal-sensitivity
comparison. Parity passes when every confidence interval lies inside the
tolerance.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spiketime.deploy.harness import ConditionResult, confirm_subset, summarize
from spiketime.deploy.stats import Comparison, SensitivityComparison, compare_correctness, compare_sensitivity
from spiketime.deploy.sweep import DEFAULT_LEVELS, derive_seed, label, sweep_conditions
from spiketime.errors import UserError
from spiketime.sim.registry import SIM_BACKENDS

if TYPE_CHECKING:
    from spiketime.export.netx import NetxNetwork
    from spiketime.sim.backend import Backend
    from spiketime.train.dataset import Dataset
    from spiketime.train.model import SpikingNet

FULL_SET_BACKENDS = ("emulator",)  # every other backend runs the subset


@dataclass(frozen=True)
class ModelSpec:
    name: str
    checkpoint: Path
    netx: Path


@dataclass(frozen=True)
class CompareConfig:
    models: tuple[ModelSpec, ...]
    data: Path
    out: Path
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
        from spiketime.deploy.registry import BACKENDS

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
    """The models and dataset a pipeline report names (paths relative to its folder)."""
    path = Path(report_path)
    if not path.is_file():
        raise UserError(f"report file not found: {path}")
    try:
        report = json.loads(path.read_text())
        base = path.parent
        models = tuple(ModelSpec(str(m["name"]), base / m["checkpoint"], base / m["netx"])
                       for m in report["models"])
        data = base / report["task"]["data"]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{path} is not a spiketime pipeline report (needs task.data and "
                        f"models with name, checkpoint and netx)") from None
    if not models:
        raise UserError(f"{path} names no models")
    return models, data


def model_name(netx_meta: dict, netx_path: Path) -> str:
    name = netx_meta.get("model")
    return str(name) if name else netx_path.stem


@dataclass
class _Loaded:
    spec: ModelSpec
    model: SpikingNet  # shared by every deployment of one checkpoint
    net: NetxNetwork


def _load(cfg: CompareConfig) -> tuple[Dataset, np.ndarray, np.ndarray, list[_Loaded]]:
    """Everything read and cross-checked before any work starts."""
    from spiketime.export.netx import read_netx
    from spiketime.sim.backend import check_input
    from spiketime.train.dataset import load_dataset
    from spiketime.train.model import load_checkpoint

    ds = load_dataset(cfg.data)
    split = ds.splits()[cfg.split]
    X, y = split.X[:cfg.limit], split.y[:cfg.limit]
    loaded, checkpoints = [], {}
    for spec in cfg.models:
        net = read_netx(spec.netx)
        key = Path(spec.checkpoint).resolve()
        if key not in checkpoints:  # one model object per checkpoint file
            checkpoints[key] = load_checkpoint(spec.checkpoint)
        model = checkpoints[key]
        c = model.config
        if c.inputs != ds.channels:
            raise UserError(f"model {spec.checkpoint} expects {c.inputs} inputs but {cfg.data} "
                            f"has {ds.channels} channels")
        if c.outputs != ds.n_classes:
            raise UserError(f"model {spec.checkpoint} has {c.outputs} outputs but {cfg.data} "
                            f"has {ds.n_classes} classes")
        if net.output_size != ds.n_classes:
            raise UserError(f"{spec.netx} has {net.output_size} outputs but {cfg.data} "
                            f"has {ds.n_classes} classes")
        check_input(net, X[:1], f"{cfg.data} ({cfg.split} split)")
        loaded.append(_Loaded(spec, model, net))
    return ds, X, y, loaded


def _backends(names: tuple[str, ...]) -> list[Backend]:
    from spiketime.deploy.registry import select_backend

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


def run_compare(cfg: CompareConfig) -> tuple[dict, tuple]:
    """Run the sweep; return the report (not yet written) and the raster sample for it."""
    from spiketime.progress import progress
    from spiketime.train.evaluate import run_trained

    started = time.perf_counter()
    ds, X, y, loaded = _load(cfg)
    backends = _backends(cfg.backends)
    try:
        conditions = sweep_conditions(cfg.levels, cfg.seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    subset = confirm_subset(len(y), cfg.lava_subset, cfg.seed)
    rows = {b.name: (np.arange(len(y)) if b.name in FULL_SET_BACKENDS else subset) for b in backends}
    _say(f"{len(loaded)} model(s) x {len(conditions)} conditions; "
         + ", ".join(f"{b.name} on {len(rows[b.name])} samples" for b in backends))

    results: dict[tuple[str, str], list[ConditionResult]] = {}  # (model, backend) -> per condition
    steps = [(c, m) for c in conditions for m in loaded]
    Xc, current, trained_of = None, None, {}
    for cond, m in progress(steps, desc="compare", total=len(steps)):
        if cond is not current:  # perturb once per condition, for every model and backend
            Xc, current, trained_of = cond.transform(X), cond, {}
        if id(m.model) not in trained_of:  # deployments of one checkpoint share its run
            trained_of[id(m.model)] = run_trained(m.model, Xc)
        trained = trained_of[id(m.model)]
        for b in backends:
            idx = rows[b.name]
            deployed = b.run(m.spec.netx, Xc[idx]).output
            results.setdefault((m.spec.name, b.name), []).append(
                ConditionResult(cond, y[idx], trained[idx], deployed))

    entries, sens = _statistics(cfg, loaded, backends, results)
    failed = [f"{e['model']}/{e['label']}/{e['backend']}" for e in entries if not e["passed"]]
    failed += [f"{s['model']}/reversal sensitivity/{s['backend']}" for s in sens if not s["passed"]]
    primary = backends[0].name
    models = [{"name": m.spec.name, "checkpoint": _rel(m.spec.checkpoint, cfg.out),
               "netx": _rel(m.spec.netx, cfg.out),
               **summarize([r for r in results[(m.spec.name, primary)]
                            if r.condition.name in ("original", "reversed")], primary)}
              for m in loaded]
    report = {
        "kind": "compare",
        "task": _task(ds, cfg, len(y)),
        "models": models,
        "conditions": entries,
        "sensitivity": sens,
        "parity": {
            "passed": not failed,
            "rule": f"every {100 * cfg.confidence:g}% paired bootstrap interval of deployed minus "
                    f"trained (accuracy per condition, reversal sensitivity per model) lies within "
                    f"+/-{cfg.tolerance_pp:g} percentage points"
                    + (", and on the bit-exact simulators every output spike is identical"
                       if cfg.exact else ""),
            "tolerance": {"difference_pp": cfg.tolerance_pp, "confidence": cfg.confidence,
                          "resamples": cfg.resamples, "exact_spikes": cfg.exact},
            "failed": failed,
        },
        "settings": {"backends": [b.name for b in backends], "lava_subset": cfg.lava_subset,
                     "subset_samples": [int(i) for i in subset], "seed": cfg.seed,
                     "levels": {k: list(v) for k, v in cfg.levels.items()},
                     "split": cfg.split, "elapsed_s": round(time.perf_counter() - started, 1)},
    }
    raster = (X[0], conditions[1].transform(X[:1])[0],
              f"{cfg.split} sample 0 (class {ds.meta.class_names[y[0]]})")
    return report, raster


def _statistics(cfg: CompareConfig, loaded: list[_Loaded], backends: list[Backend],
                results: dict[tuple[str, str], list[ConditionResult]]) -> tuple[list[dict], list[dict]]:
    tol = cfg.tolerance_pp / 100
    entries, sens = [], []
    for m in loaded:
        for b in backends:
            per_cond = results[(m.spec.name, b.name)]
            for r in per_cond:
                c = r.condition
                cmp = compare_correctness(
                    r.labels, r.trained_pred, r.deployed_pred, r.spike_exact, cfg.resamples,
                    cfg.confidence, derive_seed(cfg.seed, "bootstrap", m.spec.name, b.name, c.name, c.level))
                entries.append(_condition_entry(m.spec.name, c.name, c.level, b.name, cmp, tol,
                                                cfg.exact))
            orig, rev = per_cond[0], per_cond[1]  # sweep_conditions starts with these two
            s = compare_sensitivity(orig.labels, orig.trained_pred, rev.trained_pred,
                                    orig.deployed_pred, rev.deployed_pred, cfg.resamples,
                                    cfg.confidence, derive_seed(cfg.seed, "sensitivity", m.spec.name, b.name))
            sens.append(_sensitivity_entry(m.spec.name, b.name, s, tol))
    return entries, sens


def _condition_entry(model: str, name: str, level: float | None, backend: str, c: Comparison,
                     tol: float, exact: bool) -> dict:
    within = c.within(tol)
    return {
        "model": model, "name": name, "level": level, "label": label(name, level),
        "backend": backend, "samples": c.samples,
        "trained_accuracy": c.trained, "deployed_accuracy": c.deployed,
        "difference": c.difference, "ci": [c.ci.low, c.ci.high],
        "mcnemar_p": c.test.p, "mcnemar_test": c.test.test,
        "discordant": {"deployed_worse": c.test.worse, "deployed_better": c.test.better},
        "agreement": c.agreement, "spike_exact_fraction": c.spike_exact_fraction,
        "within_tolerance": within,
        "passed": within and (not exact or backend not in SIM_BACKENDS
                              or c.spike_exact_fraction == 1.0),
    }


def _sensitivity_entry(model: str, backend: str, s: SensitivityComparison, tol: float) -> dict:
    return {
        "model": model, "backend": backend, "samples": s.samples,
        "trained": s.trained, "deployed": s.deployed, "difference": s.difference,
        "ci": [s.ci.low, s.ci.high], "sign_test_p": s.test.p, "sign_test": s.test.test,
        "passed": s.within(tol),
    }


def _task(ds: Dataset, cfg: CompareConfig, samples: int) -> dict:
    from spiketime.export.netx import FORMAT_VERSION

    return {"name": ds.meta.task, "variant": ds.meta.variant, "classes": ds.n_classes,
            "class_names": ds.meta.class_names, "channels": ds.channels, "steps": ds.steps,
            "data": _rel(cfg.data, cfg.out), "split": cfg.split, "test_samples": samples,
            "netx_format_version": FORMAT_VERSION}


def _rel(path: Path, out: Path) -> str:
    from spiketime.deploy.report import relative

    return relative(path, out)
