"""A report's folder: report.json (`parity.reports`, the data) beside report.md and the
plots (`parity.render`, drawn from it); the grid's results.json, results.md and figures.

Here rather than in either module, so that reports never imports render: render reads
the typed reports, reports knows nothing of drawing.
"""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from spiketime.fileio import write_text
from spiketime.parity import render
from spiketime.parity.reports import ExperimentResults, Report


def write_report(out_dir: str | os.PathLike, report: Report,
                 raster: tuple | None = None) -> Report:
    """Write report.json, report.md and the plots into out_dir; return the report as written
    (with its plot names). Every name it may write is in `reports.REPORT_FILES`."""
    out = Path(out_dir)
    plots = render.plots(report, out, raster)
    report = replace(report, plots=tuple(p.name for p in plots))
    write_text(out / "report.json", json.dumps(report.to_dict(), indent=2) + "\n")
    write_text(out / "report.md", render.markdown(report))
    return report


def write_experiment_results(out: Path, results: ExperimentResults) -> list[Path]:
    """results.json, results.md and the figures, each written atomically."""
    paths = [out / "results.json", out / "results.md"]
    write_text(paths[0], json.dumps(results.to_dict(), indent=1) + "\n")
    figures = render.experiment_plots(out, results)
    write_text(paths[1], render.experiment_markdown(results, [p.name for p in figures]))
    return paths + figures
