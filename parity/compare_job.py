"""`spiketime compare`'s job, shared by the command and the Python API (`spiketime.compare`).

    models    what to compare: `ModelSpec`s from a checkpoint, a factory, a network in
              memory or a NIR graph (each with its NetX file), or from a report
    config    a `CompareConfig` from keyword options (CompareConfig's fields; the
              perturbation families, e.g. jitter=(1, 2), replace those families' levels)
    compare   the sweep (`parity.comparison.run_compare`), plus with a NIR graph the
              per-layer spike agreement: a `ComparisonReport`, nothing written or printed
    ComparisonReport.save(folder) writes the report files; .lines() is what the command
              prints above the verdict.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from spiketime import guards
from spiketime.data.dataset import load_dataset
from spiketime.data.perturb import PERTURBATIONS
from spiketime.errors import UserError
from spiketime.export.netx import read_netx
from spiketime.parity import layer_agreement
from spiketime.parity.comparison import (
    CompareConfig,
    ModelSpec,
    model_name,
    models_from_report,
    nir_reference,
    rebase,
    run_compare,
)
from spiketime.parity.layer_agreement import LAYER_FILES, LayerAgreement
from spiketime.parity.report_files import write_report
from spiketime.parity.reports import (
    PASSED,
    REPORT_FILES,
    CompareReport,
    ConditionVerdict,
    SensitivityVerdict,
)
from spiketime.parity.sweep import DEFAULT_LEVELS, FAMILIES
from spiketime.sim.nir_reference import ARITHMETICS
from spiketime.sim.registry import SIM_BACKENDS

DEFAULT_BACKENDS = next(f.default for f in fields(CompareConfig) if f.name == "backends")
NIR_BACKENDS = ("emulator",)  # a NIR reference is judged statistically: Lava's subset could
# not resolve the tolerance
_OWN = ("models", "data", "out", "backends", "levels")  # CompareConfig fields set otherwise


def model_spec(netx: str | os.PathLike, *, checkpoint: str | os.PathLike | None = None,
               factory: str | None = None, module: Any = None, nir: Any = None,
               nir_arithmetic: str = "float") -> ModelSpec:
    """One model, named as its NetX file's metadata names it (else the file's stem).
    `nir_arithmetic`: the NIR graph's reference, "float" (NIR's equations, judged by the
    statistics) or "chip" (the chip's integers, judged by spike identity)."""
    if nir_arithmetic not in ARITHMETICS:
        raise UserError(f"unknown NIR reference {nir_arithmetic!r}; choose "
                        f"{' or '.join(ARITHMETICS)}")
    netx = Path(netx)
    return ModelSpec(model_name(read_netx(netx).metadata, netx),
                     None if checkpoint is None else Path(checkpoint), netx,
                     factory=factory, nir=nir, module=module, nir_arithmetic=nir_arithmetic)


def report_models(report: str | os.PathLike, data: str | os.PathLike | None = None
                  ) -> tuple[tuple[ModelSpec, ...], Path]:
    """Every model a pipeline (or compare) report names, and its dataset (or `data`)."""
    models, named = models_from_report(report)
    return models, named if data is None else Path(data)


def config(models: tuple[ModelSpec, ...], data: str | os.PathLike, *,
           out: str | os.PathLike | None = None, backends: Any = None,
           **options: Any) -> CompareConfig:
    """A CompareConfig: CompareConfig's defaults but for the options given. `backends` is a
    list or a comma-separated string (default emulator,lava-cpu; with a NIR graph:
    emulator). With a NIR graph's float reference the simulators are judged statistically
    (exact=False); its chip reference is judged by spike identity, as a checkpoint is."""
    nir = any(m.nir is not None for m in models)
    if backends is None:
        backends = NIR_BACKENDS if nir else DEFAULT_BACKENDS
    elif isinstance(backends, str):
        backends = tuple(b.strip() for b in backends.split(",") if b.strip())
    known = [f.name for f in fields(CompareConfig) if f.name not in _OWN]
    unknown = sorted(set(options) - set(known) - set(FAMILIES))
    if unknown:
        raise UserError(f"unknown compare option {unknown[0]!r}; the options are "
                        f"{', '.join(known + list(FAMILIES))}")
    levels = {family: _levels(family, options.pop(family)) if family in options
              else DEFAULT_LEVELS.get(family, ()) for family in FAMILIES}  # timing: none
    if any(m.nir is not None and m.nir_arithmetic == "float" for m in models):
        options["exact"] = False
    return CompareConfig(models=tuple(models), data=Path(data),
                         out=None if out is None else Path(out), backends=tuple(backends),
                         levels=levels, **options)


def _levels(family: str, values: Any) -> tuple[float, ...]:
    """A family's levels, checked as the command's options check them."""
    try:
        levels = tuple(float(v) for v in ((values,) if isinstance(values, (int, float))
                                          else values))
    except (TypeError, ValueError):
        raise UserError(f"{family} must be numbers, got {values!r}") from None
    hi = PERTURBATIONS[family].max_level
    bad = [v for v in levels if not (0 <= v <= hi and v == v and v != float("inf"))]
    if bad:
        bound = "in [0, 1]" if hi == 1.0 else "finite and >= 0"
        raise UserError(f"{family} levels must be {bound}, got {bad[0]:g}")
    return levels


@dataclass(frozen=True)
class ComparisonReport:
    """What a comparison found: the verdict with its reasons, the rows, and the files."""

    report: CompareReport  # paths relative to config.out (or the working folder)
    config: CompareConfig
    raster: tuple  # the sample the raster plot shows
    layers: tuple[LayerAgreement, ...] = ()  # with a NIR graph: per-layer spike agreement
    layers_heading: str = ""

    @property
    def verdict(self) -> str:
        """"PASSED", "FAILED" or "INCONCLUSIVE" (`spiketime.parity.verdict`)."""
        return self.report.parity.decision.verdict

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    @property
    def reasons(self) -> tuple[str, ...]:
        """What failed, or why the evidence cannot decide (empty when PASSED)."""
        return self.report.parity.decision.reasons

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.report.parity.decision.warnings

    @property
    def rows(self) -> tuple[ConditionVerdict, ...]:
        """One per (model, condition, backend): accuracies, interval, spike-exact share."""
        return self.report.conditions

    @property
    def sensitivity(self) -> tuple[SensitivityVerdict, ...]:
        """One per (model, backend): the reversal sensitivity, trained vs deployed."""
        return self.report.sensitivity

    def files(self) -> tuple[str, ...]:
        """Every file `save` may write into its folder."""
        return REPORT_FILES + (LAYER_FILES if self.layers else ())

    def save(self, folder: str | os.PathLike) -> Path:
        """Write report.json, report.md and the plots (and layers.md / layers.json with a
        NIR graph) into `folder`, paths in them relative to it; return report.md's path.
        A failed write leaves nothing new in the folder."""
        out = guards.output_folder(folder, self.files(), "report folder")
        with guards.undo_on_failure(out):
            write_report(out, rebase(self.report, self.config, out), raster=self.raster)
            if self.layers:
                layer_agreement.write(out, self.layers, self.layers_heading)
        return out / "report.md"

    def lines(self, folder: str | os.PathLike | None = None) -> list[str]:
        """What `spiketime compare` prints above the verdict (the report saved in `folder`):
        one line per model and backend, and notes."""
        cfg, report = self.config, self.report
        nir = any(m.nir is not None for m in cfg.models)
        lines = []
        chip = nir and all(m.nir_arithmetic == "chip" for m in cfg.models)
        if chip:
            lines.append("NIR chip reference (the graph quantized and run in the chip's "
                         "integers) vs the deployment: every spike must be identical (the "
                         "'trained' side in the report is the NIR reference)")
        elif nir:
            lines.append("NIR float reference vs the integer deployment: spikes may differ by "
                         "the chip's rounding, so the statistics alone decide (the 'trained' "
                         "side in the report is the NIR reference)")
        if nir:
            where = Path(folder or ".") / "layers.md"
            lines.append(f"per-layer spike agreement ({where}):")
            lines.append(layer_agreement.table(self.layers))
        for s in report.sensitivity:
            mine = [e for e in report.conditions if e.model == s.model and e.backend == s.backend]
            ok = sum(e.verdict == "pass" for e in mine)
            within = sum(e.within_tolerance for e in mine)
            unresolved = sum(e.verdict == "inconclusive" for e in mine)
            lines.append(
                f"{s.model:>10} on {s.backend:<8} ({s.samples} samples): {within}/{len(mine)} "
                f"conditions within +/-{cfg.tolerance_pp:g} pp, {ok} pass"
                + (f", {unresolved} too few samples to tell" if unresolved else "")
                + "; reversal sensitivity trained "
                f"{100 * s.trained:+.1f} / deployed {100 * s.deployed:+.1f} pp"
                + ("" if s.verdict == "pass" else f" ({s.verdict.upper()})"))
        simulated = [e for e in report.conditions if e.backend in SIM_BACKENDS]
        inexact = [e for e in simulated if e.spike_exact_fraction < 1]
        if inexact and not cfg.exact and not nir:
            lines.append(f"note: output spikes differ from the trained model's in "
                         f"{len(inexact)} of {len(simulated)} simulator runs (spike-exact "
                         f"column); the simulators are bit-exact, so this deployment is not "
                         f"the trained network, whatever its accuracy")
        return lines


def compare(cfg: CompareConfig) -> ComparisonReport:
    """Run the comparison `cfg` describes; write and print nothing."""
    report, raster = run_compare(cfg)
    layers, heading = _layers(cfg) if any(m.nir is not None for m in cfg.models) else ((), "")
    return ComparisonReport(report, cfg, raster, layers, heading)


def _layers(cfg: CompareConfig) -> tuple[tuple[LayerAgreement, ...], str]:
    """The per-layer spike agreement of the NIR reference and the deployment (original
    inputs), and the heading layers.md gives it."""
    spec = cfg.models[0]
    ds = load_dataset(cfg.data)
    X = ds.splits()[cfg.split].X[:cfg.limit]
    rows = layer_agreement.nir_vs_netx(
        nir_reference(spec.nir, read_netx(spec.netx), ds, cfg.data, spec.nir_arithmetic),
        spec.netx, X)
    name = spec.nir if isinstance(spec.nir, (str, os.PathLike)) else "in memory"
    heading = (f"NIR {spec.nir_arithmetic} reference ({name}) vs {spec.netx} on the emulator, "
               f"{len(X)} {cfg.split} samples, original inputs.")
    return rows, heading
