"""`spiketime pipeline`, the main job: data -> train (tau, tau+delay) -> NetX -> deployed
run -> parity report.

Every artefact is written atomically under the output folder, so a crash leaves
finished files intact and no half-written ones.
"""
from __future__ import annotations

import sys
from pathlib import Path

from spiketime.data.dataset import Dataset, load_dataset, save_dataset
from spiketime.data.synthetic import generate
from spiketime.export.netx import FORMAT_VERSION
from spiketime.parity import verdict
from spiketime.parity.build import BUILT_FILES, train_and_export
from spiketime.parity.conditions import ORIGINAL, REVERSED
from spiketime.parity.experiment import BUILTIN_CCISI
from spiketime.parity.harness import (
    Deployment,
    Rows,
    confirm_subset,
    exact_parity,
    run_grid,
    summarize,
)
from spiketime.parity.pipeline_config import PipelineConfig, pipeline_model  # noqa: F401
from spiketime.parity.report_files import write_report
from spiketime.parity.reports import (
    REPORT_FILES,
    ExactParity,
    ModelResult,
    PipelineReport,
    Task,
    Training,
    relative,
)
from spiketime.sim.registry import get_backend
from spiketime.train.config import MODELS

# The built-in task, shared with the quick grid: rate-free, cue-free CCISI (see
# parity.experiment.BUILTIN_CCISI); its initial voltage decay applies to it alone
# (pipeline_config.pipeline_model).
DEFAULT_TASK = BUILTIN_CCISI.generator


def model_folder(name: str) -> str:
    return name.replace("+", "_")


def output_files(builtin: bool, models: tuple[str, ...]) -> list[str]:
    """Every file the pipeline writes under its output folder (relative paths)."""
    return ((["data.h5"] if builtin else [])
            + [f"{model_folder(name)}/{f}" for name in models for f in BUILT_FILES]
            + list(REPORT_FILES))


def _say(msg: str) -> None:
    print(f"[spiketime] {msg}", file=sys.stderr, flush=True)


def prepare_data(cfg: PipelineConfig) -> tuple[Dataset, Path]:
    if cfg.data is not None:
        return load_dataset(cfg.data), Path(cfg.data)
    task = dict(DEFAULT_TASK)
    if cfg.steps is not None:
        task["steps"] = cfg.steps
    ds = generate(seed=cfg.seed, n_per_class=cfg.samples_per_class, **task)
    path = cfg.out / "data.h5"
    save_dataset(ds, path)
    return ds, path


def run_pipeline(cfg: PipelineConfig) -> PipelineReport:
    out = Path(cfg.out)
    backend = get_backend(cfg.backend)
    confirm = get_backend("lava-cpu") if cfg.backend != "lava-cpu" and cfg.confirm_lava else None
    ds, data_path = prepare_data(cfg)
    _say(f"data: {ds.meta.task}/{ds.meta.variant}, {len(ds.train)} train / {len(ds.test)} test, "
         f"{ds.channels} channels x {ds.steps} steps, {ds.n_classes} classes")
    X, y = ds.test.X, ds.test.y
    confirming = None if confirm is None else Rows(confirm, confirm_subset(len(y), cfg.confirm_lava,
                                                                          cfg.seed))
    train_cfg = cfg.train
    models, failed, degenerate = [], [], []
    for name in cfg.models:
        folder = out / model_folder(name)
        mcfg = cfg.model_for(ds.channels, ds.n_classes, **MODELS[name])
        _say(f"{name}: training {train_cfg.epochs} epochs")
        built = train_and_export(name, ds, mcfg, train_cfg, folder, device=cfg.device)
        model, ckpt, netx_file, history = built.model, built.checkpoint, built.netx, built.history
        _say(f"{name}: exported {netx_file}; running {backend.name} on {len(X)} samples x 2 "
             f"conditions" + (f", confirming {cfg.confirm_lava} on lava-cpu" if confirm else ""))
        grid = run_grid([Deployment(name, model, netx_file)], X, y, [ORIGINAL, REVERSED],
                        [Rows(backend)], confirm=confirming)
        summary = summarize(grid[(name, backend.name)], backend.name)
        last = history[-1]
        models.append(ModelResult(
            name=name, checkpoint=relative(ckpt, out), netx=relative(netx_file, out),
            summary=summary, training=Training(train_cfg.epochs, last.loss, last.accuracy,
                                               last.silent_fraction, last.predicted_classes)))
        _say(f"{name}: trained {summary.trained.accuracy:.3f} / deployed "
             f"{summary.deployed.accuracy:.3f}, spike-exact {summary.spike_exact_fraction:.3f}")
        if not exact_parity(summary):
            failed.append(f"{name}: output spikes differ (spike-exact "
                          f"{summary.spike_exact_fraction:.3f}"
                          + "".join(f"; {c.backend} differs on {c.condition} samples "
                                    f"{list(c.mismatched_samples)}"
                                    for c in summary.confirm if not c.identical) + ")")
        degenerate += [f"{name}, {r}" for r in summary.evidence.degenerate]
    task = Task(name=ds.meta.task, variant=ds.meta.variant, classes=ds.n_classes,
                class_names=tuple(ds.meta.class_names), channels=ds.channels, steps=ds.steps,
                data=relative(data_path, out), test_samples=len(y),
                netx_format_version=FORMAT_VERSION)
    decision = verdict.decide(failed, (), degenerate, allow_degenerate=cfg.allow_degenerate)
    report = PipelineReport(task, tuple(models),
                            ExactParity(decision.verdict == verdict.PASSED, decision))
    title = f"test sample 0 (class {ds.meta.class_names[y[0]]})"
    return write_report(out, report, raster=(X[0], REVERSED.transform(X[:1])[0], title))
